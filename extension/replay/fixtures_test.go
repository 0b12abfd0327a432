package replay

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/internal/datasets"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const sysmonXML = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"></Provider>
<EventID Qualifiers="">1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>
<TimeCreated SystemTime="2019-07-19 14:45:55.033203"></TimeCreated><EventRecordID>39</EventRecordID>
<Execution ProcessID="2956" ThreadID="2088"></Execution><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>MSEDGEWIN10</Computer></System>
<EventData><Data Name="UtcTime">2019-07-19 14:45:55.023</Data>
<Data Name="Image">C:\Windows\Microsoft.NET\Framework\v4.0.30319\csc.exe</Data>
<Data Name="CommandLine">csc.exe /target:library C:/x.cs</Data></EventData></Event>`

const unnamedXML = `<Event><System><Provider Name="Service Control Manager" Guid="{555908d1-a6d7-4695-8e1e-26931d2012f4}"/>
<EventID>7036</EventID><Level>4</Level><Task>0</Task><Keywords>0x8080000000000000</Keywords>
<TimeCreated SystemTime="2016-09-20T18:27:25.4248050Z"/><Channel>System</Channel><Computer>IE10Win7</Computer></System>
<EventData><Data>Windows Update</Data><Data>running</Data></EventData></Event>`

const userDataXML = `<Event><System><Provider Name="Microsoft-Windows-Eventlog" Guid="{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"/>
<EventID>1102</EventID><Level>4</Level><Task>104</Task><Keywords>0x4020000000000000</Keywords>
<TimeCreated SystemTime="2016-09-20 18:27:25.424805"/><Channel>Security</Channel><Computer>IE10Win7</Computer></System>
<UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog"><SubjectUserName>IEUser</SubjectUserName></LogFileCleared></UserData></Event>`

func jsonLine(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseFixture(t *testing.T) {
	nxlogSysmon := `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","SourceName":"Microsoft-Windows-Sysmon","ProviderGuid":"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}","Hostname":"WS5","Task":1,"Keywords":-9223372036854775808,"SeverityValue":2,"EventType":"INFO","EventTime":"2020-09-22 04:22:42","@timestamp":"2020-09-22T08:22:43.282Z","UtcTime":"2020-09-22 08:22:42.756","Image":"C:\\x\\csc.exe","ProcessId":"6748","tags":["mordorDataset"],"port":64545}`
	nxlogSecurity := `{"EventID":4688,"Channel":"security","SourceName":"Microsoft-Windows-Security-Auditing","Hostname":"WS5","Task":13312,"Keywords":-9214364837600034816,"EventType":"AUDIT_SUCCESS","SeverityValue":2,"EventTime":"2020-09-22 04:22:43","@timestamp":"2020-09-22T08:22:44.100Z","NewProcessName":"C:\\x\\cvtres.exe","NewProcessId":"0x1210"}`
	tests := []struct {
		name    string
		input   string
		table   string
		want    []map[string]string
		wantErr string
	}{
		{
			name:  "table json",
			input: `{"process_events":[{"pid":"1","path":"/bin/sh","time":1700000000},{"pid":2,"cmdline":null}],"socket_events":[]}`,
			table: "process_events",
			want:  []map[string]string{{"pid": "1", "path": "/bin/sh", "time": "1700000000"}, {"pid": "2"}},
		},
		{name: "unknown table", input: `{"process_event":[]}`, wantErr: `f.json: unknown osquery table "process_event"`},
		{name: "unknown column", input: `{"processes":[{"pid":"1"},{"pid":"2","ppid":"1"}]}`,
			wantErr: `f.json: table processes row 1: unknown column "ppid"`},
		{name: "not a number", input: `{"processes":[{"pid":"abc"}]}`,
			wantErr: `f.json: table processes row 0: column pid (BIGINT): "abc" is not an integer`},
		{name: "object value", input: `{"processes":[{"name":{"a":1}}]}`,
			wantErr: `f.json: table processes row 0: column name: value {"a":1} is not a string or number`},
		{
			name:  "nxlog flat sysmon and security with local EventTime",
			input: nxlogSysmon + "\n\n" + nxlogSecurity + "\n",
			table: "windows_events",
			want: []map[string]string{
				{"time": "1600762962", "datetime": "2020-09-22T08:22:42.7560000Z", "source": "Microsoft-Windows-Sysmon/Operational",
					"provider_name": "Microsoft-Windows-Sysmon", "provider_guid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
					"computer_name": "WS5", "eventid": "1", "task": "1", "level": "4", "keywords": "0x8000000000000000",
					"data": `{"EventData":{"UtcTime":"2020-09-22 08:22:42.756","Image":"C:\\x\\csc.exe","ProcessId":"6748"}}`},
				{"time": "1600762963", "datetime": "2020-09-22T08:22:43.0000000Z", "source": "Security",
					"provider_name": "Microsoft-Windows-Security-Auditing", "provider_guid": "",
					"computer_name": "WS5", "eventid": "4688", "task": "13312", "level": "0", "keywords": "0x8020000000000000",
					"data": `{"EventData":{"NewProcessName":"C:\\x\\cvtres.exe","NewProcessId":"0x1210"}}`},
			},
		},
		{
			name:  "evtx xml named data",
			input: jsonLine(t, map[string]any{"EventID": 1, "EventXML": sysmonXML}),
			table: "windows_events",
			want: []map[string]string{{"time": "1563547555", "datetime": "2019-07-19T14:45:55.0332030Z",
				"source": "Microsoft-Windows-Sysmon/Operational", "provider_name": "Microsoft-Windows-Sysmon",
				"provider_guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", "computer_name": "MSEDGEWIN10", "eventid": "1",
				"task": "1", "level": "4", "keywords": "0x8000000000000000",
				"data": `{"EventData":{"UtcTime":"2019-07-19 14:45:55.023","Image":"C:\\Windows\\Microsoft.NET\\Framework\\v4.0.30319\\csc.exe","CommandLine":"csc.exe \/target:library C:\/x.cs"}}`}},
		},
		{
			name:  "evtx xml unnamed data is an array",
			input: jsonLine(t, map[string]any{"EventXML": unnamedXML}),
			table: "windows_events",
			want: []map[string]string{{"time": "1474396045", "datetime": "2016-09-20T18:27:25.4248050Z", "source": "System",
				"provider_name": "Service Control Manager", "provider_guid": "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
				"computer_name": "IE10Win7", "eventid": "7036", "task": "0", "level": "4", "keywords": "0x8080000000000000",
				"data": `{"EventData":["Windows Update","running"]}`}},
		},
		{
			name:  "evtx xml user data keeps attributes",
			input: jsonLine(t, map[string]any{"EventXML": userDataXML}),
			table: "windows_events",
			want: []map[string]string{{"time": "1474396045", "datetime": "2016-09-20T18:27:25.4248050Z", "source": "Security",
				"provider_name": "Microsoft-Windows-Eventlog", "provider_guid": "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}",
				"computer_name": "IE10Win7", "eventid": "1102", "task": "104", "level": "4", "keywords": "0x4020000000000000",
				"data": `{"UserData":{"LogFileCleared":{"<xmlattr>":{"xmlns":"http:\/\/manifests.microsoft.com\/win\/2004\/08\/windows\/eventlog"},"SubjectUserName":"IEUser"}}}`}},
		},
		{name: "bad json line", input: nxlogSysmon + "\n\n{\"EventID\": 1,\n", wantErr: "f.json:3: bad JSON: unexpected EOF"},
		{name: "not an event", input: `{"EventID":"x","Channel":"System"}` + "\n" + `{"a":1}`, wantErr: `f.json:1: not a Windows event record: EventID "x"`},
		{name: "xml without event id", input: jsonLine(t, map[string]any{"EventXML": strings.Replace(unnamedXML, "<EventID>7036</EventID>", "", 1)}),
			wantErr: `f.json:1: EventXML: System/EventID "" is missing or not valid`},
		{name: "broken xml", input: jsonLine(t, map[string]any{"EventXML": "<Event><System>"}),
			wantErr: "f.json:1: EventXML: XML syntax error on line 1: unexpected EOF"},
		{name: "empty", input: " \n", table: "windows_events", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx, err := ParseFixture("f.json", strings.NewReader(tt.input))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := fx.Tables()[tt.table]
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			assertRows(t, got, tt.want)
		})
	}
}

func TestFixturesMergeNewestPlatformOrigin(t *testing.T) {
	a, err := ParseFixture("a.json", strings.NewReader(`{"process_events":[{"pid":"1","time":"100"}],"processes":[{"pid":"1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseFixture("b.json", strings.NewReader(`{"process_events":[{"pid":"2","time":"300"}],"es_process_events":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	a.Merge(b)
	if got := len(a.Tables()["process_events"]); got != 2 {
		t.Fatalf("%d process_events rows", got)
	}
	if a.Newest() != 300 {
		t.Fatalf("Newest = %d", a.Newest())
	}
	if a.Platform() != "linux" {
		t.Fatalf("Platform = %s", a.Platform())
	}
	if o := a.Origin("process_events", 1); o != "b.json: table process_events row 0" {
		t.Fatalf("Origin = %q", o)
	}
}

func TestLoadFixturesNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(p, []byte(`{"EventID":1,"Channel":"System","UtcTime":"2020-01-01 00:00:00.000"}`+"\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFixtures(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: bad JSON") {
		t.Fatalf("err = %v", err)
	}
	_, err = LoadFixtures(filepath.Join(dir, "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("err = %v", err)
	}
}

type datasetSummary struct {
	Rows        int                 `json:"rows"`
	Newest      int64               `json:"newest"`
	BySourceEID map[string]int      `json:"by_source_eventid"`
	FirstOfEach []map[string]string `json:"first_row_of_each_source_eventid"`
}

// TestDatasetsGolden converts every public dataset file to windows_events rows and compares a summary with
// testdata/golden/<file>.json (go test -run TestDatasetsGolden -update rewrites them).
func TestDatasetsGolden(t *testing.T) {
	ds := datasets.Dir(t)
	files, err := filepath.Glob(filepath.Join(ds, "*", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		datasets.Unavailable(t, "no *.jsonl files under %s", ds)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			fx, err := LoadFixtures(f)
			if err != nil {
				t.Fatal(err)
			}
			rows := fx.Tables()["windows_events"]
			s := datasetSummary{Rows: len(rows), Newest: fx.Newest(), BySourceEID: map[string]int{}}
			seen := map[string]bool{}
			for _, r := range rows {
				k := r["source"] + "/" + r["eventid"]
				s.BySourceEID[k]++
				if !seen[k] {
					seen[k] = true
					s.FirstOfEach = append(s.FirstOfEach, r)
				}
			}
			sort.Slice(s.FirstOfEach, func(i, j int) bool {
				return s.FirstOfEach[i]["source"]+"/"+s.FirstOfEach[i]["eventid"] < s.FirstOfEach[j]["source"]+"/"+s.FirstOfEach[j]["eventid"]
			})
			got, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".jsonl")+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(got, '\n'), 0o640); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if strings.TrimSpace(string(want)) != string(got) {
				t.Fatalf("summary of %s differs from %s:\n%s", name, golden, got)
			}
		})
	}
}

func TestDatasetsTimeOffsets(t *testing.T) {
	ds := datasets.Dir(t)
	// Security 4688 events without UtcTime get the file's detected offset: the ProxyLogon file's TimeCreated
	// is local time labelled Z (UTC-5), the 2020 Empire files' EventTime is UTC-4.
	tests := []struct{ file, eventid string }{
		{"otrf-security-datasets/exchange_proxylogon_aspx_webshell_w3wp_compile.jsonl", "4688"},
		{"otrf-security-datasets/empire_powershell_addtype_csc.jsonl", "4688"},
		{"otrf-security-datasets/empire_msbuild_inline_task_via_wmi.jsonl", "4688"},
	}
	for _, tt := range tests {
		fx, err := LoadFixtures(filepath.Join(ds, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		var sysmonMin, secMin int64
		for _, r := range fx.Tables()["windows_events"] {
			var v int64
			fmt.Sscan(r["time"], &v)
			switch r["eventid"] {
			case "1":
				if sysmonMin == 0 || v < sysmonMin {
					sysmonMin = v
				}
			case tt.eventid:
				if secMin == 0 || v < secMin {
					secMin = v
				}
			}
		}
		// The first Security 4688 is logged within seconds of the first Sysmon process start.
		if d := secMin - sysmonMin; d < -10 || d > 10 {
			t.Errorf("%s: first 4688 at %d, first Sysmon 1 at %d (%ds apart)", tt.file, secMin, sysmonMin, d)
		}
	}
}

// TestEventTimeValues checks that an event table's time column reads as the integer the store is sorted
// by, and NULL where the row has none, in timed and untimed scans.
func TestEventTimeValues(t *testing.T) {
	ctx := context.Background()
	h := startWith(t, `{"process_events": [{"pid": "1", "time": "300"}, {"pid": "2", "time": "100"}, {"pid": "3"}]}`, indexedPlugins)
	for _, c := range []struct{ sql, want string }{
		{"SELECT pid, time, typeof(time) AS ty FROM process_events ORDER BY pid", "1:300:integer,2:100:integer,3::null"},
		{"SELECT pid, time, typeof(time) AS ty FROM process_events WHERE time >= 100 ORDER BY pid", "1:300:integer,2:100:integer"},
		{"SELECT pid, time + 1 AS time, 'x' AS ty FROM process_events WHERE time = 100", "2:101:x"},
	} {
		rows, err := h.Query(ctx, c.sql)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r["pid"]+":"+r["time"]+":"+r["ty"])
		}
		if g := strings.Join(got, ","); g != c.want {
			t.Errorf("%s = %s, want %s", c.sql, g, c.want)
		}
	}
}

// TestEventTimeBoundsScan checks which rows an event table hands to SQLite for a time constraint, as osquery
// 5.23.1's genTable reads its store: from the lower bound to the end of the buffer (an upper bound narrows
// nothing), one second for `=`; SQLite then drops the rows outside the constraint.
func TestEventTimeBoundsScan(t *testing.T) {
	ctx := context.Background()
	h := startWith(t, `{"process_events": [{"pid": "1", "time": "100"}, {"pid": "2", "time": "200"}, {"pid": "3", "time": "300"}]}`,
		indexedPlugins)
	for _, c := range []struct {
		where   string
		pids    string
		scanned int64
	}{
		{"time >= 200", "2,3", 2},
		{"time > 100", "2,3", 2},
		{"time <= 150", "1", 3},
		{"time >= 150 AND time <= 250", "2", 2},
		{"time = 200", "2", 1},
	} {
		h.ResetStats()
		rows, err := h.Query(ctx, "SELECT pid FROM process_events WHERE "+c.where+" ORDER BY pid")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r["pid"])
		}
		if g, st := strings.Join(got, ","), h.Stats(); g != c.pids || st.EventRowsScanned != c.scanned {
			t.Errorf("%s: pids %s, %d rows scanned; want %s, %d", c.where, g, st.EventRowsScanned, c.pids, c.scanned)
		}
	}
}
