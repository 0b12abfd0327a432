package tables_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/extension/serve"
	"github.com/compilelineage/compile-lineage/tables"
)

func startIndexed(tb testing.TB, path string, plugins serve.PluginsFunc) *replay.Harness {
	tb.Helper()
	fx, err := replay.LoadFixtures(path)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Plugins: plugins})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func lineageIDs(rows []map[string]string) string {
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r["lineage_id"]+"@"+r["stage"])
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// TestOneLineageComputationPerStatement reproduces osquery's --extensions_default_index: an IN list on a
// compile_lineage column makes osquery call generate once per value and a join once per outer row. The
// statement cache makes each such statement cost one computation (counted as the core queries the
// extension sends), with the rows of the plain query.
func TestOneLineageComputationPerStatement(t *testing.T) {
	path, compiles := syntheticLinux(t, 2000, 4000, 1000, 0.01)
	ctx := context.Background()
	const plain = "SELECT lineage_id, stage FROM compile_lineage"
	cases := []struct {
		name, sql string
		generates int64
		// rowsPerPlain is how many times the plain query's rows the generates return in all: each call of the
		// IN list carries only the rows of its stage; the join is on compiler_name, not a closed-vocabulary
		// column, so both its calls (the outer scan and one per compiler name, here one) carry every row.
		rowsPerPlain int64
	}{
		{"in_list", plain + " WHERE stage IN ('compile', 'written', 'executed', 'network')", 4, 1},
		{"join", "SELECT c.lineage_id, c.stage FROM (SELECT DISTINCT compiler_name AS n FROM compile_lineage) AS x " +
			"CROSS JOIN compile_lineage AS c ON c.compiler_name = x.n", -1, 2},
	}
	for _, variant := range []struct {
		name    string
		plugins serve.PluginsFunc
	}{{"cached", nil}, {"uncached", tables.UncachedPlugins}} {
		h := startIndexed(t, path, variant.plugins)
		h.ResetStats()
		want, err := h.Query(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		base := h.Stats()
		if len(want) != compiles || base.Generates != 1 {
			t.Fatalf("%s plain: %d rows, %d generates", variant.name, len(want), base.Generates)
		}
		for _, c := range cases {
			time.Sleep(1100 * time.Millisecond) // a new statement
			h.ResetStats()
			rows, err := h.Query(ctx, c.sql)
			if err != nil {
				t.Fatal(err)
			}
			st := h.Stats()
			if lineageIDs(rows) != lineageIDs(want) {
				t.Errorf("%s %s: rows differ from the plain query", variant.name, c.name)
			}
			if c.generates > 0 && st.Generates != c.generates || st.Generates < 2 {
				t.Errorf("%s %s: %d generates, want %d (one per IN value or outer row, as osquery)", variant.name, c.name, st.Generates, c.generates)
			}
			if st.GeneratedRows != c.rowsPerPlain*base.GeneratedRows {
				t.Errorf("%s %s: generates returned %d rows, want %d x %d", variant.name, c.name, st.GeneratedRows, c.rowsPerPlain, base.GeneratedRows)
			}
			computations := st.Queries / base.Queries
			wantComp := int64(1)
			if variant.plugins != nil {
				wantComp = st.Generates
			}
			t.Logf("%s %s: %d generates, %d core queries (plain query: %d) = %d lineage computations",
				variant.name, c.name, st.Generates, st.Queries, base.Queries, computations)
			if st.Queries != wantComp*base.Queries {
				t.Errorf("%s %s: %d core queries, want %d x %d", variant.name, c.name, st.Queries, wantComp, base.Queries)
			}
		}
	}
}

// BenchmarkStageINList compares `WHERE stage IN (...)` with the plain query on the same buffer.
func BenchmarkStageINList(b *testing.B) {
	path, compiles := syntheticLinux(b, 10_000, 20_000, 5_000, 0.005)
	ctx := context.Background()
	for _, variant := range []struct {
		name    string
		plugins serve.PluginsFunc
	}{{"cached", nil}, {"uncached", tables.UncachedPlugins}} {
		h := startIndexed(b, path, variant.plugins)
		for _, q := range []struct{ name, sql string }{
			{"plain", "SELECT lineage_id, stage FROM compile_lineage"},
			{"in_list", "SELECT lineage_id, stage FROM compile_lineage WHERE stage IN ('compile', 'written', 'executed', 'network')"},
		} {
			b.Run(variant.name+"/"+q.name, func(b *testing.B) {
				h.ResetStats()
				for b.Loop() {
					rows, err := h.Query(ctx, q.sql)
					if err != nil {
						b.Fatal(err)
					}
					if len(rows) != compiles {
						b.Fatalf("%d rows, want %d", len(rows), compiles)
					}
					// Statements arrive apart in practice; make each one a statement of its own.
					b.StopTimer()
					time.Sleep(time.Second + 10*time.Millisecond)
					b.StartTimer()
				}
				st := h.Stats()
				b.ReportMetric(float64(st.Generates)/float64(b.N), "generates/op")
				b.ReportMetric(float64(st.Queries)/float64(b.N), "core_queries/op")
				b.ReportMetric(float64(st.GeneratedRows)/float64(b.N), "generated_rows/op")
			})
		}
	}
}
