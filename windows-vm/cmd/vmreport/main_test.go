package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/replaycheck"
)

// vmOut builds the folder the VM would copy out for the named scenarios, from their fixtures replayed
// through the extension: per scenario run.json, lineage.json and a passing verdict.json, and one shared
// osqueryd.results.log holding every scenario's pack rows (as on the VM).
func vmOut(t *testing.T, names ...string) string {
	t.Helper()
	out := t.TempDir()
	queries, err := replaycheck.LoadPackQueries(filepath.Join("..", "..", "..", "packs"),
		"compile_after_delivery.conf", "compile_after_delivery_fallback.conf")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	for _, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		fx, err := replay.LoadFixtures(filepath.Join("..", "..", "scenarios", name, "fixture.jsonl"))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		rows, err := h.Query(ctx, "SELECT * FROM compile_lineage")
		if err != nil {
			t.Fatalf("%s: query compile_lineage: %v", name, err)
		}
		_, lines, err := replaycheck.RunPackQueries(ctx, h, queries, replaycheck.VM)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := h.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		cancel()
		log.Write(lines)
		start, end := int64(math.MaxInt64), int64(0)
		for _, r := range rows {
			ts, err := strconv.ParseInt(r["time"], 10, 64)
			if err != nil {
				t.Fatalf("%s: row time %q: %v", name, r["time"], err)
			}
			start, end = min(start, ts), max(end, ts)
		}
		dir := filepath.Join(out, name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		writeJSON(t, filepath.Join(dir, "run.json"), map[string]any{"scenario": name, "start": start - 2, "end": end + 10})
		writeJSON(t, filepath.Join(dir, "lineage.json"), rows)
		writeJSON(t, filepath.Join(dir, "verdict.json"), map[string]any{"scenario": name, "passed": true})
	}
	if err := os.WriteFile(filepath.Join(out, "osqueryd.results.log"), log.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
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
			"\n3 passed, 0 failed\n",
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
		for _, want := range []string{"FAIL attack_mshta_csc_exec_net", `stage="network" want "executed"`, "\n2 passed, 1 failed\n"} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q:\n%s", want, report)
			}
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
