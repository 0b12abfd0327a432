// Command vmreport is the host side of `make vm-test`: it reads what the VM copied to windows-vm/out/
// (per scenario: run.json, lineage.json, verdict.json; and osqueryd.results.log), re-checks the daemon's
// compile_lineage rows and the pack rows with the same rules as the Go replay test, runs the correlator over
// each scenario's result lines with a roles file giving the VM each role in turn, and prints the final
// report: each scenario passed or failed, with the rows seen. It exits 1 when any scenario failed.
//
//	go run ./windows-vm/cmd/vmreport --out windows-vm/out --scenarios windows-vm/scenarios --correlator build/correlator
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vmreport:", err)
		os.Exit(1)
	}
}

var errFailed = errors.New("at least one scenario failed")

type config struct {
	out, scenarios, correlator, hostname string
	timeout                              time.Duration
}

func run(args []string, stdout io.Writer) error {
	var c config
	fs := flag.NewFlagSet("vmreport", flag.ContinueOnError)
	fs.StringVar(&c.out, "out", "windows-vm/out", "folder the VM wrote (synced C:\\lineage\\vm\\out)")
	fs.StringVar(&c.scenarios, "scenarios", "windows-vm/scenarios", "scenario folders with expected.json")
	fs.StringVar(&c.correlator, "correlator", "build/correlator", "correlator binary (make build)")
	fs.StringVar(&c.hostname, "hostname", "cl-win", "the VM's hostname in the result log decorations")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "limit for each correlator run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := filepath.Join(c.out, "osqueryd.results.log")
	raw, err := os.ReadFile(log)
	if err != nil {
		return fmt.Errorf("read %s: %w (run the scenarios in the VM first)", log, err)
	}
	all, err := expect.ParseResultLog(log, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	dirs, err := filepath.Glob(filepath.Join(c.scenarios, "*", "expected.json"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("no expected.json under %s", c.scenarios)
	}
	sort.Strings(dirs)
	failed := 0
	for _, path := range dirs {
		ok, err := checkScenario(c, path, raw, all, stdout)
		if err != nil {
			return err
		}
		if !ok {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(dirs)-failed, failed)
	if failed > 0 {
		return errFailed
	}
	return nil
}

type runInfo struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

type verdict struct {
	Passed   bool     `json:"passed"`
	Rows     []string `json:"rows"`
	Failures []string `json:"failures"`
	Known    []string `json:"known"`
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// checkScenario prints one scenario's block of the report and reports whether it passed.
func checkScenario(c config, expectedPath string, rawLog []byte, all []expect.ResultRow, w io.Writer) (bool, error) {
	data, err := os.ReadFile(expectedPath)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", expectedPath, err)
	}
	exp, err := expect.Parse(expectedPath, data)
	if err != nil {
		return false, err
	}
	dir := filepath.Join(c.out, exp.Scenario)
	var fails []string
	var v verdict
	if err := readJSON(filepath.Join(dir, "verdict.json"), &v); err != nil {
		fails = append(fails, "no VM verdict: "+err.Error())
	}
	for _, f := range v.Failures {
		fails = append(fails, "vm: "+f)
	}
	var info runInfo
	var rows []map[string]string
	if err := readJSON(filepath.Join(dir, "run.json"), &info); err != nil {
		fails = append(fails, err.Error())
	} else if err := readJSON(filepath.Join(dir, "lineage.json"), &rows); err != nil {
		fails = append(fails, err.Error())
	}
	for i, want := range exp.Lineage {
		if idx, why := want.Match(rows); idx < 0 {
			fails = append(fails, fmt.Sprintf("lineage[%d] %s: no matching row: %s", i, want, strings.Join(why, "; ")))
		}
	}
	from, to := info.Start-10, info.End+60
	var mine []expect.ResultRow
	for _, r := range all {
		if inWindow(r.Columns, from, to) {
			mine = append(mine, r)
		}
	}
	fails = append(fails, expect.CheckPack(exp, mine)...)

	lines := scenarioLines(rawLog, from, to)
	byRole := map[string][]expect.Alert{}
	var scores []string
	for _, role := range expect.Roles {
		alerts, err := scoreAs(c, lines, role)
		if err != nil {
			fails = append(fails, err.Error())
			continue
		}
		byRole[role] = alerts
		scores = append(scores, fmt.Sprintf("%s=%.1f", role, expect.TopScore(alerts)))
	}
	fails = append(fails, expect.CheckCorrelator(exp, byRole)...)

	unexpected, known, stale := expect.Triage(fails, exp.KnownFailures)
	for _, k := range stale {
		unexpected = append(unexpected, fmt.Sprintf("known failure %q no longer happens: remove it from expected.json", k.Match))
	}
	state := "PASS"
	if len(unexpected) > 0 {
		state = "FAIL"
	}
	fmt.Fprintf(w, "%s %s (%d rows; top score per role: %s)\n", state, exp.Scenario, len(rows), strings.Join(scores, " "))
	for _, r := range rows {
		fmt.Fprintf(w, "    row   %s\n", expect.Describe(r))
	}
	for _, f := range unexpected {
		fmt.Fprintf(w, "    fail  %s\n", f)
	}
	for _, k := range known {
		fmt.Fprintf(w, "    known %s\n", k)
	}
	return len(unexpected) == 0, nil
}

func inWindow(cols map[string]string, from, to int64) bool {
	t, err := strconv.ParseInt(cols["time"], 10, 64)
	return err == nil && t >= from && t <= to
}

// scenarioLines keeps the result-log lines whose row's compile time falls in the scenario's window.
func scenarioLines(raw []byte, from, to int64) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var l struct {
			Columns map[string]any `json:"columns"`
		}
		if json.Unmarshal(line, &l) != nil || l.Columns == nil {
			continue
		}
		t, _ := l.Columns["time"].(string)
		if inWindow(map[string]string{"time": t}, from, to) {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// scoreAs runs `correlator score --all` over lines with a roles file giving the VM role.
func scoreAs(c config, lines []byte, role string) ([]expect.Alert, error) {
	tmp, err := os.MkdirTemp("", "vmreport-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	logPath := filepath.Join(tmp, "results.log")
	rolesPath := filepath.Join(tmp, "roles.csv")
	if err := os.WriteFile(logPath, lines, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", logPath, err)
	}
	if err := os.WriteFile(rolesPath, []byte("host,role\n"+c.hostname+","+role+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", rolesPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, c.correlator, "score", "--all", "--quiet", "--roles", rolesPath, logPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("correlator as %s: %w: %s", role, err, strings.TrimSpace(stderr.String()))
	}
	return expect.ParseAlerts("correlator as "+role, &stdout)
}
