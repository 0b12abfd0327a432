package replay

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzParseFixture(f *testing.F) {
	f.Add(`{"process_events":[{"pid":"1","time":1700000000}],"socket_events":[]}`)
	f.Add(`{"processes":[{"pid":"x"}]}`)
	f.Add(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","UtcTime":"2020-09-22 08:22:42.756","Image":"C:\\x.exe"}` + "\n" +
		`{"EventID":4688,"Channel":"security","EventTime":"2020-09-22 04:22:43","NewProcessName":"C:\\y.exe"}`)
	f.Add(`{"EventID":11,"Channel":"Security","TimeCreated":"2021-03-14T01:40:13.660Z","Keywords":"0x8000000000000000"}`)
	b, _ := json.Marshal(map[string]any{"EventXML": sysmonXML})
	f.Add(string(b))
	f.Add("\n\n{")
	f.Fuzz(func(t *testing.T, input string) {
		fx, err := ParseFixture("fuzz", strings.NewReader(input))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		for _, rows := range fx.Tables() {
			for _, r := range rows {
				if d, ok := r["data"]; ok && !json.Valid([]byte(d)) {
					t.Fatalf("data is not JSON: %q", d)
				}
			}
		}
		_ = fx.Newest()
	})
}

func FuzzWindowsEventXML(f *testing.F) {
	f.Add(sysmonXML)
	f.Add(unnamedXML)
	f.Add(userDataXML)
	f.Add(`<Event><System><Provider Name="p"/><EventID>1</EventID><Task>1</Task><Level>4</Level><TimeCreated SystemTime="2020-01-01T00:00:00Z"/><Channel>c</Channel></System><EventData/></Event>`)
	f.Add(`<Event><EventData><Data Name="a">1</Data><Data>2</Data><Binary>00</Binary></EventData></Event>`)
	f.Fuzz(func(t *testing.T, x string) {
		row, err := WindowsEventXMLRow(x)
		if err != nil {
			return
		}
		if !json.Valid([]byte(row["data"])) {
			t.Fatalf("data is not JSON: %q", row["data"])
		}
		if row["source"] == "" || row["provider_name"] == "" || row["eventid"] == "" {
			t.Fatalf("row without source/provider/eventid: %v", row)
		}
	})
}

func FuzzParsePack(f *testing.F) {
	f.Add(`{"discovery":["SELECT 1"],"queries":{"q":{"query":"SELECT 1","interval":60,"removed":false}}}`)
	f.Add("# comment\n{\"platform\":\"linux\",\"queries\":{\"q\":{\"query\":\"SELECT \\\n 1\",\"interval\":\"300\",\"snapshot\":true}}}")
	f.Add(`{"queries":{"q":{"query":""}}}`)
	f.Fuzz(func(t *testing.T, input string) {
		p, err := ParsePack("fuzz", []byte(input))
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") && !strings.Contains(err.Error(), "token too long") {
				t.Fatalf("error does not name the pack: %v", err)
			}
			return
		}
		for _, q := range p.Queries {
			if strings.TrimSpace(q.SQL) == "" || q.Interval < 0 || q.Interval > 604800 {
				t.Fatalf("accepted query %+v", q)
			}
		}
	})
}
