package tables

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/osquery/osquery-go/plugin/table"
)

// osquery (--extensions_default_index, default true) makes every default-option column of an extension
// table an INDEX column, so a constraint on any compile_lineage column reaches generate, and SQLite calls
// generate once per value of an IN list (`stage IN ('written', 'executed')`) and once per outer row of a join.
// osquery sends no statement id, so statementCache stands for one: the rows of a generate are reused by the
// next generate that has the same `time` constraints (the only constraints the computation reads; SQLite
// filters on the others) and the same table clock, if it comes within statementIdle of the previous one on
// the wall clock. The generates of one statement come back to back, so one statement costs one lineage
// computation, and a later statement computes afresh.
type statementCache struct {
	mu      sync.Mutex // held across a computation: a concurrent generate with the same key waits for it
	key     string
	now     time.Time // table clock of the computation
	used    time.Time // wall clock of the last use
	rows    []map[string]string
	wall    func() time.Time
	idleFor time.Duration
}

// statementIdle is how long after a generate the next one still counts as the same statement.
const statementIdle = time.Second

func newStatementCache() *statementCache {
	return &statementCache{wall: time.Now, idleFor: statementIdle}
}

// do returns the cached rows for key at table time now, or computes them with f. The rows are shared: callers
// must not modify them.
func (c *statementCache) do(key string, now time.Time, f func() ([]map[string]string, error)) ([]map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := c.wall()
	if c.rows != nil && c.key == key && now.Sub(c.now) < time.Second && c.now.Sub(now) < time.Second &&
		wall.Sub(c.used) < c.idleFor {
		c.used = wall
		return c.rows, nil
	}
	rows, err := f()
	if err != nil {
		c.rows = nil
		return nil, err
	}
	if rows == nil {
		rows = []map[string]string{}
	}
	c.key, c.now, c.used, c.rows = key, now, c.wall(), rows
	return rows, nil
}

// timeKey is the canonical form of the `time` constraints of a query context.
func timeKey(qc table.QueryContext) string {
	cl, ok := qc.Constraints["time"]
	if !ok {
		return ""
	}
	parts := make([]string, 0, len(cl.Constraints))
	for _, c := range cl.Constraints {
		parts = append(parts, string(rune('0'+int(c.Operator)))+strings.TrimSpace(c.Expression))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x00")
}
