package lineage

import (
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

func rows(t *testing.T, line string) []Record {
	t.Helper()
	var out []Record
	p := resultlog.NewParser()
	_, err := p.Parse([]byte(line), func(r *resultlog.Row) error {
		if rec, ok := FromRow(r.Host.Key(), r.Columns); ok {
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFromRowLineage(t *testing.T) {
	t.Parallel()
	got := rows(t, `{"decorations":{"host_uuid":"U1"},"action":"added","columns":{"lineage_id":"L1","time":"1764000000","compiler_pid":"42","compiler_path":"C:\\W\\csc.exe","compiler_name":"CSC.EXE","parent_name":"mshta.exe","parent_class":"script_host","artifact_written":"1","executions":"2","first_remote_port":"443","stage":"network","suspicious":"1","reasons":"parent_elastic_list;;temp_output","telemetry_gaps":"","unknown_column":"x"}}`)
	want := []Record{{
		LineageID: "L1", Time: 1764000000, CompilerPID: 42, CompilerPath: `C:\W\csc.exe`, CompilerName: "csc.exe",
		ParentName: "mshta.exe", ParentClass: "script_host", ArtifactWritten: true, Executions: 2, FirstRemotePort: 443,
		Stage: "network", Suspicious: true, Reasons: []string{"parent_elastic_list", "temp_output"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestFromRowFallback(t *testing.T) {
	t.Parallel()
	line := `{"decorations":{"host_uuid":"U1"},"action":"added","columns":{"time":"1764003000","compiler_pid":"7001","compiler_path":"C:\\Windows\\Microsoft.NET\\csc.exe","compiler_cmdline":"csc /out:x.exe","parent_path":"C:\\Windows\\System32\\MSHTA.EXE","parent_cmdline":"mshta x.hta","fallback":"elastic_dotnet_parent"}}`
	got := rows(t, line)
	if len(got) != 1 {
		t.Fatalf("got %d records", len(got))
	}
	r := got[0]
	wantID := uuid.NewSHA1(FallbackNamespace, []byte(`U1|7001|1764003000|c:\windows\microsoft.net\csc.exe`)).String()
	if r.LineageID != wantID || r.Stage != StageCompile || r.CompilerName != "csc.exe" || r.ParentName != "mshta.exe" || r.Fallback != "elastic_dotnet_parent" {
		t.Errorf("fallback record = %+v, want id %s at compile stage", r, wantID)
	}
	// Same row again: same id (dedup works across differential re-emission).
	if again := rows(t, line); again[0].LineageID != r.LineageID {
		t.Errorf("fallback id not stable: %s vs %s", again[0].LineageID, r.LineageID)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want Kind
	}{
		{`{"columns":{"lineage_id":"a","compiler_name":"csc.exe","stage":"compile"}}`, KindLineage},
		{`{"columns":{"compiler_path":"/usr/bin/gcc","fallback":"linux_tmp_compiler"}}`, KindFallback},
		{`{"columns":{"lineage_id":"a","compiler_path":"x","fallback":"y"}}`, KindOther},
		{`{"columns":{"pid":"1","name":"csc.exe"}}`, KindOther},
	}
	p := resultlog.NewParser()
	for _, tt := range tests {
		var got Kind = -1
		if _, err := p.Parse([]byte(tt.line), func(r *resultlog.Row) error { got = Classify(r.Columns); return nil }); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Classify(%s) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestBaseNameAndStages(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{`C:\A\CSC.exe`: "csc.exe", "/usr/bin/gcc": "gcc", "x": "x", "": ""} {
		if got := BaseName(in); got != want {
			t.Errorf("BaseName(%q) = %q, want %q", in, got, want)
		}
	}
	if !(StageRank(StageNetwork) > StageRank(StageExecuted) && StageRank(StageExecuted) > StageRank(StageWritten) && StageRank(StageWritten) > StageRank(StageCompile)) {
		t.Error("stage ranks out of order")
	}
}

func TestScoringFieldsAreFromRowsScoringPart(t *testing.T) {
	t.Parallel()
	p := resultlog.NewParser()
	line := []byte(`{"name":"q","hostIdentifier":"h","unixTime":1,"columns":{"lineage_id":"id-1","time":"7","platform":"windows","source":"sysmon","compiler_pid":"42","compiler_guid":"{g}","compiler_path":"C:\\x\\csc.exe","compiler_name":"CSC.EXE","compiler_original_name":"csc.exe","compiler_cmdline":"csc \"a b\"","compiler_user":"CORP\\u","parent_pid":"4","parent_path":"C:\\w\\mshta.exe","parent_name":"mshta.exe","parent_cmdline":"mshta x","ancestry":"explorer.exe > mshta.exe","parent_class":"script_host","output_path":"C:\\Users\\Public\\x.exe","output_source":"both","artifact_written":"1","artifact_sha256":"ab","executions":"2","connections":"1","first_remote_address":"203.0.113.7","first_remote_port":"443","connection_origin":"artifact","followup_processes":"cmd.exe","stage":"network","link_evidence":"exec:path","suspicious":"1","reasons":"temp_output;parent_elastic_list","telemetry_gaps":"dns"},"action":"added"}`)
	var full, scoring Record
	if _, err := p.Parse(line, func(row *resultlog.Row) error {
		full, _ = FromRow("h", row.Columns)
		scoring, _ = ScoringFields("h", row.Columns)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if full.CompilerCmdline != `csc "a b"` || full.Ancestry == "" || full.FirstRemoteAddress != "203.0.113.7" {
		t.Fatalf("full record = %+v", full)
	}
	// ScoringFields leaves exactly the display columns empty.
	want := full
	want.Platform, want.Source, want.CompilerGUID, want.CompilerCmdline, want.CompilerUser = "", "", "", "", ""
	want.ParentCmdline, want.Ancestry, want.OutputSource, want.ArtifactSHA256 = "", "", "", ""
	want.FirstRemoteAddress, want.FollowupProcesses, want.LinkEvidence, want.TelemetryGaps = "", "", "", nil
	if !reflect.DeepEqual(scoring, want) {
		t.Errorf("scoring fields:\n%+v\nwant\n%+v", scoring, want)
	}
	var completed Record
	if _, err := p.Parse(line, func(row *resultlog.Row) error {
		completed, _ = ScoringFields("h", row.Columns)
		Complete(&completed, row.Columns)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(completed, full) {
		t.Errorf("completed:\n%+v\nwant\n%+v", completed, full)
	}
}
