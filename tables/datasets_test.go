package tables_test

import (
	"path/filepath"
	"testing"

	"github.com/compilelineage/compile-lineage/internal/datasets"
)

// expectRow is what a detection engineer expects of one compile_lineage row.
type expectRow struct {
	compiler, parent, class, stage, source string
	output                                 string // exact output_path, or empty
	origin                                 string
	suspicious                             string
	reasons                                []string
	notReasons                             []string
}

// TestRealRecordings replays every recording in ../shared/datasets through the harness and
// checks the rows against what happened in each (see SOURCES.md there).
func TestRealRecordings(t *testing.T) {
	dir := datasets.Dir(t)
	tests := []struct {
		file string
		rows []expectRow
	}{
		{"otrf-security-datasets/empire_msbuild_inline_task_via_wmi.jsonl", []expectRow{
			{compiler: "msbuild.exe", parent: "cmd.exe", class: "shell", stage: "network", source: "sysmon", origin: "compiler", suspicious: "1",
				output:  `C:\Users\pgustavo\AppData\Local\Temp\qu22daba\qu22daba.dll`,
				reasons: []string{"parent_remote_admin", "msbuild_inline_project", "temp_source", "user_space_parent_non_dev"}},
			{compiler: "csc.exe", parent: "msbuild.exe", class: "build_system", stage: "network", source: "sysmon", origin: "parent", suspicious: "1",
				output:  `C:\Users\pgustavo\AppData\Local\Temp\tfmbbev2\tfmbbev2.dll`,
				reasons: []string{"cmdline_tempfile", "temp_output", "parent_remote_admin"}},
			{compiler: "csc.exe", parent: "msbuild.exe", class: "build_system", stage: "network", source: "sysmon", origin: "parent", suspicious: "1",
				output:  `C:\Users\pgustavo\AppData\Local\Temp\qu22daba\qu22daba.dll`,
				reasons: []string{"cmdline_tempfile", "temp_output"}},
		}},
		{"otrf-security-datasets/empire_powershell_addtype_csc.jsonl", []expectRow{
			{compiler: "csc.exe", parent: "powershell.exe", class: "script_host", stage: "written", source: "sysmon", suspicious: "1",
				output:  `C:\Users\pgustavo\AppData\Local\Temp\swetvsln\swetvsln.dll`,
				reasons: []string{"cmdline_tempfile", "temp_output", "user_space_parent_non_dev"}},
			{compiler: "csc.exe", parent: "powershell.exe", class: "script_host", stage: "written", source: "sysmon", suspicious: "1",
				output: `C:\Users\pgustavo\AppData\Local\Temp\avdbqyi5\avdbqyi5.dll`, reasons: []string{"cmdline_tempfile"}},
			{compiler: "csc.exe", parent: "powershell.exe", class: "script_host", stage: "written", source: "sysmon", suspicious: "1",
				output: `C:\Users\pgustavo\AppData\Local\Temp\tbj1ab1i\tbj1ab1i.dll`, reasons: []string{"cmdline_tempfile"}},
		}},
		{"otrf-security-datasets/exchange_proxylogon_aspx_webshell_w3wp_compile.jsonl", []expectRow{
			{compiler: "cvtres.exe", parent: "w3wp.exe", class: "web_server", stage: "written", source: "sysmon", suspicious: "1",
				output:  `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\8e05b027\e164d61b\App_Web_llfrjg0v.dll`,
				reasons: []string{"parent_web_server"}},
		}},
		{"evtx-attack-samples/vs2019_devenv_build_with_prebuild_event.jsonl", []expectRow{
			{compiler: "msbuild.exe", parent: "devenv.exe", class: "dev_tool", stage: "compile", source: "sysmon", suspicious: "0"},
		}},
		{"evtx-attack-samples/vbc_stext_hollowed_stealer_not_a_compile.jsonl", []expectRow{
			{compiler: "vbc.exe", parent: "a.exe", class: "unknown", stage: "compile", source: "sysmon", suspicious: "1", reasons: []string{"not_a_compile"}},
			{compiler: "vbc.exe", parent: "bre6bge2jubb.exe", class: "unknown", stage: "compile", source: "sysmon", suspicious: "1", reasons: []string{"not_a_compile"}},
		}},
		{"evtx-attack-samples/art_t1121_csc_library_then_regasm_regsvcs.jsonl", []expectRow{
			{compiler: "csc.exe", parent: "cmd.exe", class: "shell", stage: "compile", source: "sysmon", suspicious: "1",
				output: `C:\AtomicRedTeam\T1121.dll`, reasons: []string{"user_space_parent_non_dev"}, notReasons: []string{"not_a_compile"}},
			{compiler: "csc.exe", parent: "powershell.exe", class: "script_host", stage: "compile", source: "sysmon", suspicious: "1",
				output: `C:\AtomicRedTeam\T1121.dll`, reasons: []string{"user_space_parent_non_dev"}},
		}},
		{"evtx-attack-samples/edr_testing_script_msbuild_csproj.jsonl", []expectRow{
			{compiler: "msbuild.exe", parent: "cmd.exe", class: "shell", stage: "compile", source: "sysmon", suspicious: "1",
				reasons: []string{"user_space_parent_non_dev"}, notReasons: []string{"msbuild_inline_project"}},
		}},
		{"evtx-attack-samples/msbuild_rid_hijack_sam_registry_write.jsonl", nil},
		{"deepbluecli/psattack_powershell_host_csc_security4688.jsonl", []expectRow{
			{compiler: "csc.exe", parent: "psattack.exe", class: "unknown", stage: "compile", source: "security_4688", suspicious: "1", reasons: []string{"cmdline_tempfile", "temp_source"}},
			{compiler: "csc.exe", parent: "psattack.exe", class: "unknown", stage: "compile", source: "security_4688", suspicious: "1", reasons: []string{"cmdline_tempfile"}},
			{compiler: "csc.exe", parent: "psattack.exe", class: "unknown", stage: "compile", source: "security_4688", suspicious: "1", reasons: []string{"cmdline_tempfile"}},
			{compiler: "csc.exe", parent: "psattack.exe", class: "unknown", stage: "compile", source: "security_4688", suspicious: "1", reasons: []string{"cmdline_tempfile"}},
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			rows, _ := replayQuery(t, "SELECT * FROM compile_lineage ORDER BY time, compiler_guid", filepath.Join(dir, tt.file))
			if len(rows) != len(tt.rows) {
				t.Fatalf("got %d rows, want %d: %v", len(rows), len(tt.rows), rows)
			}
			for i, w := range tt.rows {
				r := rows[i]
				for col, want := range map[string]string{"compiler_name": w.compiler, "parent_name": w.parent, "parent_class": w.class,
					"stage": w.stage, "source": w.source, "suspicious": w.suspicious, "connection_origin": w.origin} {
					if r[col] != want {
						t.Errorf("row %d: %s = %q, want %q", i, col, r[col], want)
					}
				}
				if w.output != "" && r["output_path"] != w.output {
					t.Errorf("row %d: output_path = %q, want %q", i, r["output_path"], w.output)
				}
				for _, reason := range w.reasons {
					if !contains(r["reasons"], reason) {
						t.Errorf("row %d: reasons %q lack %s", i, r["reasons"], reason)
					}
				}
				for _, reason := range w.notReasons {
					if contains(r["reasons"], reason) {
						t.Errorf("row %d: reasons %q hold %s", i, r["reasons"], reason)
					}
				}
				if len(r["lineage_id"]) != 36 {
					t.Errorf("row %d: lineage_id %q", i, r["lineage_id"])
				}
			}
		})
	}
	// Every recording must be covered: a new file in shared/datasets needs expectations here.
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.jsonl"))
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		if !seen[filepath.ToSlash(rel)] {
			t.Errorf("recording %s has no expectations", rel)
		}
	}
}

// TestRealRecordingTelemetry checks compile_telemetry's counts against the event counts of a
// recording (SOURCES.md: Sysmon 1: 9, 3: 1, 11: 29; Security 4688: 10).
func TestRealRecordingTelemetry(t *testing.T) {
	dir := datasets.Dir(t)
	rows, _ := replayQuery(t, "SELECT signal, source_table, events, status, used FROM compile_telemetry",
		filepath.Join(dir, "otrf-security-datasets", "empire_msbuild_inline_task_via_wmi.jsonl"))
	got := map[string]string{}
	for _, r := range rows {
		got[r["signal"]+" "+r["source_table"]] = r["events"] + " " + r["status"] + " used=" + r["used"]
	}
	for k, want := range map[string]string{
		"process windows_events:Microsoft-Windows-Sysmon/Operational": "9 ok used=1",
		"process windows_events:Security/4688":                        "10 ok used=0",
		"file windows_events:Microsoft-Windows-Sysmon/Operational":    "29 ok used=1",
		"network windows_events:Microsoft-Windows-Sysmon/Operational": "1 ok used=1",
		"process process_etw_events":                                  "0 disabled used=0",
	} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
}
