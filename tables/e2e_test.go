package tables_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/extension/replay"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// replayQuery runs SQL in the osquery-like harness: SQLite with osquery's schemas holding the
// fixtures, the extension attached over Thrift.
func replayQuery(t testing.TB, sql string, fixtures ...string) ([]map[string]string, replay.Stats) {
	t.Helper()
	fx, err := replay.LoadFixtures(fixtures...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := replay.Start(context.Background(), replay.Options{Fixtures: fx})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rows, err := h.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows, h.Stats()
}

// TestSourceSets replays one fixture per platform's source set through Thrift and compares
// every column of every row with a golden file.
func TestSourceSets(t *testing.T) {
	for name, fixture := range map[string]string{
		"linux_webshell":   filepath.Join("..", "extension", "examples", "web_server_audit.json"),
		"darwin_downloads": filepath.Join("testdata", "darwin_downloads.json"),
		"windows_etw":      filepath.Join("testdata", "windows_etw.json"),
	} {
		t.Run(name, func(t *testing.T) {
			rows, _ := replayQuery(t, "SELECT * FROM compile_lineage ORDER BY time, compiler_pid", fixture)
			golden(t, filepath.Join("testdata", name+".rows.golden.json"), rows)
			telemetry, _ := replayQuery(t, "SELECT * FROM compile_telemetry ORDER BY signal, source_table", fixture)
			golden(t, filepath.Join("testdata", name+".telemetry.golden.json"), telemetry)
		})
	}
}

func golden(t *testing.T, path string, rows []map[string]string) {
	t.Helper()
	got, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./tables -update): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the rows produced:\n%s", path, got)
	}
}

// TestConstraintsNarrow checks that a time constraint reaches the extension and narrows
// what it fetches, and that osquery's own filter still applies.
func TestConstraintsNarrow(t *testing.T) {
	fx := filepath.Join("..", "extension", "examples", "web_server_audit.json")
	all, full := replayQuery(t, "SELECT lineage_id FROM compile_lineage", fx)
	late, narrow := replayQuery(t, "SELECT lineage_id, time FROM compile_lineage WHERE time >= 1764064150", fx)
	if len(all) != 3 || len(late) != 2 {
		t.Fatalf("rows: all %d, late %d; want 3 and 2", len(all), len(late))
	}
	for _, r := range late {
		if r["time"] < "1764064150" {
			t.Errorf("row before the constraint: %v", r)
		}
	}
	if narrow.RowsServed >= full.RowsServed {
		t.Errorf("time constraint did not narrow the fetch: %d rows vs %d", narrow.RowsServed, full.RowsServed)
	}
}

// TestLineageIDStable checks ids do not churn between queries (osquery differential logging).
func TestLineageIDStable(t *testing.T) {
	fx := filepath.Join("testdata", "windows_etw.json")
	a, _ := replayQuery(t, "SELECT lineage_id FROM compile_lineage", fx)
	b, _ := replayQuery(t, "SELECT lineage_id FROM compile_lineage WHERE time > 0", fx)
	if len(a) != 1 || len(b) != 1 || a[0]["lineage_id"] != b[0]["lineage_id"] {
		t.Fatalf("ids changed between queries: %v %v", a, b)
	}
}

func TestNoTelemetryIsReported(t *testing.T) {
	dir := t.TempDir()
	fx := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(fx, []byte(`{"processes": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rows, _ := replayQuery(t, "SELECT signal, source_table, status, used FROM compile_telemetry WHERE signal = 'process'", fx)
	if len(rows) == 0 {
		t.Fatal("no telemetry rows")
	}
	for _, r := range rows {
		if r["used"] != "0" || (r["status"] != "disabled" && r["status"] != "missing" && r["status"] != "empty") {
			t.Errorf("a source reported usable with no events: %v", r)
		}
	}
	lineage, _ := replayQuery(t, "SELECT * FROM compile_lineage", fx)
	if len(lineage) != 0 {
		t.Fatalf("rows without telemetry: %v", lineage)
	}
}

func contains(list, item string) bool {
	for _, v := range strings.Split(list, ";") {
		if v == item {
			return true
		}
	}
	return false
}

// TestShortNameArtifact: the compiler writes under an 8.3 short name (as %TEMP% often
// expands), the artifact starts under its long name from an unrelated process (Explorer),
// so only the executions lookup can find it; Sysmon rows as osqueryi prints them.
func TestShortNameArtifact(t *testing.T) {
	ev := func(eid int, tm int64, data string) map[string]any {
		return map[string]any{"time": tm, "datetime": "", "source": "Microsoft-Windows-Sysmon/Operational",
			"provider_name": "Microsoft-Windows-Sysmon", "eventid": eid, "data": `{"EventData":{` + data + `}}`}
	}
	rows := []map[string]any{
		ev(1, 1764064000, `"UtcTime":"2025-11-25 09:46:40.000","ProcessGuid":"{p}","ProcessId":"10","Image":"C:\\Windows\\System32\\wscript.exe","CommandLine":"wscript.exe C:\\Users\\Administrator\\Downloads\\a.js"`),
		ev(1, 1764064001, `"UtcTime":"2025-11-25 09:46:41.000","ProcessGuid":"{c}","ProcessId":"11","ParentProcessGuid":"{p}","ParentImage":"C:\\Windows\\System32\\wscript.exe","Image":"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe","CommandLine":"csc.exe /out:C:\\Users\\ADMINI~1\\AppData\\Local\\Temp\\u.exe C:\\Users\\ADMINI~1\\AppData\\Local\\Temp\\u.cs"`),
		ev(11, 1764064002, `"UtcTime":"2025-11-25 09:46:42.000","ProcessGuid":"{c}","ProcessId":"11","TargetFilename":"C:\\Users\\ADMINI~1\\AppData\\Local\\Temp\\u.exe"`),
		ev(1, 1764064005, `"UtcTime":"2025-11-25 09:46:45.000","ProcessGuid":"{x}","ProcessId":"12","ParentProcessGuid":"{e}","Image":"C:\\Users\\Administrator\\AppData\\Local\\Temp\\u.exe","CommandLine":"u.exe"`),
		ev(3, 1764064006, `"UtcTime":"2025-11-25 09:46:46.000","ProcessGuid":"{x}","ProcessId":"12","Initiated":"true","DestinationIp":"203.0.113.8","DestinationPort":"443"`),
	}
	data, err := json.Marshal(map[string]any{"windows_events": rows})
	if err != nil {
		t.Fatal(err)
	}
	fx := filepath.Join(t.TempDir(), "short.json")
	if err := os.WriteFile(fx, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := replayQuery(t, "SELECT compiler_name, parent_name, output_path, executions, connections, stage, reasons FROM compile_lineage", fx)
	if len(got) != 1 {
		t.Fatalf("rows %v", got)
	}
	r := got[0]
	if r["executions"] != "1" || r["connections"] != "1" || r["stage"] != "network" || r["parent_name"] != "wscript.exe" ||
		!contains(r["reasons"], "parent_elastic_list") || !contains(r["reasons"], "temp_output") {
		t.Fatalf("row %v", r)
	}
}
