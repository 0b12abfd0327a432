package tables

import (
	"strings"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
)

// TestMatchingRows checks which rows a generate keeps for the constraints osquery passed: equality on text
// columns filters (all of them at once), anything else is left to SQLite.
func TestMatchingRows(t *testing.T) {
	rows := []map[string]string{
		{"lineage_id": "a", "stage": "written", "executions": "1"},
		{"lineage_id": "b", "stage": "network", "executions": "1"},
		{"lineage_id": "c", "stage": "Written", "executions": "2"},
	}
	text := func(op table.Operator, v string) table.ConstraintList {
		return table.ConstraintList{Affinity: table.ColumnTypeText, Constraints: []table.Constraint{{Operator: op, Expression: v}}}
	}
	for _, c := range []struct {
		name string
		cons map[string]table.ConstraintList
		want string
	}{
		{"none", nil, "a,b,c"},
		{"text equality", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "written")}, "a"},
		{"case matters as in SQLite", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "WRITTEN")}, ""},
		{"two columns", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "network"),
			"lineage_id": text(table.OperatorEquals, "b")}, "b"},
		{"missing column", map[string]table.ConstraintList{"reasons": text(table.OperatorEquals, "x")}, ""},
		{"LIKE left to SQLite", map[string]table.ConstraintList{"stage": text(table.OperatorLike, "w%")}, "a,b,c"},
		{"number left to SQLite", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "123")}, "a,b,c"},
		{"integer left to SQLite", map[string]table.ConstraintList{"executions": {Affinity: table.ColumnTypeInteger,
			Constraints: []table.Constraint{{Operator: table.OperatorEquals, Expression: "1.0"}}}}, "a,b,c"},
	} {
		var ids []string
		for _, r := range matchingRows(rows, table.QueryContext{Constraints: c.cons}) {
			ids = append(ids, r["lineage_id"])
		}
		if got := strings.Join(ids, ","); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
