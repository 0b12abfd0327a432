package vmassert

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/fixture"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/replaycheck"
)

const scenariosDir = "../../scenarios"

// stagger is how far apart the lab starts the scenarios in the overlap tests: each scenario's own
// events span at most 6.4 s, so no runner pid is reused while it runs, but the old attribution window
// [start-10 s, end+60 s] of every scenario covers its neighbours.
const stagger = 7 * time.Second

// lab is a replay of the named scenarios started stagger apart, as one daemon would buffer them, with
// the osquery-go client connected to the fake core's socket (what vmassert does in the VM), and the
// result-log lines every pack query would have written.
type lab struct {
	h      *replay.Harness
	client *osquery.ExtensionManagerClient
	since  int64
	log    []byte
	exps   []*expect.Expected
}

func startLab(t *testing.T, names []string, extra ...string) *lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	byName := map[string]fixture.Scenario{}
	for _, sc := range fixture.Scenarios() {
		byName[sc.Name] = sc
	}
	base := time.Date(2026, time.November, 21, 9, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	var paths []string
	for i, n := range names {
		sc, ok := byName[n]
		if !ok {
			t.Fatalf("no fixture definition for %s", n)
		}
		data, err := sc.Events(base.Add(time.Duration(i) * stagger)).JSONL()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, n+".jsonl")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	fx, err := replay.LoadFixtures(append(paths, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close harness: %v", err)
		}
	})
	client, err := osquery.NewClient(h.Socket(), 5*time.Second, osquery.MaxWaitTime(time.Minute))
	if err != nil {
		t.Fatalf("osquery-go client on %s: %v", h.Socket(), err)
	}
	t.Cleanup(func() { client.Close() })
	queries, err := replaycheck.LoadPackQueries(filepath.Join("..", "..", "..", "packs"),
		"compile_after_delivery.conf", "compile_after_delivery_fallback.conf")
	if err != nil {
		t.Fatal(err)
	}
	_, lines, err := replaycheck.RunPackQueries(ctx, h, queries, replaycheck.VM)
	if err != nil {
		t.Fatal(err)
	}
	exps, err := LoadExpected(scenariosDir, names)
	if err != nil {
		t.Fatal(err)
	}
	return &lab{h: h, client: client, since: base.Unix() - 60, log: lines, exps: exps}
}

func (l *lab) querier() Querier { return WithTimeout(l.client, time.Minute) }

func allScenarioNames() []string {
	var names []string
	for _, sc := range fixture.Scenarios() {
		names = append(names, sc.Name)
	}
	return names
}

// windowRows is the attribution the PowerShell assertions used: every row whose compile time lies in
// [start-10 s, end+60 s] of the scenario's run.
func windowRows(rows []map[string]string, start, end int64) []map[string]string {
	var out []map[string]string
	for _, r := range rows {
		t, err := strconv.ParseInt(r["time"], 10, 64)
		if err == nil && t >= start-10 && t <= end+60 {
			out = append(out, r)
		}
	}
	return out
}

// TestOverlappingScenarios runs every scenario 7 s after the previous one in one daemon and checks each
// through the osquery-go client against the harness: each scenario gets exactly its own rows and passes.
// The time-window attribution it replaces gives the scenarios each other's rows.
func TestOverlappingScenarios(t *testing.T) {
	names := allScenarioNames()
	l := startLab(t, names)
	ctx := context.Background()
	snap, err := TakeSnapshot(ctx, l.querier(), l.since)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := ReadResultLog("packs", l.log)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	base := time.Date(2026, time.November, 21, 9, 0, 0, 0, time.UTC).Unix()
	foreign := 0
	for i, e := range l.exps {
		out := Check(e, snap, lines, "")
		if !out.Verdict.Passed {
			t.Errorf("%s failed with every scenario overlapping:\n  %v\n  rows %v", e.Scenario, out.Verdict.Failures, out.Verdict.Rows)
		}
		if len(out.Lineage) != len(e.Lineage) {
			t.Errorf("%s: %d rows attributed, want its own %d: %v", e.Scenario, len(out.Lineage), len(e.Lineage), out.Verdict.Rows)
		}
		if out.Verdict.Processes < 2 {
			t.Errorf("%s: runner tree holds %d processes", e.Scenario, out.Verdict.Processes)
		}
		for _, r := range out.Lineage {
			if prev, ok := owner[r["lineage_id"]]; ok {
				t.Errorf("row %s claimed by %s and %s", expect.Describe(r), prev, e.Scenario)
			}
			owner[r["lineage_id"]] = e.Scenario
		}
		if len(out.Lines) == 0 {
			t.Errorf("%s: no result-log line attributed", e.Scenario)
		}
		// The old window: this scenario's run started at base+i*stagger and ended within 7 s.
		start := base + int64(i)*int64(stagger/time.Second)
		if w := windowRows(snap.Lineage, start, start+7); len(w) > len(e.Lineage) {
			foreign++
		}
	}
	if len(owner) != len(snap.Lineage) {
		t.Errorf("%d of %d compile_lineage rows attributed to a scenario", len(owner), len(snap.Lineage))
	}
	if foreign < len(l.exps)-1 {
		t.Errorf("the time window took foreign rows in only %d of %d scenarios: the overlap test does not overlap", foreign, len(l.exps))
	}
}

// TestRunWritesEveryScenario runs the whole in-VM check against the harness: per-scenario files, a flat
// lineage.json, a scenario that did not run failing alone, and the report and the log copy written.
func TestRunWritesEveryScenario(t *testing.T) {
	names := []string{"attack_wmic_msbuild_inline", "benign_build_agent_system", "attack_wscript_csc"}
	l := startLab(t, names, filepath.Join("testdata", "schedule_ok.json"))
	dir := t.TempDir()
	logPath := filepath.Join(dir, "osqueryd.results.log")
	if err := os.WriteFile(logPath, l.log, 0o600); err != nil {
		t.Fatal(err)
	}
	daemonLog := filepath.Join(dir, "osqueryd.INFO")
	if err := os.WriteFile(daemonLog, []byte("I1121 09:00:01.000000  4242 events.cpp:100] Event publisher windows_event_log started\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, n := range []string{"attack_wmic_msbuild_inline", "benign_build_agent_system"} {
		if err := os.MkdirAll(filepath.Join(out, n), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, n, RunStatusFile), []byte("ok\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// attack_wscript_csc has no run.txt: its run threw before writing one.
	err := Run(context.Background(), Config{Scenarios: scenariosDir, Out: out, ResultsLog: logPath,
		DaemonLogs: []string{daemonLog, filepath.Join(dir, "osqueryd.WARNING")}, Names: names, Since: l.since,
		PackWait: 0}, l.querier())
	if err != ErrFailed {
		t.Fatalf("Run = %v, want ErrFailed (one scenario did not run)", err)
	}
	report, rerr := os.ReadFile(filepath.Join(out, "report.txt"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, want := range []string{
		"PASS attack_wmic_msbuild_inline (2 rows",
		"PASS benign_build_agent_system (2 rows",
		"FAIL attack_wscript_csc (1 rows",
		"fail  run failed: no run.txt",
		"2 passed, 1 failed; daemon health: 0 failure(s)",
	} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	for _, n := range names {
		var rows []map[string]string
		if err := readJSONFile(filepath.Join(out, n, "lineage.json"), &rows); err != nil {
			t.Fatalf("%s: lineage.json is not a flat array of rows: %v", n, err)
		}
		if len(rows) == 0 || rows[0]["compiler_name"] == "" {
			t.Errorf("%s: lineage.json rows %v", n, rows)
		}
		var v Verdict
		if err := readJSONFile(filepath.Join(out, n, "verdict.json"), &v); err != nil {
			t.Fatal(err)
		}
		if v.Scenario != n {
			t.Errorf("verdict.json scenario %q, want %q", v.Scenario, n)
		}
		res, err := os.ReadFile(filepath.Join(out, n, "results.log"))
		if err != nil {
			t.Fatal(err)
		}
		lines, err := ReadResultLog(n, res)
		if err != nil || len(lines) == 0 {
			t.Errorf("%s: results.log %d lines, %v", n, len(lines), err)
		}
	}
	copied, err := os.ReadFile(filepath.Join(out, "osqueryd.results.log"))
	if err != nil || !bytes.Equal(copied, l.log) {
		t.Errorf("result log copy: %d bytes, %v; want %d bytes", len(copied), err, len(l.log))
	}
}

// TestRunReportsDenylistedQueries: a query osquery denylisted and a watchdog kill in osqueryd's log
// fail the run even when every scenario passes.
func TestRunReportsDenylistedQueries(t *testing.T) {
	names := []string{"benign_developer_build"}
	l := startLab(t, names, filepath.Join("testdata", "schedule_denylisted.json"))
	dir := t.TempDir()
	logPath := filepath.Join(dir, "osqueryd.results.log")
	if err := os.WriteFile(logPath, l.log, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, names[0]), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, names[0], RunStatusFile), []byte("ok"), 0o600); err != nil {
		t.Fatal(err)
	}
	// glog repeats warnings in osqueryd.WARNING: reported once.
	warning := filepath.Join(dir, "osqueryd.WARNING")
	if err := os.WriteFile(warning, []byte("W1121 09:04:12.512070  5120 watcher.cpp:451] osqueryd worker (6100) stopping: Memory limits exceeded: 310181888\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Config{Scenarios: scenariosDir, Out: out, ResultsLog: logPath,
		DaemonLogs: []string{filepath.Join("testdata", "osqueryd.INFO"), warning}, Names: names, Since: l.since}, l.querier())
	if err != ErrFailed {
		t.Fatalf("Run = %v, want ErrFailed", err)
	}
	report, _ := os.ReadFile(filepath.Join(out, "report.txt"))
	for _, want := range []string{
		"PASS benign_developer_build",
		"FAIL daemon: scheduled query pack_compile_after_delivery_compile_baseline is denylisted (osquery_schedule.denylisted=1, 3 executions)",
		"watchdog: W1121 09:04:12.512070  5120 watcher.cpp:451] osqueryd worker (6100) stopping: Memory limits exceeded: 310181888",
		"1 passed, 0 failed; daemon health: 3 failure(s)",
	} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestPostChecksAndExtension(t *testing.T) {
	l := startLab(t, []string{"attack_regsvr32_vbc"}, filepath.Join("testdata", "services.json"))
	ctx := context.Background()
	version, missing, err := ExtensionState(ctx, l.querier(), "compile_lineage", []string{"compile_lineage", "compile_telemetry"})
	if err != nil || version == "" || len(missing) != 0 {
		t.Fatalf("ExtensionState = %q, %v, %v; want registered with both tables", version, missing, err)
	}
	if v, _, err := ExtensionState(ctx, l.querier(), "other_ext", nil); err != nil || v != "" {
		t.Errorf("unknown extension: %q, %v", v, err)
	}
	fails, notes, err := PostChecks(ctx, l.querier())
	if err != nil {
		t.Fatal(err)
	}
	// The harness serves no osquery_packs rows and only the Sysmon channel, so exactly these fail.
	want := []string{
		"event subscriber process_etw_events is not active in osquery_events",
		"event subscriber ntfs_journal_events is not active in osquery_events",
		"pack compile_after_delivery is not loaded",
		"pack compile_after_delivery_fallback is not loaded",
	}
	if len(fails) != len(want) {
		t.Fatalf("post checks failures %q, want %q", fails, want)
	}
	for i := range want {
		if fails[i] != want[i] {
			t.Errorf("failure %d = %q, want %q", i, fails[i], want[i])
		}
	}
	if len(notes) == 0 {
		t.Error("no compile_telemetry notes")
	}
}
