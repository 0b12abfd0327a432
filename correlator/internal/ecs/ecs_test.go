package ecs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// sharedFields loads ../shared/ecs-fields.json beside the repository. It
// skips when the folder is absent, and fails instead under CI.
func sharedFields(t testing.TB) Fields {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "ecs-fields.json")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: %v", path, err)
		}
		t.Skipf("%s is missing", path)
	}
	f, err := LoadFields(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fullAlert has every record field set, an MSBuild compiler under wmic and
// a network stage.
func fullAlert() *alert.Alert {
	return &alert.Alert{
		AlertID: "a22ac31d46950654164c", Kind: alert.KindLineage, Time: "2025-11-24T16:16:40Z", ObservedTime: "2025-11-24T16:17:40Z",
		Host: "DC-01", HostUUID: "8a1d1e2f-0000-4000-8000-00000000dc01", HostIdentifier: "DC-01", Hostname: "dc-01.corp.example",
		Role: "domain_controller", Roles: []string{"domain_controller"}, RoleLabel: "roles.csv:5",
		LineageID: "0b4e7c1d-2f3a-5b6c-8d9e-0f1a2b3c4d5e", Score: 85.43, Severity: "critical", Stage: "network",
		LogOdds: 9.7, Evidence: 14.3, Probability: 0.997, Prior: 0.02, Impact: 2,
		Reasons:     []score.Reason{{Code: "stage_network", Points: 18.96, Bits: 4.58, Detail: "the compile chain connected out (x24)"}},
		ReasonCodes: []string{"msbuild_inline_project"}, Techniques: []string{"T1027.004", "T1127.001", "T1047"},
		Tactics: []string{"TA0005", "TA0002", "TA0011"}, Query: "pack/Global/compile_lineage", Input: "x.jsonl:1",
		Exception: &alert.ExceptionNote{ID: "x", Owner: "o", Reason: "r", Expires: "2026-01-01", Source: "e.yaml:2", Status: "expired"},
		Realert:   true,
		Record: lineage.Record{
			LineageID: "0b4e7c1d-2f3a-5b6c-8d9e-0f1a2b3c4d5e", Time: 1764000000, Platform: "windows", Source: "sysmon",
			CompilerPID: 4242, CompilerGUID: "{11111111-2222-3333-4444-555555555555}",
			CompilerPath: `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\MSBuild.exe`, CompilerName: "msbuild.exe",
			CompilerOriginalName: "MSBuild.exe", CompilerCmdline: `MSBuild.exe C:\Windows\Temp\p.csproj`, CompilerUser: `CORP\alice`,
			ParentPID: 4100, ParentPath: `C:\Windows\System32\wbem\WMIC.exe`, ParentName: "wmic.exe", ParentCmdline: "wmic process call create",
			Ancestry: "wmiprvse.exe > wmic.exe > msbuild.exe", ParentClass: "lolbin", OutputPath: `C:\Windows\Temp\p.dll`,
			OutputSource: "cmdline", ArtifactWritten: true, ArtifactWrittenTime: 1764000001, ArtifactSHA256: strings.Repeat("ab", 32),
			Executions: 1, FirstExecPID: 5000, FirstExecTime: 1764000002, Connections: 2, FirstRemoteAddress: "203.0.113.7",
			FirstRemotePort: 443, ConnectionOrigin: "artifact", FollowupProcesses: "cmd.exe", Stage: "network",
			LinkEvidence: "write:process_guid", Suspicious: true, Reasons: []string{"msbuild_inline_project"}, TelemetryGaps: []string{"dns"},
		},
	}
}

func hostAlert() *alert.Alert {
	return &alert.Alert{
		AlertID: "h1", Kind: alert.KindHostRisk, Time: "2025-11-24T18:00:00Z", Host: "WS-7", HostUUID: "u-7", Role: "user_endpoint",
		Score: 47.1, Severity: "medium",
		HostRisk: &alert.HostRisk{Window: "24h0m0s", Since: "2025-11-23T18:00:00Z", Sum: 131.4, Threshold: 100, Band: "medium",
			Lineages: []alert.HostRiskLineage{
				{LineageID: "l1", Score: 47.1, Severity: "low", Stage: "compile", Time: "2025-11-24T10:00:00Z", Techniques: []string{"T1027.004"}, Tactics: []string{"TA0005"}},
				{LineageID: "l2", Score: 44.3, Severity: "low", Stage: "written", Time: "2025-11-24T12:00:00Z", Techniques: []string{"T1027.004", "T1059.001"}, Tactics: []string{"TA0005"}},
				{LineageID: "l3", Score: 40, Severity: "low", Stage: "compile", Time: "2025-11-24T18:00:00Z", Techniques: []string{"T1027.004"}, Tactics: []string{"TA0005"}},
			}},
	}
}

func decode(t *testing.T, a *alert.Alert) map[string]any {
	t.Helper()
	b, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func get(m map[string]any, path string) any {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestDocumentsAreValidECS(t *testing.T) {
	t.Parallel()
	f := sharedFields(t)
	for _, a := range []*alert.Alert{fullAlert(), hostAlert(), {AlertID: "min", Kind: alert.KindLineage, Time: "2025-11-24T16:16:40Z", Host: "h", Severity: "low", Techniques: []string{"T1027.004"}, Tactics: []string{"TA0005"}}} {
		doc := decode(t, a)
		if errs := Validate(doc, f); len(errs) > 0 {
			t.Errorf("alert %s is not valid ECS:\n%s", a.AlertID, strings.Join(errs, "\n"))
		}
	}
}

func TestLineageMapping(t *testing.T) {
	t.Parallel()
	d := decode(t, fullAlert())
	want := map[string]any{
		"@timestamp": "2025-11-24T16:16:40Z", "event.kind": "alert", "event.id": "a22ac31d46950654164c",
		"event.created": "2025-11-24T16:17:40Z", "event.risk_score": 85.43, "event.severity": 99.0,
		"host.name": "DC-01", "host.id": "8a1d1e2f-0000-4000-8000-00000000dc01", "host.hostname": "dc-01.corp.example",
		"process.name": "msbuild.exe", "process.pid": 4242.0, "process.parent.name": "wmic.exe", "process.parent.pid": 4100.0,
		"process.pe.original_file_name": "MSBuild.exe", "user.name": "alice", "user.domain": "CORP",
		"file.path": `C:\Windows\Temp\p.dll`, "file.name": "p.dll", "destination.ip": "203.0.113.7", "destination.port": 443.0,
		"compile_lineage.lineage_id": "0b4e7c1d-2f3a-5b6c-8d9e-0f1a2b3c4d5e", "compile_lineage.source": "sysmon",
		"compile_lineage.host_identifier": "DC-01", "compile_lineage.stage": "network", "compile_lineage.exception.id": "x",
	}
	for path, w := range want {
		if got := get(d, path); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	lists := map[string][]any{
		"event.category":                     {"process", "intrusion_detection"},
		"event.type":                         {"info"},
		"threat.technique.id":                {"T1027", "T1127", "T1047"},
		"threat.technique.subtechnique.id":   {"T1027.004", "T1127.001"},
		"threat.technique.subtechnique.name": {"Compile After Delivery", "MSBuild"},
		"threat.tactic.id":                   {"TA0005", "TA0002", "TA0011"},
		"threat.tactic.name":                 {"Defense Evasion", "Execution", "Command and Control"},
		"related.hosts":                      {"DC-01", "dc-01.corp.example"},
	}
	for path, w := range lists {
		got, _ := get(d, path).([]any)
		if !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	// The native alert's top-level host and source strings are gone.
	if _, ok := d["host"].(map[string]any); !ok {
		t.Errorf("host is %T, want an object", d["host"])
	}
	if _, ok := d["source"]; ok {
		t.Errorf("source present at top level: %v", d["source"])
	}
}

func TestHostRiskMapping(t *testing.T) {
	t.Parallel()
	d := decode(t, hostAlert())
	if get(d, "host.risk.calculated_score") != 131.4 || get(d, "host.risk.calculated_level") != "medium" || get(d, "rule.id") != "compile_lineage_host_risk" {
		t.Errorf("host risk fields: %v %v %v", get(d, "host.risk.calculated_score"), get(d, "host.risk.calculated_level"), get(d, "rule.id"))
	}
	ls, _ := get(d, "compile_lineage.host_risk.lineages").([]any)
	if len(ls) != 3 {
		t.Errorf("lineages listed: %v", ls)
	}
	if got, _ := get(d, "threat.technique.subtechnique.id").([]any); !slices.Equal(got, []any{"T1027.004", "T1059.001"}) {
		t.Errorf("techniques of the host alert: %v", got)
	}
	if get(d, "process") != nil || get(d, "compile_lineage.lineage_id") != nil {
		t.Errorf("host alert carries lineage fields: %v", d)
	}
}

// TestValidateCatchesBadDocuments shows the validator fails where it must.
func TestValidateCatchesBadDocuments(t *testing.T) {
	t.Parallel()
	f := sharedFields(t)
	good := func() map[string]any { return decode(t, fullAlert()) }
	tests := []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"scalar host", func(d map[string]any) { d["host"] = "DC-01" }, "host: a scalar (string) where ECS has an object"},
		{"scalar source", func(d map[string]any) { d["source"] = "sysmon" }, "source: a scalar (string) where ECS has an object"},
		{"unknown field", func(d map[string]any) { d["lineage_id"] = "x" }, "lineage_id: not an ECS field and not under compile_lineage.*"},
		{"wrong type", func(d map[string]any) { d["process"].(map[string]any)["pid"] = "4242" }, "process.pid: 4242 (string) is not a valid long"},
		{"bad ip", func(d map[string]any) { d["destination"].(map[string]any)["ip"] = "evil.example" }, "destination.ip: evil.example (string) is not a valid ip"},
		{"kind", func(d map[string]any) { d["event"].(map[string]any)["kind"] = "incident" }, `event.kind: "incident" is not an allowed value`},
		{"pair", func(d map[string]any) { d["event"].(map[string]any)["type"] = []any{"start"} }, "event.type start is not expected with event.category intrusion_detection"},
		{"array", func(d map[string]any) { d["host"].(map[string]any)["name"] = []any{"a", "b"} }, "host.name: an array where ECS expects one value"},
		{"date", func(d map[string]any) { d["@timestamp"] = "yesterday" }, "@timestamp: yesterday (string) is not a valid date"},
	}
	for _, tt := range tests {
		d := good()
		tt.change(d)
		errs := Validate(d, f)
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
			t.Errorf("%s: errors %v, want one containing %q", tt.name, errs, tt.want)
		}
	}
}
