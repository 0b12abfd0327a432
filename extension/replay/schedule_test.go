package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// scheduledLine is what the tests read back from a result log line.
type scheduledLine struct {
	Name           string            `json:"name"`
	HostIdentifier string            `json:"hostIdentifier"`
	CalendarTime   string            `json:"calendarTime"`
	UnixTime       int64             `json:"unixTime"`
	Epoch          *int64            `json:"epoch"`
	Counter        *int64            `json:"counter"`
	Numerics       *bool             `json:"numerics"`
	Decorations    map[string]string `json:"decorations"`
	Columns        map[string]string `json:"columns"`
	Action         string            `json:"action"`
}

// runOfficeSchedule replays the office recording under the shipped pack and returns the result lines.
func runOfficeSchedule(t *testing.T, expiry int64) ([]scheduledLine, ScheduleStats) {
	t.Helper()
	fx, err := LoadFixtures(officeRecordingFile)
	if err != nil {
		t.Fatal(err)
	}
	pack, err := LoadPack("../../packs/compile_after_delivery.conf")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	from, to := recordingStart, recordingStart+6*3600
	h, err := Start(ctx, Options{Fixtures: fx, Now: from, Daemon: &DaemonOptions{EventsExpiry: expiry, Packs: []*Pack{pack}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out bytes.Buffer
	st, err := h.RunSchedule(ctx, ScheduleOptions{Packs: []*Pack{pack}, From: from, To: to, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	var lines []scheduledLine
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l scheduledLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad result line %s: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines, st
}

func linesOf(lines []scheduledLine, query string) []scheduledLine {
	var out []scheduledLine
	for _, l := range lines {
		if l.Name == "pack_compile_after_delivery_"+query {
			out = append(out, l)
		}
	}
	return out
}

// TestScheduledReplayKeepsTheChain replays six hours under the shipped pack with an expiry that keeps the
// whole recording: the lineage reaches its final stage with the parent started 70 minutes before the compile,
// and no run re-logs an unchanged row.
func TestScheduledReplayKeepsTheChain(t *testing.T) {
	lines, st := runOfficeSchedule(t, 24*3600)
	if st.Errors != 0 || st.Optimized != 0 {
		t.Fatalf("stats %+v: every event-table query must bound time (Optimized counts the scans that did not)", st)
	}
	// 6 h: the 300 s queries run 73 times each (i = from, from+300, ..., from+21600), compile_baseline
	// (1800 s) 13, compile_telemetry_gaps (3000 s) 8.
	if want := 3*73 + 13 + 8; st.Runs != want {
		t.Fatalf("runs = %d, want %d", st.Runs, want)
	}
	for _, l := range lines {
		if l.HostIdentifier != "WS01.corp.example" || l.Decorations["host_uuid"] != "6f1c2d3e-0000-4000-8000-0000000000a1" ||
			l.Decorations["hostname"] != "WS01.corp.example" || l.Epoch == nil || *l.Epoch != 0 || l.Numerics == nil ||
			*l.Numerics || l.Counter == nil || !strings.HasSuffix(l.CalendarTime, " UTC") {
			t.Fatalf("bad line %+v", l)
		}
		// The compile_lineage queries have "removed": false; compile_telemetry_gaps logs removals.
		if l.Action != "added" && !(l.Action == "removed" && strings.HasSuffix(l.Name, "_compile_telemetry_gaps")) {
			t.Fatalf("action %q in %+v", l.Action, l)
		}
	}
	sus := linesOf(lines, "compile_suspicious")
	if len(sus) != 2 {
		t.Fatalf("compile_suspicious logged %d lines, want 2 (written, then network): %+v", len(sus), sus)
	}
	type want struct {
		at      int64
		stage   string
		counter int64
	}
	for i, w := range []want{{recordingStart + 5100, "written", 1}, {recordingStart + 7500, "network", 2}} {
		l := sus[i]
		if l.UnixTime != w.at || l.Columns["stage"] != w.stage || *l.Counter != w.counter {
			t.Errorf("compile_suspicious line %d: at %d stage %s counter %d, want %+v", i, l.UnixTime,
				l.Columns["stage"], *l.Counter, w)
		}
		if l.Columns["parent_name"] != "winword.exe" || !strings.Contains(l.Columns["ancestry"], "explorer.exe") ||
			l.Columns["output_path"] != recArtifactW || l.Columns["compiler_name"] != "csc.exe" {
			t.Errorf("compile_suspicious line %d lacks the chain: %v", i, l.Columns)
		}
	}
	final := sus[1].Columns
	if final["executions"] != "1" || final["first_remote_address"] != "203.0.113.7" || final["connection_origin"] != "artifact" {
		t.Errorf("final row %v", final)
	}
	if !strings.Contains(final["reasons"], "parent_office") {
		t.Errorf("reasons %q lack parent_office", final["reasons"])
	}
	exec := linesOf(lines, "compile_artifact_executed")
	netw := linesOf(lines, "compile_artifact_network")
	if len(exec) != 1 || len(netw) != 1 || exec[0].UnixTime != recordingStart+7500 || netw[0].UnixTime != recordingStart+7500 {
		t.Errorf("executed %d lines, network %d lines, want 1 each at +7500", len(exec), len(netw))
	}
}

// TestScheduledReplayDefaultExpiry replays the same recording with osquery's default --events_expiry (3600 s):
// osqueryd no longer holds explorer's and WINWORD's starts when the compile runs (they are 80 and 70 minutes
// old), so the ancestry stops at the parent the compile event itself names, and once the compile event is an
// hour old the lineage leaves the results: with "removed": false nothing more is logged.
func TestScheduledReplayDefaultExpiry(t *testing.T) {
	lines, st := runOfficeSchedule(t, 3600)
	if st.Errors != 0 || st.Optimized != 0 {
		t.Fatalf("stats %+v", st)
	}
	sus := linesOf(lines, "compile_suspicious")
	if len(sus) != 2 || sus[0].Columns["stage"] != "written" || sus[1].Columns["stage"] != "network" ||
		sus[0].UnixTime != recordingStart+5100 || sus[1].UnixTime != recordingStart+7500 {
		t.Fatalf("compile_suspicious lines %+v", sus)
	}
	for _, l := range sus {
		if l.Columns["ancestry"] != "winword.exe > csc.exe" || l.Columns["parent_name"] != "winword.exe" {
			t.Errorf("at +%d ancestry %q parent %q, want the parent from the compile event only",
				l.UnixTime-recordingStart, l.Columns["ancestry"], l.Columns["parent_name"])
		}
	}
	for _, l := range lines {
		if !strings.HasSuffix(l.Name, "_compile_telemetry_gaps") && l.UnixTime > recordingStart+4810+3600 {
			t.Errorf("line after the compile event expired: %+v", l)
		}
	}
}
