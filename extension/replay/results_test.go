package replay

import (
	"strings"
	"testing"
)

// TestWriteResultsLines checks the exact lines osquery's filesystem logger writes for a differential
// query over three runs (first results, a changed row, no change) and for a snapshot query.
func TestWriteResultsLines(t *testing.T) {
	host := hostInfo{identifier: "ws01", hostname: "ws01", uuid: "U1"}
	head := `"hostIdentifier":"ws01","calendarTime":"Tue Dec  1 10:00:00 2026 UTC","unixTime":1796119200,"epoch":0,`
	dec := `"numerics":false,"decorations":{"host_uuid":"U1","hostname":"ws01"}`
	row := func(stage string) map[string]string { return map[string]string{"stage": stage} }
	tests := []struct {
		name string
		item logItem
		runs [][]map[string]string
		want string
	}{{
		name: "differential",
		item: logItem{name: "pack_p_q", host: host, time: 1796119200, removed: true},
		runs: [][]map[string]string{{row("written")}, {row("network")}, {row("network")}},
		want: `{"name":"pack_p_q",` + head + `"counter":0,` + dec + `,"columns":{"stage":"written"},"action":"added"}
{"name":"pack_p_q",` + head + `"counter":1,` + dec + `,"columns":{"stage":"written"},"action":"removed"}
{"name":"pack_p_q",` + head + `"counter":1,` + dec + `,"columns":{"stage":"network"},"action":"added"}
`,
	}, {
		name: "differential without removed",
		item: logItem{name: "pack_p_q", host: host, time: 1796119200},
		runs: [][]map[string]string{{row("written")}, {row("network")}},
		want: `{"name":"pack_p_q",` + head + `"counter":0,` + dec + `,"columns":{"stage":"written"},"action":"added"}
{"name":"pack_p_q",` + head + `"counter":1,` + dec + `,"columns":{"stage":"network"},"action":"added"}
`,
	}, {
		name: "snapshot",
		item: logItem{name: "pack_p_s", host: host, time: 1796119200, snapshot: true},
		runs: [][]map[string]string{nil},
		want: `{"snapshot":[],"action":"snapshot","name":"pack_p_s",` + head + `"counter":0,` + dec + "}\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			var r queryResults
			for i, rows := range tt.runs {
				if _, err := writeResults(&out, &r, tt.item, rows); err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
			if out.String() != tt.want {
				t.Errorf("lines:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}
