package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/report"
	"github.com/compilelineage/compile-lineage/extension/replay"
)

// demoFixtures are the example telemetry files of each demo host
// (extension/demo.go), which testdata/demo_results.log was made from.
var demoFixtures = map[string][]string{
	"ws-finance-07": {"workstation_sysmon.jsonl"},
	"dev-laptop-03": {"devbox_sysmon.jsonl"},
	"web-01":        {"web_server_audit.json"},
}

// demoEvaluations scores the example telemetry's result log with the
// example roles, as `make demo` does: every evaluation, and the lineages
// among them.
func demoEvaluations(t *testing.T) (all, lineages []*alert.Alert) {
	t.Helper()
	c := common{roles: listFlag{"../extension/examples/roles.csv"}, logLevel: "error", maxLine: 1 << 20, now: "2026-12-01T00:00:00Z"}
	all, err := evaluateFiles(context.Background(), &c, []string{"testdata/demo_results.log"}, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.Kind != alert.KindHostRisk {
			lineages = append(lineages, a)
		}
	}
	if len(lineages) != 8 || len(all) != 10 {
		t.Fatalf("%d lineages and %d host risk alerts in the example telemetry, want 8 and 2", len(lineages), len(all)-len(lineages))
	}
	return all, lineages
}

// hostState is what osquery would find on the host at triage time: the
// artifact on disk and running, a decoy with a similar name, and a process
// that is not part of the lineage.
func hostState(v *report.Alert) string {
	art := v.ArtifactPath
	rows := map[string][]map[string]string{
		"hash": {
			{"path": art, "directory": dirOf(art), "sha256": "aa11"},
			{"path": art + ".bak", "directory": dirOf(art), "sha256": "bb22"},
		},
		"processes": {
			{"pid": fmt.Sprint(v.ExecPID), "parent": fmt.Sprint(v.Parent.PID), "name": "artifact", "path": art},
			{"pid": "77777", "parent": "1", "name": "unrelated", "path": art + ".bak"},
		},
		"process_open_sockets": {
			{"pid": fmt.Sprint(v.ExecPID), "remote_address": "198.51.100.7", "remote_port": "4444"},
			{"pid": "77777", "remote_address": "192.0.2.1", "remote_port": "80"},
		},
	}
	other := other(v)
	rows["file"] = []map[string]string{{"path": art, "directory": dirOf(art)}, {"path": other, "directory": dirOf(art)},
		{"path": "/elsewhere/x", "directory": "/elsewhere"}}
	// Persistence: one entry starting the artifact and one starting something else.
	rows["startup_items"] = []map[string]string{{"name": "a", "path": art}, {"name": "b", "path": other}}
	switch v.Platform {
	case "windows":
		rows["authenticode"] = []map[string]string{{"path": art, "result": "missing"}, {"path": art + ".bak", "result": "trusted"}}
		rows["scheduled_tasks"] = []map[string]string{{"name": "a", "path": art, "action": `"` + art + `" /q`}, {"name": "b", "path": other, "action": other}}
		rows["services"] = []map[string]string{{"name": "a", "path": art}, {"name": "b", "path": other}}
		rows["registry"] = []map[string]string{
			{"key": `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run`, "path": art, "name": "a", "data": art},
			{"key": `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run`, "path": other, "name": "b", "data": other},
			{"key": `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`, "path": art, "name": "c", "data": art}}
	default:
		rows["crontab"] = []map[string]string{{"command": art + " >/dev/null", "path": art}, {"command": other, "path": other}}
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

// startHarness starts the replay harness on the example telemetry files
// named (from extension/examples) plus the given fixture texts.
func startHarness(t *testing.T, files []string, extra ...string) (*replay.Harness, context.Context) {
	t.Helper()
	fx := &replay.Fixtures{}
	add := func(name string, data []byte) {
		f, err := replay.ParseFixture(name, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		fx.Merge(f)
	}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join("..", "extension", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		add(name, data)
	}
	for i, text := range extra {
		add(fmt.Sprintf("host state %d", i), []byte(text))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, ctx
}

// other is a file next to the artifact that no triage query should select
// but the folder listing.
func other(v *report.Alert) string {
	if v.Platform == "windows" {
		return dirOf(v.ArtifactPath) + `\other.exe`
	}
	return dirOf(v.ArtifactPath) + "/other"
}

func dirOf(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i > 0 {
		return p[:i]
	}
	return p
}

// TestTriageQueriesRunInHarness runs every triage query of every lineage of
// the example telemetry in the replay harness (the real osquery schema in
// SQLite), on that host's telemetry plus the host state above, and checks
// that each query selects the artifact's rows and not the decoys next to
// them.
func TestTriageQueriesRunInHarness(t *testing.T) {
	schema := replay.Schema()
	ran := map[string]int{}
	_, lineages := demoEvaluations(t)
	for _, a := range lineages {
		v := report.FromAlert(a)
		t.Run(v.Host+"/"+v.LineageID[:8], func(t *testing.T) {
			st := v
			if st.ExecPID == 0 {
				st.ExecPID = 4242 // the artifact's process when the telemetry saw none; found by path
			}
			h, ctx := startHarness(t, demoFixtures[v.Host], hostState(&st))
			if h.Platform() != v.Platform {
				t.Fatalf("harness platform %s, alert platform %s", h.Platform(), v.Platform)
			}
			pb := report.Triage(&v)
			for _, q := range pb.Queries {
				if tb := schema[q.Table]; tb == nil || !tb.OnPlatform(h.Platform()) {
					t.Errorf("%s: table %s is not served by the harness on %s", q.Name, q.Table, h.Platform())
					continue
				}
				rows, err := h.Query(ctx, strings.TrimSuffix(q.SQL, ";"))
				if err != nil {
					t.Errorf("%s: %v\n%s", q.Name, err, q.SQL)
					continue
				}
				ran[q.Table]++
				var paths []string
				for _, r := range rows {
					paths = append(paths, r["path"])
				}
				switch q.Table {
				case "hash", "authenticode":
					if !slices.Equal(paths, []string{v.ArtifactPath}) {
						t.Errorf("%s selected %q, want exactly %q", q.Name, paths, v.ArtifactPath)
					}
				case "processes":
					if !slices.Equal(paths, []string{v.ArtifactPath}) {
						t.Errorf("%s selected %q, want the artifact's process only", q.Name, paths)
					}
				case "file":
					if !slices.Equal(paths, []string{v.ArtifactPath, other(&v)}) {
						t.Errorf("%s selected %q, want the two files of the artifact's folder", q.Name, paths)
					}
				case "startup_items", "scheduled_tasks", "services", "registry", "crontab":
					if !slices.Equal(paths, []string{v.ArtifactPath}) {
						t.Errorf("%s selected %q, want the one entry starting the artifact", q.Name, paths)
					}
				case "process_open_sockets":
					if len(rows) != 1 || rows[0]["remote_address"] != "198.51.100.7" {
						t.Errorf("%s selected %v, want the artifact's socket only", q.Name, rows)
					}
				}
			}
		})
	}
	for _, table := range []string{"hash", "authenticode", "processes", "process_open_sockets"} {
		if ran[table] == 0 {
			t.Errorf("no %s query ran", table)
		}
	}
	for _, table := range []string{"file", "startup_items", "scheduled_tasks", "services", "registry", "crontab"} {
		if ran[table] == 0 {
			t.Errorf("no %s query ran", table)
		}
	}
}

// TestTriageInjectedPathInHarness: an artifact named to break out of an SQL
// literal is selected exactly, and nothing else.
func TestTriageInjectedPathInHarness(t *testing.T) {
	v := report.Alert{Host: "ws-x", Platform: "windows", ArtifactPath: `C:\Users\Public\x'); DROP TABLE y; --.exe`,
		ExecPID: 5150, Compiler: report.Proc{Name: "csc.exe", PID: 5100}, Parent: report.Proc{Name: "mshta.exe", PID: 5000}}
	h, ctx := startHarness(t, nil, hostState(&v), `{"hash": [{"path": "C:\\Users\\Public\\x", "directory": "C:\\Users\\Public"}]}`)
	checked := 0
	for _, q := range report.Triage(&v).Queries {
		if q.Table != "hash" && q.Table != "authenticode" && q.Table != "processes" {
			continue
		}
		rows, err := h.Query(ctx, strings.TrimSuffix(q.SQL, ";"))
		if err != nil {
			t.Fatalf("%s: %v\n%s", q.Name, err, q.SQL)
		}
		if len(rows) != 1 || rows[0]["path"] != v.ArtifactPath {
			t.Errorf("%s selected %v, want exactly %q\n%s", q.Name, rows, v.ArtifactPath, q.SQL)
		}
		checked++
	}
	if checked != 3 {
		t.Fatalf("checked %d queries, want hash, authenticode and processes", checked)
	}
}
