// Command vmreport is the host side of `make vm-test`: it reads what vmassert wrote in the VM to
// windows-vm/out/ (per scenario: lineage.json, results.log with the scenario's own result-log lines,
// verdict.json; and daemon.json), re-checks the scenario's compile_lineage rows and pack rows with the same
// rules as the Go replay test, runs the correlator over the scenario's result lines with a roles file giving
// the VM each role in turn, and prints the final report: each scenario passed or failed, with the rows
// seen, and the daemon's health. It exits 1 when any scenario or the daemon failed.
//
//	go run ./windows-vm/cmd/vmreport --out windows-vm/out --scenarios windows-vm/scenarios --correlator build/correlator
package main

import (
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
	dirs, err := filepath.Glob(filepath.Join(c.scenarios, "*", "expected.json"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("no expected.json under %s", c.scenarios)
	}
	sort.Strings(dirs)
	failed := 0
	for _, path := range dirs {
		ok, err := checkScenario(c, path, stdout)
		if err != nil {
			return err
		}
		if !ok {
			failed++
		}
	}
	daemon, err := checkDaemon(c.out, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d passed, %d failed; daemon health: %d failure(s)\n", len(dirs)-failed, failed, daemon)
	if failed > 0 || daemon > 0 {
		return errFailed
	}
	return nil
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
func checkScenario(c config, expectedPath string, w io.Writer) (bool, error) {
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
	var rows []map[string]string
	if err := readJSON(filepath.Join(dir, "lineage.json"), &rows); err != nil {
		fails = append(fails, err.Error())
	}
	for i, want := range exp.Lineage {
		if idx, why := want.Match(rows); idx < 0 {
			fails = append(fails, fmt.Sprintf("lineage[%d] %s: no matching row: %s", i, want, strings.Join(why, "; ")))
		}
	}
	resultsPath := filepath.Join(dir, "results.log")
	lines, err := os.ReadFile(resultsPath)
	if err != nil {
		fails = append(fails, fmt.Sprintf("read %s: %v", resultsPath, err))
	}
	mine, err := expect.ParseResultLog(resultsPath, bytes.NewReader(lines))
	if err != nil {
		fails = append(fails, err.Error())
	}
	fails = append(fails, expect.CheckPack(exp, mine)...)

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

// checkDaemon prints the daemon health failures vmassert recorded (daemon.json) and returns their count;
// a missing daemon.json counts as one.
func checkDaemon(out string, w io.Writer) (int, error) {
	var d struct {
		Failures []string `json:"failures"`
	}
	if err := readJSON(filepath.Join(out, "daemon.json"), &d); err != nil {
		fmt.Fprintf(w, "FAIL daemon: %v\n", err)
		return 1, nil
	}
	for _, f := range d.Failures {
		fmt.Fprintf(w, "FAIL daemon: %s\n", f)
	}
	return len(d.Failures), nil
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
