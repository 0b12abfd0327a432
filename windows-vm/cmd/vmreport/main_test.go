package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/replaycheck"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/vmassert"
)

// vmOut builds the folder the VM would copy out for the named scenarios: their fixtures replayed in one
// harness, the packs' result lines as osqueryd would log them, and vmassert's whole in-VM check run
// against the harness through osquery-go's client, as `vmassert check` does in the VM.
func vmOut(t *testing.T, names ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	queries, err := replaycheck.LoadPackQueries(filepath.Join("..", "..", "..", "packs"),
		"compile_after_delivery.conf", "compile_after_delivery_fallback.conf")
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join("..", "..", "internal", "vmassert", "testdata", "schedule_ok.json")}
	for _, name := range names {
		paths = append(paths, filepath.Join("..", "..", "scenarios", name, "fixture.jsonl"))
	}
	fx, err := replay.LoadFixtures(paths...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, lines, err := replaycheck.RunPackQueries(ctx, h, queries, replaycheck.VM)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "osqueryd.results.log")
	if err := os.WriteFile(logPath, lines, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, name := range names {
		if err := os.MkdirAll(filepath.Join(out, name), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name, vmassert.RunStatusFile), []byte("ok\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	client, err := osquery.NewClient(h.Socket(), 5*time.Second, osquery.MaxWaitTime(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	err = vmassert.Run(ctx, vmassert.Config{Scenarios: filepath.Join("..", "..", "scenarios"), Out: out,
		ResultsLog: logPath, Names: names, Since: 1}, vmassert.WithTimeout(client, time.Minute))
	if err != nil {
		report, _ := os.ReadFile(filepath.Join(out, "report.txt"))
		t.Fatalf("vmassert: %v\n%s", err, report)
	}
	return out
}

// scenarioSubset copies the named scenarios' expected.json into a temp scenarios folder.
func scenarioSubset(t *testing.T, edit func(name string, data []byte) []byte, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("..", "..", "scenarios", n, "expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, n), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "expected.json"), edit(n, data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReport(t *testing.T) {
	names := []string{"attack_mshta_csc_exec_net", "attack_wmic_msbuild_inline", "benign_build_agent_system"}
	out := vmOut(t, names...)
	correlator := filepath.Join(t.TempDir(), "correlator")
	if err := replaycheck.BuildCorrelator(filepath.Join("..", "..", ".."), correlator); err != nil {
		t.Skipf("correlator does not build, report not checked: %v", err)
	}
	keep := func(_ string, b []byte) []byte { return b }

	t.Run("all pass", func(t *testing.T) {
		var buf bytes.Buffer
		err := run([]string{"--out", out, "--scenarios", scenarioSubset(t, keep, names...), "--correlator", correlator}, &buf)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, buf.String())
		}
		report := buf.String()
		for _, want := range []string{
			"PASS attack_mshta_csc_exec_net (1 rows;",
			`row   csc.exe<-mshta.exe class=script_host stage=network`,
			"PASS attack_wmic_msbuild_inline (2 rows;",
			"PASS benign_build_agent_system (2 rows;",
			"\n3 passed, 0 failed; daemon health: 0 failure(s)\n",
		} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q:\n%s", want, report)
			}
		}
	})

	t.Run("wrong expectation fails", func(t *testing.T) {
		edit := func(n string, b []byte) []byte {
			if n == "attack_mshta_csc_exec_net" {
				return bytes.Replace(b, []byte(`"stage": "network"`), []byte(`"stage": "executed"`), 1)
			}
			return b
		}
		var buf bytes.Buffer
		err := run([]string{"--out", out, "--scenarios", scenarioSubset(t, edit, names...), "--correlator", correlator}, &buf)
		if !errors.Is(err, errFailed) {
			t.Fatalf("run error %v, want errFailed\n%s", err, buf.String())
		}
		report := buf.String()
		for _, want := range []string{"FAIL attack_mshta_csc_exec_net", `stage="network" want "executed"`, "\n2 passed, 1 failed; daemon health: 0 failure(s)\n"} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q:\n%s", want, report)
			}
		}
	})

	t.Run("nested lineage.json fails clearly", func(t *testing.T) {
		// What `return , $rows` in the old PowerShell made ConvertTo-Json write: one array holding the array.
		path := filepath.Join(out, "attack_wmic_msbuild_inline", "lineage.json")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, good, 0o600)
		if err := os.WriteFile(path, append(append([]byte("["), good...), ']'), 0o600); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		err = run([]string{"--out", out, "--scenarios", scenarioSubset(t, keep, names...), "--correlator", correlator}, &buf)
		if !errors.Is(err, errFailed) || !strings.Contains(buf.String(), "FAIL attack_wmic_msbuild_inline") ||
			!strings.Contains(buf.String(), "parse "+path) {
			t.Fatalf("run error %v, report:\n%s", err, buf.String())
		}
	})

	t.Run("daemon failure fails the run", func(t *testing.T) {
		path := filepath.Join(out, "daemon.json")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, good, 0o600)
		if err := os.WriteFile(path, []byte(`{"failures":["scheduled query pack_x is denylisted (osquery_schedule.denylisted=1, 2 executions)"]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		err = run([]string{"--out", out, "--scenarios", scenarioSubset(t, keep, names...), "--correlator", correlator}, &buf)
		if !errors.Is(err, errFailed) || !strings.Contains(buf.String(), "FAIL daemon: scheduled query pack_x is denylisted") ||
			!strings.Contains(buf.String(), "3 passed, 0 failed; daemon health: 1 failure(s)") {
			t.Fatalf("run error %v, report:\n%s", err, buf.String())
		}
	})

	t.Run("missing VM output fails", func(t *testing.T) {
		if err := os.Remove(filepath.Join(out, "benign_build_agent_system", "verdict.json")); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		err := run([]string{"--out", out, "--scenarios", scenarioSubset(t, keep, names...), "--correlator", correlator}, &buf)
		if !errors.Is(err, errFailed) || !strings.Contains(buf.String(), "FAIL benign_build_agent_system") ||
			!strings.Contains(buf.String(), "no VM verdict") {
			t.Fatalf("run error %v, report:\n%s", err, buf.String())
		}
	})
}
