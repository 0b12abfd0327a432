package expect

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const validExpected = `{
  "scenario": "attack_x",
  "kind": "attack",
  "description": "d",
  "listener_port": 38471,
  "own_paths": ["\\clab\\x\\"],
  "lineage": [{"compiler_name": "csc.exe", "parent_name": "mshta.exe", "parent_class": "script_host",
    "stage": "network", "output_path_pattern": "(?i)\\\\clab\\\\update\\.exe$", "min_executions": 1,
    "min_connections": 1, "connection_origin": "artifact", "suspicious": 1,
    "required_reasons": ["parent_elastic_list"], "forbidden_reasons": ["not_a_compile"]}],
  "telemetry_signals": ["process"],
  "pack_queries": [{"name": "pack_p_q", "match": {"parent_name": "mshta.exe", "output_path": "~(?i)update\\.exe$"}}],
  "forbidden_pack_queries": [],
  "correlator": {"alert_roles": ["user_endpoint"], "quiet_roles": [], "score_higher": [["user_endpoint", "build_server"]],
    "min_severity": {"user_endpoint": "high"}},
  "known_failures": []
}`

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{name: "valid", edit: func(s string) string { return s }},
		{name: "missing top key", edit: func(s string) string { return strings.Replace(s, `"listener_port": 38471,`, "", 1) },
			wantErr: `missing key "listener_port"`},
		{name: "WinRM's HTTP.sys port", edit: func(s string) string { return strings.Replace(s, `38471`, `47001`, 1) },
			wantErr: "listener_port 47001 is used by WinRM"},
		{name: "dynamic port range", edit: func(s string) string { return strings.Replace(s, `38471`, `49152`, 1) },
			wantErr: "below Windows' dynamic port range"},
		{name: "own path without a folder", edit: func(s string) string { return strings.Replace(s, `"\\clab\\x\\"`, `"x"`, 1) },
			wantErr: "own_paths[0]"},
		{name: "missing row key", edit: func(s string) string { return strings.Replace(s, `"suspicious": 1,`, "", 1) },
			wantErr: `lineage[0]: missing key "suspicious"`},
		{name: "unknown key", edit: func(s string) string { return strings.Replace(s, `"kind"`, `"extra": 1, "kind"`, 1) },
			wantErr: `unknown field "extra"`},
		{name: "kind mismatch", edit: func(s string) string { return strings.Replace(s, `"kind": "attack"`, `"kind": "benign"`, 1) },
			wantErr: "does not match scenario"},
		{name: "unknown stage", edit: func(s string) string { return strings.Replace(s, `"stage": "network"`, `"stage": "ran"`, 1) },
			wantErr: `stage "ran" unknown`},
		{name: "unknown reason", edit: func(s string) string { return strings.Replace(s, `["parent_elastic_list"]`, `["bad"]`, 1) },
			wantErr: `reason "bad" unknown`},
		{name: "bad pattern", edit: func(s string) string { return strings.Replace(s, `(?i)\\\\clab`, `(?i)[`, 1) },
			wantErr: "output_path_pattern"},
		{name: "bad match regexp", edit: func(s string) string { return strings.Replace(s, `~(?i)update`, `~(`, 1) },
			wantErr: "pack query pack_p_q: match output_path"},
		{name: "unknown role", edit: func(s string) string { return strings.Replace(s, `["user_endpoint"]`, `["laptop"]`, 1) },
			wantErr: `unknown role "laptop"`},
		{name: "attack without ordering", edit: func(s string) string {
			return strings.Replace(s, `[["user_endpoint", "build_server"]]`, `[]`, 1)
		}, wantErr: "needs score_higher"},
		{name: "unknown severity", edit: func(s string) string {
			return strings.Replace(s, `{"user_endpoint": "high"}`, `{"user_endpoint": "severe"}`, 1)
		},
			wantErr: "bad min_severity user_endpoint: severe"},
		{name: "known failure without reason", edit: func(s string) string {
			return strings.Replace(s, `"known_failures": []`, `"known_failures": [{"match": "x", "reason": ""}]`, 1)
		}, wantErr: "known_failures[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := Parse("e.json", []byte(tt.edit(validExpected)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "e.json: ") {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if e.Lineage[0].CompilerName != "csc.exe" || e.ListenerPort != 38471 || e.Correlator.ScoreHigher[0] != [2]string{"user_endpoint", "build_server"} {
				t.Fatalf("decoded %+v", e)
			}
		})
	}
}

func goodRow() map[string]string {
	return map[string]string{
		"compiler_name": "csc.exe", "parent_name": "mshta.exe", "parent_class": "script_host", "stage": "network",
		"output_path": `C:\Users\v\AppData\Local\Temp\clab\update.exe`, "executions": "1", "connections": "2",
		"connection_origin": "artifact", "suspicious": "1", "reasons": "parent_elastic_list;temp_output",
	}
}

func TestRowMatch(t *testing.T) {
	t.Parallel()
	e, err := Parse("e.json", []byte(validExpected))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := e.Lineage[0]
	tests := []struct {
		name string
		edit func(map[string]string)
		miss []string // substrings of the mismatches, empty = match
	}{
		{name: "match", edit: func(map[string]string) {}},
		{name: "stage", edit: func(r map[string]string) { r["stage"] = "executed" }, miss: []string{`stage="executed" want "network"`}},
		{name: "too few connections", edit: func(r map[string]string) { r["connections"] = "0" }, miss: []string{`connections="0" want >= 1`}},
		{name: "not a number", edit: func(r map[string]string) { r["executions"] = "" }, miss: []string{`executions="" want >= 1`}},
		{name: "output path", edit: func(r map[string]string) { r["output_path"] = `C:\x\other.exe` }, miss: []string{"does not match"}},
		{name: "missing reason", edit: func(r map[string]string) { r["reasons"] = "temp_output" }, miss: []string{"reason parent_elastic_list missing"}},
		{name: "forbidden reason", edit: func(r map[string]string) { r["reasons"] += ";not_a_compile" }, miss: []string{"reason not_a_compile present"}},
		{name: "two mismatches", edit: func(r map[string]string) { r["suspicious"], r["connection_origin"] = "0", "parent" },
			miss: []string{`connection_origin="parent" want "artifact"`, `suspicious="0" want "1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			row := goodRow()
			tt.edit(row)
			got := want.Mismatches(row)
			if len(got) != len(tt.miss) {
				t.Fatalf("mismatches %q, want %d like %q", got, len(tt.miss), tt.miss)
			}
			for i, m := range tt.miss {
				if !strings.Contains(got[i], m) {
					t.Errorf("mismatch %d = %q, want it to contain %q", i, got[i], m)
				}
			}
			idx, why := want.Match([]map[string]string{{"compiler_name": "vbc.exe"}, row})
			if (idx == 1) != (len(tt.miss) == 0) {
				t.Fatalf("Match = %d %q", idx, why)
			}
			if idx < 0 && !strings.HasPrefix(why[0], "closest row csc.exe<-mshta.exe") {
				t.Errorf("Match explained with %q, want the csc<-mshta row as closest", why[0])
			}
		})
	}
}

func TestParseResultLogAndCheckPack(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "results.log")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	rows, err := ParseResultLog(path, f)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Name[len("pack_compile_after_delivery_"):]+"/"+r.Action+"/"+r.Columns["compiler_name"]+r.Columns["signal"])
	}
	want := []string{"compile_suspicious/added/csc.exe", "compile_baseline/removed/csc.exe", "compile_baseline/added/vbc.exe",
		"compile_telemetry_gaps/snapshot/network", "compile_telemetry_gaps/snapshot/file"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if rows[1].UnixTime != 1795168801 || rows[2].Columns["executions"] != "3" || rows[4].Columns["events"] != "" {
		t.Errorf("string unixTime, numeric and null columns not converted: %+v %+v", rows[1], rows[2])
	}

	e := &Expected{
		PackQueries: []PackQuery{
			{Name: "pack_compile_after_delivery_compile_suspicious", Match: map[string]string{"parent_name": "MSHTA.EXE", "output_path": `~(?i)\\clab\\mshta\\`}},
			{Name: "pack_compile_after_delivery_compile_baseline", Match: map[string]string{"compiler_name": "csc.exe"}}, // only removed
			{Name: "pack_compile_after_delivery_compile_artifact_network"},
		},
		ForbiddenPackQueries: []PackQuery{
			{Name: "pack_compile_after_delivery_compile_baseline", Match: map[string]string{"compiler_name": "vbc.exe"}},
			{Name: "pack_compile_after_delivery_compile_suspicious", Match: map[string]string{"parent_name": "wscript.exe"}},
		},
	}
	fails := CheckPack(e, rows)
	if len(fails) != 3 || !strings.Contains(fails[0], "compile_baseline logged no row") ||
		!strings.Contains(fails[1], "compile_artifact_network logged no row") || !strings.Contains(fails[2], "compile_baseline logged a row") {
		t.Fatalf("CheckPack = %q", fails)
	}
}

func TestParseResultLogErrors(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"{\"name\":\"a\",\"columns\":{}}\nnot json\n": "log:2:",
		`{"columns":{}}`: "log:1: result line without a name",
		`{"name":"a","unixTime":1.5,"columns":{}}`: "log:1: unixTime",
		`{"name":"a"}`: "log:1: a has no columns",
	} {
		if _, err := ParseResultLog("log", strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseResultLog(%q) error %v, want %q", in, err, want)
		}
	}
}

func TestCheckCorrelator(t *testing.T) {
	t.Parallel()
	e := &Expected{Correlator: Correlator{
		AlertRoles:  []string{"user_endpoint"},
		QuietRoles:  []string{"build_server"},
		ScoreHigher: [][2]string{{"user_endpoint", "build_server"}, {"domain_controller", "build_server"}},
		MinSeverity: map[string]string{"user_endpoint": "high"},
	}}
	alerts := `{"host":"cl-win","role":"user_endpoint","lineage_id":"a","score":80,"severity":"high"}
{"host":"cl-win","role":"user_endpoint","lineage_id":"b","score":10,"severity":"informational","below_threshold":true}
`
	ue, err := ParseAlerts("ue", strings.NewReader(alerts))
	if err != nil {
		t.Fatalf("parse alerts: %v", err)
	}
	tests := []struct {
		name   string
		byRole map[string][]Alert
		want   []string
	}{
		{name: "as expected", byRole: map[string][]Alert{
			"user_endpoint": ue, "build_server": {{Score: 30, BelowThreshold: true}}, "domain_controller": {{Score: 90}},
		}},
		{name: "build server alerts and outscores", byRole: map[string][]Alert{
			"user_endpoint": ue, "build_server": {{Score: 85, Severity: "high"}}, "domain_controller": {{Score: 85}},
		}, want: []string{"1 alert(s) as build_server", "top score as user_endpoint (80.0) is not above build_server (85.0)",
			"top score as domain_controller (85.0) is not above build_server (85.0)"}},
		{name: "no alert and missing role", byRole: map[string][]Alert{
			"user_endpoint": {{Score: 39, BelowThreshold: true}}, "build_server": nil,
		}, want: []string{"correlator was not run with role domain_controller", "no alert as user_endpoint (top score 39.0)",
			"most severe alert as user_endpoint is none, want at least high",
			"top score as domain_controller (0.0) is not above build_server (0.0)"}},
		{name: "severity too low", byRole: map[string][]Alert{
			"user_endpoint": {{Score: 60, Severity: "medium"}}, "build_server": nil, "domain_controller": {{Score: 90}},
		}, want: []string{"most severe alert as user_endpoint is medium, want at least high"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CheckCorrelator(e, tt.byRole)
			if len(got) != len(tt.want) {
				t.Fatalf("CheckCorrelator = %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("failure %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestTriage(t *testing.T) {
	t.Parallel()
	known := []KnownFailure{{Match: "as developer_workstation", Reason: "r1"}, {Match: "never", Reason: "r2"}}
	unexpected, hit, stale := Triage([]string{"1 alert(s) as developer_workstation", "stage wrong"}, known)
	if !slices.Equal(unexpected, []string{"stage wrong"}) || len(hit) != 1 || !strings.Contains(hit[0], "[known: r1]") ||
		len(stale) != 1 || stale[0].Match != "never" {
		t.Fatalf("Triage = %q %q %+v", unexpected, hit, stale)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validExpected))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"scenario":"benign_x","kind":"benign","description":"","listener_port":0,"lineage":[],"pack_queries":[],"correlator":{}}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		if len(e.Lineage) == 0 || !strings.HasPrefix(e.Scenario, e.Kind+"_") {
			t.Fatalf("Parse accepted %q", data)
		}
		for _, r := range e.Lineage {
			r.Mismatches(map[string]string{})
		}
	})
}

func FuzzParseResultLog(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "results.log"))
	if err != nil {
		f.Fatalf("read seed: %v", err)
	}
	f.Add(seed)
	f.Add([]byte(`{"name":"a","unixTime":"x","columns":{}}`))
	f.Add([]byte("{\"name\":\"a\",\"snapshot\":[{\"k\":[1,{\"x\":null}]}]}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseResultLog("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Name == "" || r.Action == "" {
				t.Fatalf("row without name or action from %q", data)
			}
		}
		CheckPack(&Expected{PackQueries: []PackQuery{{Name: "a", Match: map[string]string{"k": "~x"}}}}, rows)
	})
}

func FuzzParseAlerts(f *testing.F) {
	f.Add([]byte(`{"host":"h","role":"user_endpoint","score":99.5,"below_threshold":true}` + "\n"))
	f.Add([]byte(`{"score":"high"}`))
	f.Add([]byte("\n\n[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		alerts, err := ParseAlerts("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		CheckCorrelator(&Expected{Correlator: Correlator{QuietRoles: []string{"server"}}}, map[string][]Alert{"server": alerts})
	})
}
