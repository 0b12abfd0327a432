package windowsvm

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// TestAllScenariosTogether replays every fixture in one harness, as the VM's daemon sees them after
// `make vm-test` (one event buffer; the runner's pid 4100 reused by every scenario, told apart only by
// ProcessGuid and time), and checks each scenario's expected rows still match and no row is claimed twice.
func TestAllScenariosTogether(t *testing.T) {
	scenarios := loadScenarios(t)
	var paths []string
	for _, sc := range scenarios {
		paths = append(paths, filepath.Join(sc.dir, "fixture.jsonl"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fx, err := replay.LoadFixtures(paths...)
	if err != nil {
		t.Fatalf("load fixtures: %v", err)
	}
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatalf("start replay: %v", err)
	}
	defer func() {
		if err := h.Close(); err != nil {
			t.Errorf("close replay: %v", err)
		}
	}()
	rows, err := h.Query(ctx, "SELECT * FROM compile_lineage")
	if err != nil {
		t.Fatalf("query compile_lineage: %v", err)
	}
	want := 0
	for _, sc := range scenarios {
		want += len(sc.exp.Lineage)
	}
	if len(rows) != want {
		for _, r := range rows {
			t.Logf("row: %s", expect.Describe(r))
		}
		t.Fatalf("%d compile_lineage rows over all fixtures, want %d (one per expected row)", len(rows), want)
	}
	claimed := map[int]string{}
	for _, sc := range scenarios {
		for i, w := range sc.exp.Lineage {
			idx, why := w.Match(rows)
			if idx < 0 {
				t.Errorf("%s lineage[%d] %s: no matching row with all scenarios loaded:\n  %s", sc.name, i, w, strings.Join(why, "\n  "))
				continue
			}
			// Rows are matched in order: the next expected row of another scenario must not take the same one.
			key := fmt.Sprintf("%s lineage[%d]", sc.name, i)
			if prev, ok := claimed[idx]; ok {
				t.Errorf("%s and %s match the same row %s", prev, key, expect.Describe(rows[idx]))
			}
			claimed[idx] = key
		}
	}
}

// BenchmarkAllScenariosQuery measures one `SELECT * FROM compile_lineage` over the events of every
// scenario (171 Sysmon events), through the fake core, Thrift and the extension.
func BenchmarkAllScenariosQuery(b *testing.B) {
	paths, err := filepath.Glob(filepath.Join("scenarios", "*", "fixture.jsonl"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no fixtures: %v", err)
	}
	ctx := context.Background()
	fx, err := replay.LoadFixtures(paths...)
	if err != nil {
		b.Fatalf("load fixtures: %v", err)
	}
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
	if err != nil {
		b.Fatalf("start replay: %v", err)
	}
	defer h.Close()
	for b.Loop() {
		rows, err := h.Query(ctx, "SELECT * FROM compile_lineage")
		if err != nil {
			b.Fatalf("query: %v", err)
		}
		if len(rows) == 0 {
			b.Fatal("no rows")
		}
	}
}
