package tables

import (
	"strconv"
	"strings"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
)

func TestTimeBounds(t *testing.T) {
	c := func(op table.Operator, expr string) table.Constraint {
		return table.Constraint{Operator: op, Expression: expr}
	}
	tests := []struct {
		name     string
		cons     []table.Constraint
		from, to int64
	}{
		{"none: default window", nil, 100, 0},
		{"greater than", []table.Constraint{c(table.OperatorGreaterThan, "500")}, 500, 0},
		{"range", []table.Constraint{c(table.OperatorGreaterThanOrEquals, "500"), c(table.OperatorLessThan, "900")}, 500, 900},
		{"two lower bounds keep the tighter", []table.Constraint{c(table.OperatorGreaterThan, "500"), c(table.OperatorGreaterThan, "700")}, 700, 0},
		{"equals", []table.Constraint{c(table.OperatorEquals, "600")}, 600, 600},
		{"upper bound alone reads the whole buffer before it", []table.Constraint{c(table.OperatorLessThanOrEquals, "900")}, 0, 900},
		{"not a number is left to osquery", []table.Constraint{c(table.OperatorGreaterThan, "abc")}, 100, 0},
		{"LIKE is left to osquery", []table.Constraint{c(table.OperatorLike, "5%")}, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qc := table.QueryContext{Constraints: map[string]table.ConstraintList{}}
			if tt.cons != nil {
				qc.Constraints["time"] = table.ConstraintList{Affinity: table.ColumnTypeBigInt, Constraints: tt.cons}
			}
			from, to := timeBounds(qc, 100)
			if from != tt.from || to != tt.to {
				t.Fatalf("timeBounds = %d, %d; want %d, %d", from, to, tt.from, tt.to)
			}
		})
	}
}

// FuzzTimeBounds: the bounds only ever come from the default, from 0 (no lower bound) or from
// a constraint's own number; nothing else can widen or invent a range.
func FuzzTimeBounds(f *testing.F) {
	f.Add(32, "1764000000", 16, "1764003600")
	f.Add(2, "-1", 4, "9223372036854775807")
	f.Add(8, " 12 ", 65, "%")
	f.Fuzz(func(t *testing.T, op1 int, e1 string, op2 int, e2 string) {
		qc := table.QueryContext{Constraints: map[string]table.ConstraintList{"time": {Constraints: []table.Constraint{
			{Operator: table.Operator(op1), Expression: e1}, {Operator: table.Operator(op2), Expression: e2}}}}}
		from, to := timeBounds(qc, 100)
		allowed := map[int64]bool{0: true, 100: true}
		for _, e := range []string{e1, e2} {
			if v, err := strconv.ParseInt(strings.TrimSpace(e), 10, 64); err == nil {
				allowed[v] = true
			}
		}
		if !allowed[from] || !allowed[to] {
			t.Fatalf("bounds %d, %d not taken from %q / %q", from, to, e1, e2)
		}
	})
}
