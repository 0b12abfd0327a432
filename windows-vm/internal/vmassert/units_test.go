package vmassert

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readJSONFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// TestParseShellJSON reads recorded `osqueryi --connect \\.\pipe\osquery.em --json` outputs. The
// preamble osqueryi prints before the JSON is what made the PowerShell ConvertFrom-Json throw: a plain
// JSON decode of the same bytes fails, which the first case checks too.
func TestParseShellJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		wantRows int
		wantCol  [2]string
		wantErr  string
	}{
		{file: "connect.txt", wantRows: 1, wantCol: [2]string{"path", `\\.\pipe\osquery.em.41`}},
		{file: "connect_tty_empty.txt", wantRows: 0},
		{file: "no_preamble.txt", wantRows: 1, wantCol: [2]string{"events", "12"}},
		{file: "error.txt", wantErr: `error.txt:2: not osqueryi JSON output: "Error: near line 1: no such table: compile_lineagee"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "osqueryi", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := ParseShellJSON(tt.file, data)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tt.wantRows {
				t.Fatalf("%d rows, want %d: %v", len(rows), tt.wantRows, rows)
			}
			if tt.wantRows > 0 && rows[0][tt.wantCol[0]] != tt.wantCol[1] {
				t.Errorf("%s = %q, want %q", tt.wantCol[0], rows[0][tt.wantCol[0]], tt.wantCol[1])
			}
		})
	}
	data, err := os.ReadFile(filepath.Join("testdata", "osqueryi", "connect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var plain []map[string]string
	if err := json.Unmarshal(data, &plain); err == nil {
		t.Error("the recorded output decodes as plain JSON: it lacks osqueryi's preamble")
	}
}

// TestReadResultLog: a line osqueryd is still writing is left for later, a broken complete line is an
// error with its line number, and event and batch lines both give their rows.
func TestReadResultLog(t *testing.T) {
	t.Parallel()
	event := `{"name":"pack_p_q","hostIdentifier":"h","unixTime":1763715600,"columns":{"lineage_id":"a"},"action":"added"}`
	batch := `{"name":"pack_p_r","hostIdentifier":"h","unixTime":"1763715660","diffResults":{"added":[{"x":"1"},{"x":"2"}],"removed":[]}}`
	tests := []struct {
		name      string
		in        string
		wantLines int
		wantRows  int
		wantErr   string
	}{
		{name: "event and batch", in: event + "\n" + batch + "\n", wantLines: 2, wantRows: 3},
		{name: "half-written last line", in: event + "\n" + batch[:40], wantLines: 1, wantRows: 1},
		{name: "CRLF and blank lines", in: event + "\r\n\r\n" + batch + "\r\n", wantLines: 2, wantRows: 3},
		{name: "broken complete line", in: event + "\n{\"name\":\n" + batch + "\n", wantErr: "log:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines, err := ReadResultLog("log", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rows := 0
			for _, l := range lines {
				rows += len(l.Rows)
			}
			if len(lines) != tt.wantLines || rows != tt.wantRows {
				t.Errorf("%d lines, %d rows; want %d, %d", len(lines), rows, tt.wantLines, tt.wantRows)
			}
		})
	}
}

func TestBuildTree(t *testing.T) {
	t.Parallel()
	ev := func(guid, parent, cmd string) map[string]string {
		b, _ := json.Marshal(map[string]any{"EventData": map[string]string{"ProcessGuid": guid, "ParentProcessGuid": parent,
			"ProcessId": "10", "CommandLine": cmd, "UtcTime": "2026-11-21 09:00:01.250"}})
		return map[string]string{"data": string(b)}
	}
	tree, err := BuildTree([]map[string]string{
		ev("{R}", "{S}", `powershell.exe -File C:\lineage\vm\scenarios\attack_x\run.ps1`),
		ev("{C}", "{R}", "csc.exe"),
		ev("{G}", "{C}", "cvtres.exe"),
		ev("{O}", "{S}", `powershell.exe -File C:\lineage\vm\scenarios\attack_y\run.ps1`),
		ev("{P}", "{O}", "wscript.exe"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := tree.Subtree("attack_x")
	if len(sub) != 3 || sub["{g}"].Start != time.Date(2026, time.November, 21, 9, 0, 1, 0, time.UTC).Unix() || sub["{p}"].GUID != "" {
		t.Errorf("subtree of attack_x = %v", sub)
	}
	if _, err := BuildTree([]map[string]string{{"data": "{"}}); err == nil || !strings.Contains(err.Error(), "row 0") {
		t.Errorf("bad data: %v", err)
	}
	if _, err := BuildTree([]map[string]string{{"data": `{"EventData":{}}`}}); err == nil || !strings.Contains(err.Error(), "without ProcessGuid") {
		t.Errorf("no guid: %v", err)
	}
}

func TestCapPackIntervals(t *testing.T) {
	t.Parallel()
	in := `{"platform":"windows","queries":{"a":{"query":"SELECT 1","interval":1800,"snapshot":false},"b":{"query":"SELECT 2","interval":30}}}`
	out, err := CapPackIntervals("p", []byte(in), 60)
	if err != nil {
		t.Fatal(err)
	}
	var pack struct {
		Platform string
		Queries  map[string]struct {
			Query    string
			Interval int
			Snapshot *bool
		}
	}
	if err := json.Unmarshal(out, &pack); err != nil {
		t.Fatal(err)
	}
	if pack.Platform != "windows" || pack.Queries["a"].Interval != 60 || pack.Queries["b"].Interval != 30 ||
		pack.Queries["a"].Query != "SELECT 1" || pack.Queries["a"].Snapshot == nil {
		t.Errorf("capped pack %s", out)
	}
	for _, bad := range []string{`{}`, `{"queries":{"a":{"query":"x"}}}`, `{"queries":{"a":{"interval":"60"}}}`, `not json`} {
		if _, err := CapPackIntervals("p", []byte(bad), 60); err == nil || !strings.HasPrefix(err.Error(), "p: ") {
			t.Errorf("CapPackIntervals(%s) error %v", bad, err)
		}
	}
}

func TestCheckScheduleAndLog(t *testing.T) {
	t.Parallel()
	if f := CheckSchedule(nil); len(f) != 1 || !strings.Contains(f[0], "empty") {
		t.Errorf("empty schedule: %v", f)
	}
	f := CheckSchedule([]map[string]string{{"name": "b", "denylisted": "1", "executions": "2"}, {"name": "a", "denylisted": "0"}})
	if len(f) != 1 || f[0] != "scheduled query b is denylisted (osquery_schedule.denylisted=1, 2 executions)" {
		t.Errorf("CheckSchedule = %q", f)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "osqueryd.INFO"))
	if err != nil {
		t.Fatal(err)
	}
	got := ScanDaemonLog("osqueryd.INFO", data)
	if len(got) != 2 || !strings.HasPrefix(got[0], "osqueryd.INFO:6: watchdog: ") || !strings.Contains(got[1], "Scheduled query may have failed") {
		t.Errorf("ScanDaemonLog = %q", got)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	probe, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	// A taken port fails before the ready file exists.
	ready := filepath.Join(dir, "ready")
	if err := Listen(context.Background(), port, filepath.Join(dir, "log"), ready, "mshta"); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("listen on 127.0.0.1:%d", port)) {
		t.Fatalf("taken port: %v", err)
	}
	if _, err := os.Stat(ready); err == nil {
		t.Fatal("ready file written although the port was taken")
	}
	probe.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	logPath := filepath.Join(dir, "listener.log")
	go func() { done <- Listen(ctx, port, logPath, ready, "mshta") }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("listener never wrote its ready file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Another program's connection is logged and does not end the wait; the payload's line does.
	for _, line := range []string{"probe\n", "mshta beacon\x07\n"} {
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, line)
		c.Close()
	}
	if err := <-done; err != nil {
		t.Fatalf("Listen = %v, want nil once the mshta line arrived", err)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 2)
		if len(f) != 2 {
			t.Fatalf("log line %q", sc.Text())
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Errorf("log line %q: %v", sc.Text(), err)
		}
		got = append(got, f[1])
	}
	if strings.Join(got, "|") != "probe|mshta beacon" {
		t.Errorf("logged %q, want probe then mshta beacon (control byte dropped)", got)
	}

	// Nobody connects: the wait ends with ErrNoBeacon.
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if err := Listen(short, port, logPath, ready, "mshta"); !errors.Is(err, ErrNoBeacon) {
		t.Errorf("Listen without a beacon = %v, want ErrNoBeacon", err)
	}
	if err := Listen(context.Background(), 70000, logPath, ready, "x"); err == nil {
		t.Error("port 70000 accepted")
	}
}
