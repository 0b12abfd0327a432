package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/internal/datasets"
)

// TestRealTelemetryThroughExtension replays real Windows event samples
// through the extension (its replay harness builds compile_lineage rows
// from them), wraps the rows as osquery result-log lines, and scores them
// with host roles.
func TestRealTelemetryThroughExtension(t *testing.T) {
	t.Parallel()
	data := datasets.Dir(t)
	root, err := datasets.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ext := filepath.Join(t.TempDir(), "ext")
	build := exec.Command("go", "build", "-o", ext, "./extension")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the extension does not build, so its replay harness cannot produce rows: %v\n%s", err, out)
	}
	tests := []struct {
		file, host, role string
		alert            bool
		minSeverity      string
		technique        string
	}{
		{"otrf-security-datasets/exchange_proxylogon_aspx_webshell_w3wp_compile.jsonl", "MXS01", "server", true, "high", "T1027.004"},
		{"otrf-security-datasets/empire_msbuild_inline_task_via_wmi.jsonl", "WKS-EMPIRE", "user_endpoint", true, "critical", "T1127.001"},
		{"otrf-security-datasets/empire_powershell_addtype_csc.jsonl", "WKS-ADDTYPE", "user_endpoint", true, "high", "T1059.001"},
		{"deepbluecli/psattack_powershell_host_csc_security4688.jsonl", "WKS-PSATTACK", "user_endpoint", true, "medium", "T1027.004"},
		{"evtx-attack-samples/vs2019_devenv_build_with_prebuild_event.jsonl", "DEV-VS2019", "developer_workstation", false, "", ""},
		{"evtx-attack-samples/vbc_stext_hollowed_stealer_not_a_compile.jsonl", "WKS-VBC", "user_endpoint", false, "", ""},
	}
	rank := map[string]int{"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("host,role\n")
	for _, tt := range tests {
		fmt.Fprintf(&csv, "%s,%s\n", tt.host, tt.role)
	}
	rolesFile := filepath.Join(dir, "roles.csv")
	if err := os.WriteFile(rolesFile, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			replay := exec.Command(ext, "replay", "--fixture", filepath.Join(data, tt.file), "--query", "SELECT * FROM compile_lineage")
			out, err := replay.Output()
			if err != nil {
				t.Fatalf("replay of %s failed: %v", tt.file, err)
			}
			var rows []map[string]string
			if err := json.Unmarshal(out, &rows); err != nil {
				t.Fatalf("replay output: %v", err)
			}
			if len(rows) == 0 {
				t.Fatalf("no compile_lineage rows from %s", tt.file)
			}
			var log strings.Builder
			for i, r := range rows {
				line, err := json.Marshal(map[string]any{
					"name": "pack/Global/compile_suspicious", "hostIdentifier": tt.host, "unixTime": 1764000000 + i,
					"epoch": 0, "counter": 1, "decorations": map[string]string{"hostname": tt.host}, "columns": r, "action": "added",
				})
				if err != nil {
					t.Fatal(err)
				}
				log.Write(line)
				log.WriteByte('\n')
			}
			input := filepath.Join(dir, tt.host+".jsonl")
			if err := os.WriteFile(input, []byte(log.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := runCmd(t, "", "score", "--quiet", "--roles", rolesFile, input)
			if err != nil {
				t.Fatalf("score: %v\n%s", err, stderr)
			}
			alerts := decodeAlerts(t, stdout)
			if !tt.alert {
				if len(alerts) != 0 {
					t.Errorf("%s on a %s alerted: %+v", tt.file, tt.role, alerts[0])
				}
				return
			}
			if len(alerts) == 0 {
				t.Fatalf("%s on a %s did not alert (%d rows)", tt.file, tt.role, len(rows))
			}
			top := alerts[0]
			if tt.role == "user_endpoint" {
				// The same evidence on other roles: a build server or developer
				// workstation scores lower, a domain controller at least as high.
				byRole := map[string]float64{}
				for _, role := range []string{"build_server", "developer_workstation", "domain_controller"} {
					rf := filepath.Join(dir, tt.host+"-"+role+".csv")
					if err := os.WriteFile(rf, []byte("host,role\n"+tt.host+","+role+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					out, _, err := runCmd(t, "", "score", "--quiet", "--all", "--roles", rf, input)
					if err != nil {
						t.Fatal(err)
					}
					for _, a := range decodeAlerts(t, out) {
						if a.LineageID == top.LineageID {
							byRole[role] = a.Score
						}
					}
				}
				if !(top.Score > byRole["build_server"] && top.Score > byRole["developer_workstation"] && byRole["domain_controller"] >= top.Score) {
					t.Errorf("role ordering: user endpoint %.1f, build server %.1f, developer %.1f, domain controller %.1f", top.Score, byRole["build_server"], byRole["developer_workstation"], byRole["domain_controller"])
				}
			}
			if top.Role != tt.role || rank[top.Severity] < rank[tt.minSeverity] || !slices.Contains(top.Techniques, tt.technique) {
				t.Errorf("top alert: role %s severity %s (score %.1f) techniques %v; want role %s, at least %s, with %s", top.Role, top.Severity, top.Score, top.Techniques, tt.role, tt.minSeverity, tt.technique)
			}
		})
	}
}
