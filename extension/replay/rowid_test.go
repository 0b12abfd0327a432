package replay

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/compilelineage/compile-lineage/tables"
)

// indexedPlugins is an extension table that answers its index constraints as osquery tables do: only the
// rows matching every equality constraint.
func indexedPlugins(_ hclog.Logger, _ tables.Querier, _ tables.Options) []osquery.OsqueryPlugin {
	rows := []map[string]string{{"id": "a", "v": "x"}, {"id": "b", "v": "y"}, {"id": "c", "v": "z"}}
	return []osquery.OsqueryPlugin{table.NewPlugin("test_indexed",
		[]table.ColumnDefinition{table.TextColumn("id"), table.TextColumn("v")},
		func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
			var out []map[string]string
			for _, r := range rows {
				ok := true
				for col, cl := range qc.Constraints {
					for _, c := range cl.Constraints {
						if c.Operator == table.OperatorEquals && r[col] != c.Expression {
							ok = false
						}
					}
				}
				if ok {
					out = append(out, r)
				}
			}
			return out, nil
		})}
}

// TestRowidPositionsCollide reproduces osquery's xRowid (the row's position in the current result): for an OR
// of two indexed branches SQLite's multi-index OR plan scans each branch and drops a row whose rowid an
// earlier branch returned, so `id = 'a' OR v = 'y'` loses b (position 0 in both branches). UNION ALL of the
// branches loses nothing. osquery's own tables with index or additional columns are WITHOUT ROWID and tell
// rows apart by their key, so an OR over an event table loses no distinct row.
func TestRowidPositionsCollide(t *testing.T) {
	ctx := context.Background()
	h := startWith(t, `{"process_events": [
		{"pid": "1", "path": "/bin/a", "time": "100"}, {"pid": "2", "path": "/bin/b", "time": "200"},
		{"pid": "3", "path": "/bin/c", "time": "300"}]}`, indexedPlugins)
	ids := func(sql string) string {
		t.Helper()
		rows, err := h.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r["id"]+r["pid"])
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ sql, want string }{
		{"SELECT id FROM test_indexed WHERE id = 'a' OR v = 'y'", "a"},
		{"SELECT id FROM test_indexed WHERE id = 'a' UNION ALL SELECT id FROM test_indexed WHERE v = 'y'", "a,b"},
		{"SELECT pid FROM process_events WHERE (time <= 150 AND path = '/bin/a') OR (time >= 250 AND path = '/bin/c')", "1,3"},
		{"SELECT pid FROM process_events WHERE time = 100 OR time = 300", "1,3"},
		// One time-bounded scan whose branches test their own range on +time (kept from xBestIndex).
		{"SELECT pid FROM process_events WHERE time >= 0 AND ((path = '/bin/a' AND +time <= 150) OR (path = '/bin/c' AND +time >= 250) OR (pid = 3))", "1,3"},
	} {
		if got := ids(c.sql); got != c.want {
			t.Errorf("%s = %q, want %q", c.sql, got, c.want)
		}
	}
}
