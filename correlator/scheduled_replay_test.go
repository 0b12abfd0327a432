package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/extension/replay"
)

// scheduledLog replays the six-hour Sysmon recording of extension/replay under the shipped pack, as
// `compile_lineage.ext replay --schedule` does, and returns the result log.
func scheduledLog(t *testing.T) []byte {
	t.Helper()
	fx, err := replay.LoadFixtures("../extension/replay/testdata/sched_sysmon_office.json")
	if err != nil {
		t.Fatal(err)
	}
	pack, err := replay.LoadPack("../packs/compile_after_delivery.conf")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	from := int64(1764000000)
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Now: from,
		Daemon: &replay.DaemonOptions{EventsExpiry: 24 * 3600, Packs: []*replay.Pack{pack}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out bytes.Buffer
	if _, err := h.RunSchedule(ctx, replay.ScheduleOptions{Packs: []*replay.Pack{pack}, From: from, To: from + 6*3600, Out: &out}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestScoreScheduledReplay scores the log osqueryd would write over the recording. `score` gives the
// lineage's one alert at its final stage; `run` over the same log escalates once: written, then network.
// At +7500 three pack queries log the lineage at the network stage, each with its own columns: the
// lineage alerts there once, whatever query logged it.
func TestScoreScheduledReplay(t *testing.T) {
	dir := t.TempDir()
	logFile, roles := filepath.Join(dir, "osqueryd.results.log"), filepath.Join(dir, "roles.csv")
	if err := os.WriteFile(logFile, scheduledLog(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(roles, []byte("host,role\nWS01.corp.example,user_endpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const lineage = "34c2cdf0-92fa-5ac9-ae7c-cb8cbea6fdcd"
	stages := func(out string) []string {
		var got []string
		for _, a := range decodeAlerts(t, out) {
			if a.Role != "user_endpoint" || !slices.Contains(a.Techniques, "T1027.004") {
				t.Errorf("alert %s: role %q techniques %v", a.LineageID, a.Role, a.Techniques)
			}
			got = append(got, a.LineageID+"@"+a.Stage)
		}
		return got
	}
	out, stderr, err := runCmd(t, "", "score", "--roles", roles, logFile)
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	if got := stages(out); !slices.Equal(got, []string{lineage + "@network"}) {
		t.Errorf("score: alerts %v, want the lineage once at network", got)
	}
	out, stderr, err = runCmd(t, "", "run", "--once", "--roles", roles, "--state", filepath.Join(dir, "state.db"),
		"--alerts", filepath.Join(dir, "alerts.jsonl"), "--follow", logFile)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if got := stages(out); !slices.Equal(got, []string{lineage + "@written", lineage + "@network"}) {
		t.Errorf("run: alerts %v, want one per escalation: written, then network", got)
	}
}
