package vmassert

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The seed corpora under testdata/fuzz/ come from the recorded osqueryi outputs, result-log lines and
// Sysmon windows_events rows of the tests.

func FuzzParseShellJSON(f *testing.F) {
	f.Add([]byte("Connected to extension socket \\\\.\\pipe\\osquery.em for debugging\n[\n  {\"a\":\"1\"}\n]\n"))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseShellJSON("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error %q does not name the input", err)
			}
			return
		}
		for _, r := range rows {
			if r == nil {
				t.Fatal("nil row")
			}
		}
	})
}

func FuzzReadResultLog(f *testing.F) {
	f.Add([]byte(`{"name":"pack_p_q","hostIdentifier":"h","unixTime":1,"columns":{"a":"1"},"action":"added"}` + "\n"))
	f.Add([]byte(`{"name":"pack_p_r","unixTime":"2","diffResults":{"added":[{"x":"1"}],"removed":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := ReadResultLog("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the input and line", err)
			}
			return
		}
		for _, l := range lines {
			if len(l.Raw) == 0 || !bytes.Contains(data, l.Raw) {
				t.Fatalf("line %q is not from the input", l.Raw)
			}
		}
	})
}

func FuzzBuildTree(f *testing.F) {
	f.Add(`{"EventData":{"ProcessGuid":"{A}","ParentProcessGuid":"{B}","ProcessId":"4","CommandLine":"x\\scenarios\\attack_x\\run.ps1","UtcTime":"2026-11-21 09:00:01.250"}}`, "attack_x")
	f.Fuzz(func(t *testing.T, data, scenario string) {
		tree, err := BuildTree([]map[string]string{{"data": data}, {"data": data}})
		if err != nil {
			return
		}
		if tree.Len() != 1 {
			t.Fatalf("%d processes from one event given twice", tree.Len())
		}
		for g, p := range tree.Subtree(scenario) {
			if g != p.GUID || g != strings.ToLower(g) {
				t.Fatalf("subtree key %q for %+v", g, p)
			}
		}
	})
}

func FuzzCapPackIntervals(f *testing.F) {
	f.Add([]byte(`{"queries":{"a":{"query":"SELECT 1","interval":1800}}}`), 60)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		out, err := CapPackIntervals("fuzz", data, limit)
		if err != nil {
			return
		}
		var pack struct {
			Queries map[string]struct {
				Interval int `json:"interval"`
			} `json:"queries"`
		}
		if err := json.Unmarshal(out, &pack); err != nil {
			t.Fatalf("output is not JSON: %v", err)
		}
		for n, q := range pack.Queries {
			if q.Interval < 1 || q.Interval > limit {
				t.Fatalf("query %s interval %d outside 1..%d", n, q.Interval, limit)
			}
		}
	})
}
