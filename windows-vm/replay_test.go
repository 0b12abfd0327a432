package windowsvm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/replaycheck"
)

// packFiles are the packs the VM loads (provision/osquery.conf).
var packFiles = []string{"compile_after_delivery.conf", "compile_after_delivery_fallback.conf"}

// TestScenarioReplay replays each scenario's Sysmon fixture through the osquery-like harness with the
// real extension and checks, against the same expected.json the VM uses: the compile_lineage rows,
// compile_telemetry, the rows every query of both packs would log, and the correlator's verdict per role.
func TestScenarioReplay(t *testing.T) {
	scenarios := loadScenarios(t)
	queries, err := replaycheck.LoadPackQueries(filepath.Join("..", "packs"), packFiles...)
	if err != nil {
		t.Fatal(err)
	}
	correlator := filepath.Join(t.TempDir(), "correlator")
	correlatorErr := replaycheck.BuildCorrelator("..", correlator)

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			fixture := filepath.Join(sc.dir, "fixture.jsonl")
			fx, err := replay.LoadFixtures(fixture)
			if err != nil {
				t.Fatalf("load %s: %v", fixture, err)
			}
			h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
			if err != nil {
				t.Fatalf("start replay for %s: %v", fixture, err)
			}
			defer func() {
				if err := h.Close(); err != nil {
					t.Errorf("close replay: %v", err)
				}
			}()

			rows, err := h.Query(ctx, "SELECT * FROM compile_lineage")
			if err != nil && strings.Contains(err.Error(), "no such table") {
				t.Skipf("compile_lineage is not registered by the extension yet (%v): nothing to check", err)
			}
			if err != nil {
				t.Fatalf("query compile_lineage: %v", err)
			}
			var fails []string
			defer func() { report(t, sc.exp, fails) }()
			for i, want := range sc.exp.Lineage {
				if idx, why := want.Match(rows); idx < 0 {
					fails = append(fails, fmt.Sprintf("lineage[%d] %s: no matching row:\n  %s", i, want, strings.Join(why, "\n  ")))
				}
			}
			for _, r := range rows {
				t.Logf("row: %s", expect.Describe(r))
			}

			tel, err := h.Query(ctx, "SELECT signal, source_table, status, used FROM compile_telemetry")
			if err != nil {
				t.Fatalf("query compile_telemetry: %v", err)
			}
			fails = append(fails, expect.CheckTelemetry(sc.exp, tel)...)

			results, lines, err := replaycheck.RunPackQueries(ctx, h, queries, replaycheck.VM)
			if err != nil {
				t.Fatalf("packs in the replay: %v", err)
			}
			fails = append(fails, expect.CheckPack(sc.exp, results)...)

			if correlatorErr != nil {
				t.Skipf("correlator not checked: %v", correlatorErr)
			}
			log := filepath.Join(t.TempDir(), "osqueryd.results.log")
			if err := os.WriteFile(log, lines, 0o600); err != nil {
				t.Fatalf("write %s: %v", log, err)
			}
			byRole := map[string][]expect.Alert{}
			for _, role := range expect.Roles {
				alerts, err := replaycheck.ScoreAs(ctx, correlator, log, replaycheck.VM, role)
				if err != nil {
					t.Fatalf("correlator as %s: %v", role, err)
				}
				byRole[role] = alerts
				t.Logf("as %-21s top score %5.1f, %d lineage(s) scored", role, expect.TopScore(alerts), len(alerts))
			}
			fails = append(fails, expect.CheckCorrelator(sc.exp, byRole)...)
		})
	}
}

// report fails the test on unexpected failures and on known failures that no longer happen.
func report(t *testing.T, exp *expect.Expected, fails []string) {
	t.Helper()
	unexpected, known, stale := expect.Triage(fails, exp.KnownFailures)
	for _, f := range known {
		t.Logf("KNOWN FAILURE: %s", f)
	}
	for _, f := range unexpected {
		t.Error(f)
	}
	for _, k := range stale {
		t.Errorf("known failure %q no longer happens: remove it from %s/expected.json", k.Match, exp.Scenario)
	}
}

type scenario struct {
	name string
	dir  string
	exp  *expect.Expected
}

func loadScenarios(t *testing.T) []scenario {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("scenarios", "*"))
	if err != nil {
		t.Fatalf("glob scenarios: %v", err)
	}
	var out []scenario
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		path := filepath.Join(d, "expected.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		exp, err := expect.Parse(path, data)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if exp.Scenario != filepath.Base(d) {
			t.Fatalf("%s: scenario %q does not match its folder", path, exp.Scenario)
		}
		out = append(out, scenario{name: exp.Scenario, dir: d, exp: exp})
	}
	if len(out) < 8 {
		t.Fatalf("found %d scenarios under scenarios/, want at least 8", len(out))
	}
	return out
}
