package vmassert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// Config is where `vmassert check` reads and writes.
type Config struct {
	Scenarios  string   // folder of scenario folders with expected.json
	Out        string   // output folder (synced to the host as windows-vm/out)
	ResultsLog string   // osqueryd.results.log
	DaemonLogs []string // osqueryd.INFO / osqueryd.WARNING / osqueryd.ERROR (missing files are skipped)
	Names      []string // scenarios to check (empty: every scenario folder)
	Since      int64    // unix time the run started: the Sysmon process starts read begin here
	PackWait   time.Duration
	Poll       time.Duration
	Logger     hclog.Logger
}

// RunStatusFile is the file assert/Invoke-AllScenarios.ps1 writes per scenario: "ok", or why the run
// failed.
const RunStatusFile = "run.txt"

// ErrFailed is returned when a scenario or the daemon's health check failed (the report says which).
var ErrFailed = errors.New("at least one check failed")

// LoadExpected reads the named scenarios' expected.json (every scenario folder when names is empty),
// sorted by name.
func LoadExpected(dir string, names []string) ([]*expect.Expected, error) {
	if len(names) == 0 {
		paths, err := filepath.Glob(filepath.Join(dir, "*", "expected.json"))
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", dir, err)
		}
		for _, p := range paths {
			names = append(names, filepath.Base(filepath.Dir(p)))
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no scenario under %s", dir)
	}
	sort.Strings(names)
	var out []*expect.Expected
	for _, n := range names {
		path := filepath.Join(dir, n, "expected.json")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		e, err := expect.Parse(path, data)
		if err != nil {
			return nil, err
		}
		if e.Scenario != n {
			return nil, fmt.Errorf("%s: scenario %q does not match its folder", path, e.Scenario)
		}
		out = append(out, e)
	}
	return out, nil
}

// readLog reads the result log; a missing log is empty (nothing was logged yet).
func readLog(path string) ([]LogLine, []byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	lines, err := ReadResultLog(path, data)
	return lines, data, err
}

// Run checks every scenario and the daemon and writes, under c.Out: osqueryd.results.log (a copy, written
// first so a later failure cannot lose it), per scenario lineage.json, telemetry.json, results.log (its
// own result-log lines) and verdict.json, daemon.json, and report.txt. It returns ErrFailed when any check
// failed; other errors mean the checks could not run.
func Run(ctx context.Context, c Config, q Querier) error {
	log := c.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	exps, err := LoadExpected(c.Scenarios, c.Names)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Out, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", c.Out, err)
	}
	copyLog := func() error {
		_, raw, err := readLog(c.ResultsLog)
		if err != nil {
			return err
		}
		return writeFile(filepath.Join(c.Out, "osqueryd.results.log"), raw)
	}
	if err := copyLog(); err != nil {
		return err
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	deadline := time.Now().Add(c.PackWait)
	var snap *Snapshot
	var lines []LogLine
	for {
		if lines, _, err = readLog(c.ResultsLog); err != nil {
			return err
		}
		if snap, err = TakeSnapshot(ctx, q, c.Since); err != nil {
			return err
		}
		var pending []string
		for _, e := range exps {
			pending = append(pending, PackPending(e, snap, lines)...)
		}
		if len(pending) == 0 || !time.Now().Before(deadline) {
			break
		}
		log.Info("waiting for scheduled queries", "pending", len(pending), "first", pending[0])
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
	if err := copyLog(); err != nil {
		return err
	}
	var report bytes.Buffer
	failed := 0
	for _, e := range exps {
		dir := filepath.Join(c.Out, e.Scenario)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		out := Check(e, snap, lines, runStatus(dir))
		if err := writeScenario(dir, out, snap.Telemetry); err != nil {
			return err
		}
		if !out.Verdict.Passed {
			failed++
		}
		WriteVerdict(&report, out.Verdict)
	}
	logs := map[string][]byte{}
	for _, p := range c.DaemonLogs {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		logs[p] = data
	}
	health, err := DaemonHealth(ctx, q, logs)
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(c.Out, "daemon.json"), map[string]any{"failures": nonNil(health)}); err != nil {
		return err
	}
	for _, f := range health {
		fmt.Fprintf(&report, "FAIL daemon: %s\n", f)
	}
	fmt.Fprintf(&report, "%d passed, %d failed; daemon health: %d failure(s)\n", len(exps)-failed, failed, len(health))
	if err := writeFile(filepath.Join(c.Out, "report.txt"), report.Bytes()); err != nil {
		return err
	}
	if failed > 0 || len(health) > 0 {
		return ErrFailed
	}
	return nil
}

// runStatus reads run.txt: "" when the scenario ran, else why not.
func runStatus(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, RunStatusFile))
	if err != nil {
		return "no " + RunStatusFile + " from assert/Invoke-AllScenarios.ps1: the scenario was not run"
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(data), "\ufeff"))
	if s == "ok" {
		return ""
	}
	if s == "" {
		return "empty " + RunStatusFile
	}
	return s
}

// WriteVerdict appends a scenario's block to the report.
func WriteVerdict(w *bytes.Buffer, v Verdict) {
	state := "PASS"
	if !v.Passed {
		state = "FAIL"
	}
	fmt.Fprintf(w, "%s %s (%d rows, %d processes from its runner)\n", state, v.Scenario, len(v.Rows), v.Processes)
	for _, r := range v.Rows {
		fmt.Fprintf(w, "    row   %s\n", r)
	}
	for _, f := range v.Failures {
		fmt.Fprintf(w, "    fail  %s\n", f)
	}
	for _, k := range v.Known {
		fmt.Fprintf(w, "    known %s\n", k)
	}
}

func writeScenario(dir string, out Outcome, telemetry []map[string]string) error {
	if err := writeJSON(filepath.Join(dir, "lineage.json"), nonNilRows(out.Lineage)); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "telemetry.json"), nonNilRows(telemetry)); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, l := range out.Lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := writeFile(filepath.Join(dir, "results.log"), buf.Bytes()); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "verdict.json"), out.Verdict)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilRows(r []map[string]string) []map[string]string {
	if r == nil {
		return []map[string]string{}
	}
	return r
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes through a temp file and a rename, 0600, so the host never reads half a file.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
