package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
	"modernc.org/sqlite/vtab"
)

// Every osquery table is a virtual table in osquery itself; the harness does the same so that hidden columns
// stay out of SELECT * and extension tables see real constraints.

// memTable serves rows held in memory (fixture rows or rows computed per scan).
type memTable struct {
	name string
	cols []Column
	// rows returns the rows for one scan, one value per column (nil = NULL).
	rows func() [][]any
	// timeCol is the index of `time` in an evented table whose rows are sorted by it, else -1.
	// osquery's event subscribers read only the requested time range from their store
	// (EventSubscriber::get(start, stop)); the harness answers time constraints the same way.
	timeCol int
}

// declareSQL returns the CREATE TABLE statement for sqlite3_declare_vtab.
func declareSQL(name string, cols []string, types []string, hidden []bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s(", quoteIdent(name))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
		b.WriteByte(' ')
		b.WriteString(strings.ReplaceAll(types[i], "_", " "))
		if hidden[i] {
			b.WriteString(" HIDDEN")
		}
	}
	b.WriteByte(')')
	return b.String()
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// typedValue converts an osquery string value to the SQLite value of its column type, like osquery's xColumn:
// numeric columns get integers/reals, empty or unparsable numbers are NULL.
func typedValue(typ, s string, present bool) any {
	if !present {
		return nil
	}
	switch strings.ReplaceAll(typ, " ", "_") {
	case "INTEGER", "BIGINT", "UNSIGNED_BIGINT":
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v
		}
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return int64(v)
		}
		return nil
	case "DOUBLE":
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v
		}
		return nil
	}
	return s
}

// fixtureModule creates memTables by name.
type fixtureModule struct {
	tables map[string]*memTable
}

func (m *fixtureModule) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return m.Connect(ctx, args)
}

func (m *fixtureModule) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	if len(args) < 3 {
		return nil, errors.New("fixture table without a name")
	}
	t, ok := m.tables[args[2]]
	if !ok {
		return nil, fmt.Errorf("no table %s", args[2])
	}
	names := make([]string, len(t.cols))
	types := make([]string, len(t.cols))
	hidden := make([]bool, len(t.cols))
	for i, c := range t.cols {
		names[i], types[i], hidden[i] = c.Name, c.Type, c.Hidden
	}
	if err := ctx.Declare(declareSQL(t.name, names, types, hidden)); err != nil {
		return nil, fmt.Errorf("declare %s: %w", t.name, err)
	}
	return t, nil
}

// BestIndex scans everything (SQLite filters) but, like osquery, notes whether a required column is constrained.
func (t *memTable) BestIndex(info *vtab.IndexInfo) error {
	info.EstimatedCost = maxIndexCost
	info.EstimatedRows = maxIndexCost
	required := false
	for _, c := range t.cols {
		required = required || c.Required
	}
	if !required {
		return t.timeIndex(info)
	}
	info.IdxNum = 1 // required column not constrained
	for _, c := range info.Constraints {
		if !c.Usable || c.Column < 0 || c.Column >= len(t.cols) || !t.cols[c.Column].Required {
			continue
		}
		if _, ok := osqueryOps[c.Op]; !ok {
			continue
		}
		if t.cols[c.Column].Type == "TEXT" && (c.Op == vtab.OpGT || c.Op == vtab.OpGE || c.Op == vtab.OpLT || c.Op == vtab.OpLE) {
			continue
		}
		info.IdxNum = 0
		info.EstimatedCost = 1
	}
	return nil
}

// timeIndex passes time constraints of an evented table to Filter (plan 2).
func (t *memTable) timeIndex(info *vtab.IndexInfo) error {
	if t.timeCol < 0 {
		return nil
	}
	var ops []string
	for i, c := range info.Constraints {
		if !c.Usable || c.Column != t.timeCol {
			continue
		}
		switch c.Op {
		case vtab.OpEQ, vtab.OpGT, vtab.OpGE, vtab.OpLT, vtab.OpLE:
			info.Constraints[i].ArgIndex = len(ops)
			info.Constraints[i].Omit = false // SQLite filters again, as with osquery
			ops = append(ops, strconv.Itoa(int(c.Op)))
		}
	}
	if len(ops) > 0 {
		info.IdxNum = 2
		info.IdxStr = strings.Join(ops, ",")
		info.EstimatedCost = maxIndexCost / 100
	}
	return nil
}

// timeRange narrows rows sorted by time to the bounds of a plan made by timeIndex.
func (t *memTable) timeRange(rows [][]any, idxStr string, vals []vtab.Value) [][]any {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	for i, op := range strings.Split(idxStr, ",") {
		if i >= len(vals) {
			break
		}
		var v int64
		switch x := vals[i].(type) {
		case int64:
			v = x
		case float64:
			v = int64(x)
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				continue // not a number: SQLite filters it
			}
			v = n
		default:
			continue
		}
		switch o, _ := strconv.Atoi(op); vtab.ConstraintOp(o) {
		case vtab.OpEQ:
			lo, hi = max(lo, v), min(hi, v)
		case vtab.OpGT:
			lo = max(lo, v+1)
		case vtab.OpGE:
			lo = max(lo, v)
		case vtab.OpLT:
			hi = min(hi, v-1)
		case vtab.OpLE:
			hi = min(hi, v)
		}
	}
	at := func(i int) int64 {
		if v, ok := rows[i][t.timeCol].(int64); ok {
			return v
		}
		return math.MinInt64
	}
	start := sort.Search(len(rows), func(i int) bool { return at(i) >= lo })
	end := sort.Search(len(rows), func(i int) bool { return at(i) > hi })
	return rows[start:max(start, end)]
}

func (t *memTable) Open() (vtab.Cursor, error) { return &memCursor{t: t}, nil }
func (t *memTable) Disconnect() error          { return nil }
func (t *memTable) Destroy() error             { return nil }

type memCursor struct {
	t    *memTable
	rows [][]any
	i    int
}

func (c *memCursor) Filter(idxNum int, idxStr string, vals []vtab.Value) error {
	if idxNum == 1 {
		return fmt.Errorf("%s: constraint failed: table %s was queried without a required column in the WHERE clause",
			c.t.name, c.t.name)
	}
	c.rows = c.t.rows()
	if idxNum == 2 {
		c.rows = c.t.timeRange(c.rows, idxStr, vals)
	}
	c.i = 0
	return nil
}
func (c *memCursor) Next() error  { c.i++; return nil }
func (c *memCursor) Eof() bool    { return c.i >= len(c.rows) }
func (c *memCursor) Close() error { c.rows = nil; return nil }
func (c *memCursor) Column(col int) (vtab.Value, error) {
	if col < 0 || col >= len(c.rows[c.i]) {
		return nil, nil
	}
	return c.rows[c.i][col], nil
}
func (c *memCursor) Rowid() (int64, error) { return int64(c.i), nil }

// extModule exposes the tables an extension registered; every scan calls the extension over Thrift.
type extModule struct {
	h *Harness
}

func (m *extModule) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return m.Connect(ctx, args)
}

func (m *extModule) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	if len(args) < 3 {
		return nil, errors.New("extension table without a name")
	}
	name := args[2]
	_, cols, ok := m.h.core.extensionTable(name)
	if !ok {
		return nil, fmt.Errorf("no extension registered table %s", name)
	}
	names := make([]string, len(cols))
	types := make([]string, len(cols))
	hidden := make([]bool, len(cols))
	for i, c := range cols {
		names[i], types[i], hidden[i] = c.Name, c.Type, c.Op&opHidden != 0
	}
	if err := ctx.Declare(declareSQL(name, names, types, hidden)); err != nil {
		return nil, fmt.Errorf("declare %s: %w", name, err)
	}
	return &extTable{h: m.h, name: name, cols: cols}, nil
}

type extTable struct {
	h    *Harness
	name string
	cols []routeColumn
}

// osqueryOps maps SQLite's constraint operators to the codes osquery sends (SQLITE_INDEX_CONSTRAINT_*, as in
// osquery/core/tables.h ConstraintOperator). Operators without a right-hand value are not listed.
var osqueryOps = map[vtab.ConstraintOp]int{
	vtab.OpEQ: 2, vtab.OpGT: 4, vtab.OpLE: 8, vtab.OpLT: 16, vtab.OpGE: 32,
	vtab.OpMATCH: 64, vtab.OpLIKE: 65, vtab.OpGLOB: 66, vtab.OpREGEXP: 67, vtab.OpNE: 68, vtab.OpISNOT: 69,
	vtab.OpIS: 72,
}

// osquery's kMaxIndexCost.
const maxIndexCost = 1000000

// plan is what BestIndex hands to Filter through IdxStr.
type plan struct {
	Cols    []int  `json:"c"`
	Ops     []int  `json:"o"`
	ColUsed uint64 `json:"u"`
}

// BestIndex follows osquery's xBestIndex (osquery/sql/virtual_table.cpp): only constraints on columns marked
// required, index or additional are passed to the table; range comparisons on TEXT columns never are; SQLite
// filters everything again.
func (t *extTable) BestIndex(info *vtab.IndexInfo) error {
	p := plan{ColUsed: info.ColUsed}
	cost := float64(maxIndexCost)
	hasRequiredConstraint := false
	arg := 0
	for i, c := range info.Constraints {
		if !c.Usable || c.Column < 0 || c.Column >= len(t.cols) {
			continue
		}
		op, ok := osqueryOps[c.Op]
		if !ok {
			continue
		}
		col := t.cols[c.Column]
		if strings.EqualFold(col.Type, "TEXT") && (op == 4 || op == 8 || op == 16 || op == 32) {
			cost += 10
			continue
		}
		switch {
		case col.Op&opRequired != 0:
			hasRequiredConstraint = true
			cost = 1
		case col.Op&(opIndex|opAdditional) != 0:
			cost = 1
		default:
			continue // not indexed: SQLite filters it
		}
		info.Constraints[i].ArgIndex = arg
		info.Constraints[i].Omit = false
		arg++
		p.Cols = append(p.Cols, c.Column)
		p.Ops = append(p.Ops, op)
	}
	for i, col := range t.cols {
		if colUsed(info.ColUsed, i) && col.Op&opRequired != 0 && !hasRequiredConstraint {
			cost = maxIndexCost
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	info.IdxStr = string(b)
	info.EstimatedCost = cost
	return nil
}

func colUsed(used uint64, i int) bool {
	if i >= 63 {
		i = 63
	}
	return used&(1<<uint(i)) != 0
}

func (t *extTable) Open() (vtab.Cursor, error) { return &extCursor{t: t}, nil }
func (t *extTable) Disconnect() error          { return nil }
func (t *extTable) Destroy() error             { return nil }

type extCursor struct {
	t    *extTable
	rows []map[string]string
	i    int
}

// queryContext is the JSON osquery sends as the "context" of a generate call
// (TablePlugin::setRequestFromContext): every column of the table, sorted by name, with its constraint list.
type queryContext struct {
	Constraints    []constraintList `json:"constraints"`
	ColsUsed       []string         `json:"colsUsed"`
	ColsUsedBitset uint64           `json:"colsUsedBitset"`
}

type constraintList struct {
	Name     string       `json:"name"`
	List     []constraint `json:"list"`
	Affinity string       `json:"affinity"`
}

type constraint struct {
	Op   int    `json:"op"`
	Expr string `json:"expr"`
}

func (c *extCursor) Filter(idxNum int, idxStr string, vals []vtab.Value) error {
	var p plan
	if idxStr != "" {
		if err := json.Unmarshal([]byte(idxStr), &p); err != nil {
			return fmt.Errorf("%s: bad plan: %w", c.t.name, err)
		}
	}
	byName := map[string]*constraintList{}
	names := make([]string, 0, len(c.t.cols))
	requiredCol := false
	for _, col := range c.t.cols {
		if _, dup := byName[col.Name]; !dup {
			names = append(names, col.Name)
		}
		byName[col.Name] = &constraintList{Name: col.Name, Affinity: col.Type, List: []constraint{}}
		if col.Op&opRequired != 0 {
			requiredCol = true
		}
	}
	requiredOK := !requiredCol
	for i, ci := range p.Cols {
		col := c.t.cols[ci]
		if col.Op&opRequired != 0 {
			requiredOK = true
		}
		if i >= len(vals) {
			continue
		}
		expr := exprString(vals[i])
		if expr == "" { // osquery skips values SQLite renders as NULL or ""
			continue
		}
		byName[col.Name].List = append(byName[col.Name].List, constraint{Op: p.Ops[i], Expr: expr})
	}
	if !requiredOK {
		return fmt.Errorf("%s: constraint failed: table %s was queried without a required column in the WHERE clause",
			c.t.name, c.t.name)
	}
	sort.Strings(names)
	qc := queryContext{ColsUsedBitset: p.ColUsed, ColsUsed: []string{}}
	for _, n := range names {
		qc.Constraints = append(qc.Constraints, *byName[n])
	}
	for i, col := range c.t.cols {
		if colUsed(p.ColUsed, i) {
			qc.ColsUsed = append(qc.ColsUsed, col.Name)
		}
	}
	ctxJSON, err := json.Marshal(qc)
	if err != nil {
		return err
	}
	rows, err := c.t.h.generate(c.t.name, string(ctxJSON))
	if err != nil {
		return err
	}
	c.rows = rows
	c.i = 0
	return nil
}

// exprString renders a constraint value like sqlite3_value_text.
func exprString(v vtab.Value) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', 15, 64)
		if !strings.ContainsAny(s, ".eEnN") {
			s += ".0"
		}
		return s
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func (c *extCursor) Next() error  { c.i++; return nil }
func (c *extCursor) Eof() bool    { return c.i >= len(c.rows) }
func (c *extCursor) Close() error { c.rows = nil; return nil }
func (c *extCursor) Column(col int) (vtab.Value, error) {
	if col < 0 || col >= len(c.t.cols) {
		return nil, nil
	}
	rc := c.t.cols[col]
	v, ok := c.rows[c.i][rc.Name]
	return typedValue(rc.Type, v, ok), nil
}
func (c *extCursor) Rowid() (int64, error) { return int64(c.i), nil }

// extClients pools Thrift clients to extension sockets; a generate call may nest inside another one (a table
// that queries another extension table), so each call takes its own connection.
type extClients struct {
	mu     sync.Mutex
	free   map[string][]*extClient
	all    []*extClient
	closed bool
}

type extClient struct {
	sock   string
	trans  *thrift.TSocket
	client *gen.ExtensionClient
}

func (p *extClients) get(sock string, timeout time.Duration) (*extClient, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("harness closed")
	}
	if l := p.free[sock]; len(l) > 0 {
		c := l[len(l)-1]
		p.free[sock] = l[:len(l)-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	trans, err := dialExtension(sock, timeout)
	if err != nil {
		return nil, fmt.Errorf("connect to extension at %s: %w", sock, err)
	}
	c := &extClient{sock: sock, trans: trans,
		client: gen.NewExtensionClientFactory(trans, thrift.NewTBinaryProtocolFactoryConf(nil))}
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

// dialExtension connects to an extension's socket. osquery-go's transport.Open polls for a unix socket every
// 200 ms before dialing; the harness already waited for the socket, so it dials at once.
func dialExtension(sock string, timeout time.Duration) (*thrift.TSocket, error) {
	if runtime.GOOS == "windows" {
		return transport.Open(sock, timeout)
	}
	addr, err := net.ResolveUnixAddr("unix", sock)
	if err != nil {
		return nil, err
	}
	trans := thrift.NewTSocketFromAddrConf(addr, &thrift.TConfiguration{ConnectTimeout: timeout, SocketTimeout: timeout})
	if err := trans.Open(); err != nil {
		return nil, err
	}
	return trans, nil
}

// waitForSocket waits until a unix socket file exists (named pipes are waited for by the dial).
func waitForSocket(ctx context.Context, sock string, timeout time.Duration) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("extension socket %s did not appear within %v", sock, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (p *extClients) put(c *extClient, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if broken || p.closed {
		c.trans.Close()
		return
	}
	if p.free == nil {
		p.free = map[string][]*extClient{}
	}
	p.free[c.sock] = append(p.free[c.sock], c)
}

func (p *extClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.all {
		c.trans.Close()
	}
	p.all, p.free = nil, nil
}

// generate asks the extension that owns table for its rows, like osquery's core does.
func (h *Harness) generate(table, ctxJSON string) ([]map[string]string, error) {
	uuid, _, ok := h.core.extensionTable(table)
	if !ok {
		return nil, fmt.Errorf("%s: the extension that registered it is gone", table)
	}
	sock := fmt.Sprintf("%s.%d", h.sock, uuid)
	c, err := h.clients.get(sock, h.timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.callTimeout)
	defer cancel()
	resp, err := c.client.Call(ctx, "table", table, gen.ExtensionPluginRequest{"action": "generate", "context": ctxJSON})
	h.clients.put(c, err != nil)
	if err != nil {
		return nil, fmt.Errorf("%s: extension call: %w", table, err)
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("%s: extension returned no status", table)
	}
	if resp.Status.Code != 0 {
		return nil, fmt.Errorf("%s: %s", table, resp.Status.Message)
	}
	return resp.Response, nil
}
