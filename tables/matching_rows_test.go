package tables

import (
	"strings"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
)

// TestMatchingRows checks which rows a generate keeps for the constraints osquery passed: equality on the
// closed-vocabulary columns filters, ignoring case (all of them at once); anything else is left to SQLite.
func TestMatchingRows(t *testing.T) {
	rows := []map[string]string{
		{"lineage_id": "a", "stage": "written", "platform": "linux", "executions": "1"},
		{"lineage_id": "b", "stage": "network", "platform": "linux", "executions": "1"},
		{"lineage_id": "c", "stage": "written", "platform": "windows", "executions": "2"},
		{"lineage_id": "d", "platform": "linux"},
	}
	text := func(op table.Operator, v string) table.ConstraintList {
		return table.ConstraintList{Affinity: table.ColumnTypeText, Constraints: []table.Constraint{{Operator: op, Expression: v}}}
	}
	for _, c := range []struct {
		name string
		cons map[string]table.ConstraintList
		want string
	}{
		{"none", nil, "a,b,c,d"},
		{"stage", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "written")}, "a,c"},
		{"case ignored (NOCASE joins)", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "WRITTEN")}, "a,c"},
		{"two columns", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "written"),
			"platform": text(table.OperatorEquals, "windows")}, "c"},
		{"row without the column", map[string]table.ConstraintList{"stage": text(table.OperatorEquals, "network")}, "b"},
		{"open column left to SQLite", map[string]table.ConstraintList{"lineage_id": text(table.OperatorEquals, "a")}, "a,b,c,d"},
		{"LIKE left to SQLite", map[string]table.ConstraintList{"stage": text(table.OperatorLike, "w%")}, "a,b,c,d"},
		{"integer left to SQLite", map[string]table.ConstraintList{"executions": {Affinity: table.ColumnTypeInteger,
			Constraints: []table.Constraint{{Operator: table.OperatorEquals, Expression: "1"}}}}, "a,b,c,d"},
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
