package compilelineage

import (
	"strings"
	"testing"
	"time"
)

func TestSysmonProcs(t *testing.T) {
	rows := []map[string]string{{
		"time": "1600000000",
		"data": `{"EventData":{"UtcTime":"2020-09-20 21:39:26.517","ProcessGuid":"{D273D0F0-CC0E-5F67-0C08-000000000800}",` +
			`"ProcessId":"3008","Image":"C:\\Windows\\csc.exe","CommandLine":"csc.exe x.cs","ParentProcessGuid":"{D273D0F0-0000-0000-0000-000000000001}",` +
			`"ParentImage":"C:\\Windows\\System32\\mshta.exe","Hashes":"MD5=AA,SHA256=ABCDEF"}}`,
	}, {"time": "1", "data": "not json"}, {"time": "1", "data": `{"EventData":{}}`}}
	got := sysmonProcs(rows)
	if len(got) != 1 {
		t.Fatalf("got %d processes, want 1: %+v", len(got), got)
	}
	p := got[0]
	want := Proc{Key: "{d273d0f0-cc0e-5f67-0c08-000000000800}", ParentKey: "{d273d0f0-0000-0000-0000-000000000001}",
		PID: 3008, Path: `C:\Windows\csc.exe`, Cmdline: "csc.exe x.cs", ParentPath: `C:\Windows\System32\mshta.exe`,
		SHA256: "abcdef", Time: time.Date(2020, 9, 20, 21, 39, 26, 517e6, time.UTC), Source: "sysmon"}
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

func TestSecurityPIDs(t *testing.T) {
	got := security4688{}.procs([]map[string]string{{"time": "1474396064", "datetime": "2016-09-20T18:27:44.943359Z",
		"data": `{"EventData":{"NewProcessId":"0x00000dec","ProcessId":"0x248","NewProcessName":"C:\\x\\csc.exe","SubjectUserName":"u","SubjectDomainName":"D"}}`}})
	if len(got) != 1 || got[0].PID != 0xdec || got[0].PPID != 0x248 || got[0].User != `D\u` {
		t.Fatalf("got %+v", got)
	}
	if forms := hexPIDs([]int64{0xdec}); strings.Join(forms, ",") != "0xdec,0x00000dec" {
		t.Fatalf("hex forms %v", forms)
	}
}

func TestTextLitCannotBreakOut(t *testing.T) {
	lit := textLit(`x' OR 1=1; DROP TABLE t; --`)
	if strings.ContainsAny(lit[len("CAST(X'"):len(lit)-len("' AS TEXT)")], "' ;-") {
		t.Fatalf("literal carries SQL text: %s", lit)
	}
}

// FuzzSysmonData feeds arbitrary event data (outside input) to the Sysmon row parsers.
func FuzzSysmonData(f *testing.F) {
	for _, s := range []string{`{"EventData":{"ProcessGuid":"{a}","ProcessId":"1","UtcTime":"2020-01-01 00:00:00.000"}}`,
		`{"EventData":{"ProcessGuid":"{a}","Hashes":"SHA256"}}`, `{"EventData":[1,2]}`, `{`, ``} {
		f.Add(s, "1600000000")
	}
	f.Fuzz(func(t *testing.T, data, tm string) {
		rows := []map[string]string{{"data": data, "time": tm, "datetime": tm}}
		for _, p := range sysmonProcs(rows) {
			if p.Key == "" {
				t.Fatalf("process without a key from %q", data)
			}
		}
		_ = security4688{}.procs(rows)
		_ = rowTime(tm, tm)
	})
}

// TestOneScan checks the lookup condition: one time range for osquery (the hull of the branches'), each
// branch's own range on +time, which SQLite keeps out of xBestIndex.
func TestOneScan(t *testing.T) {
	for _, c := range []struct {
		name string
		bs   []branch
		want string
	}{
		{"none", nil, ""},
		{"one", []branch{{from: 100, pred: "pid IN (1)"}}, "time >= 100 AND ((pid IN (1)))"},
		{"parents and children", []branch{{to: 500, pred: "pid IN (1)"}, {from: 100, pred: "parent IN (2)"}},
			"time >= 0 AND ((pid IN (1) AND +time <= 500) OR (parent IN (2) AND +time >= 100))"},
		{"shared range", []branch{{from: 100, pred: "a"}, {from: 100, pred: "b"}, {from: 200, to: 300, pred: "c"}},
			"time >= 100 AND ((a) OR (b) OR (c AND +time >= 200 AND +time <= 300))"},
		{"bounded hull", []branch{{from: 100, to: 200, pred: "a"}, {from: 150, to: 400, pred: "b"}},
			"time >= 100 AND time <= 400 AND ((a AND +time <= 200) OR (b AND +time >= 150))"},
		{"shared tests", []branch{{to: 500, on: "eventid = 1", pred: "a"}, {from: 100, on: "eventid = 1", pred: "b"},
			{from: 100, on: "eventid = 7", pred: "c"}, {from: 100, pred: "d"}},
			"time >= 0 AND ((eventid = 1 AND ((a AND +time <= 500) OR (b AND +time >= 100))) OR (eventid = 7 AND ((c AND +time >= 100))) OR (d AND +time >= 100))"},
	} {
		if got := oneScan(c.bs); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}
