package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

var update = flag.Bool("update", false, "rewrite the SVG and text goldens under testdata/")

// loadAlerts reads alert JSON lines: testdata/alerts.jsonl is `correlator
// score --all` over the example telemetry, testdata/gaps.jsonl a lineage
// with telemetry gaps and an attacker-named artifact.
func loadAlerts(t *testing.T, names ...string) []Alert {
	t.Helper()
	var as []*alert.Alert
	for _, name := range names {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			a := &alert.Alert{}
			if err := json.Unmarshal(sc.Bytes(), a); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			as = append(as, a)
		}
		f.Close()
	}
	return FromAlerts(as)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden (go test ./correlator/internal/report -update rewrites it); got:\n%s", path, got)
	}
}

// TestSVGGolden snapshots every drawing and its text tree, so a change in
// the drawing shows in review.
func TestSVGGolden(t *testing.T) {
	i := 0
	for _, v := range loadAlerts(t, "alerts.jsonl", "gaps.jsonl") {
		if v.HostRisk != nil {
			continue
		}
		name := fmt.Sprintf("%02d_%s_%s", i, v.Host, strings.TrimSuffix(v.Compiler.Name, ".exe"))
		i++
		t.Run(name, func(t *testing.T) {
			g := Build(&v)
			golden(t, "svg/"+name+".svg", []byte(SVG(g, "g0")))
			golden(t, "svg/"+name+".txt", []byte(Tree(g)))
		})
	}
}

// TestBuildNodes checks what each drawing holds.
func TestBuildNodes(t *testing.T) {
	type want struct {
		kinds   []string // node kinds in order
		labels  map[string]string
		edges   map[string]string // from>to: label
		missing []string          // ids of missing edges' targets
	}
	cases := map[string]want{
		"web-01 dash": {
			kinds:  []string{KindAncestor, KindParent, KindCompiler, KindArtifact, KindFollowup, KindExec, KindConn},
			labels: map[string]string{"parent": "dash", "compiler": "x86_64-linux-gnu-gcc-12", "artifact": "kworker", "conn": "198.51.100.7:4444", "fu0": "x86_64-linux-gnu-as"},
			edges:  map[string]string{"anc0>parent": "started", "compiler>artifact": "write:pid", "artifact>exec": "exec:path", "exec>conn": "net:artifact_pid"},
		},
		"ws-finance-07 powershell.exe": { // Add-Type: the parent connected out
			kinds:  []string{KindAncestor, KindAncestor, KindParent, KindCompiler, KindArtifact, KindConn},
			labels: map[string]string{"parent": "powershell.exe", "artifact": "x1rq4dcn.dll"},
			edges:  map[string]string{"compiler>artifact": "write:process_guid", "parent>conn": "net:parent_guid"},
		},
		"ws-gap-01 ": {
			kinds:   []string{KindGap, KindCompiler, KindArtifact, KindGap, KindGap},
			labels:  map[string]string{"parent": "parent unknown", "artifact": "x'); DROP TABLE y; --.exe", "conn": "network unknown"},
			edges:   map[string]string{"compiler>artifact": "output:response_file; write not observed; no_file_events", "artifact>conn": "no_network_events"},
			missing: []string{"compiler", "artifact", "conn", "truncated"},
		},
	}
	seen := 0
	for _, v := range loadAlerts(t, "alerts.jsonl", "gaps.jsonl") {
		w, ok := cases[v.Host+" "+v.Parent.Name]
		if !ok {
			continue
		}
		seen++
		g := Build(&v)
		var kinds []string
		for _, n := range g.Nodes {
			kinds = append(kinds, n.Kind)
		}
		if !slices.Equal(kinds, w.kinds) {
			t.Errorf("%s: kinds %v, want %v", v.Host, kinds, w.kinds)
		}
		for id, l := range w.labels {
			if n, ok := g.Node(id); !ok || n.Label != l {
				t.Errorf("%s: node %s = %+v, want label %q", v.Host, id, n, l)
			}
		}
		got := map[string]Edge{}
		for _, e := range g.Edges {
			got[e.From+">"+e.To] = e
		}
		for k, l := range w.edges {
			if got[k].Label != l {
				t.Errorf("%s: edge %s label %q, want %q", v.Host, k, got[k].Label, l)
			}
		}
		var missing []string
		for _, e := range g.Edges {
			if e.Missing {
				missing = append(missing, e.To)
			}
		}
		if !slices.Equal(missing, w.missing) {
			t.Errorf("%s: missing edges to %v, want %v", v.Host, missing, w.missing)
		}
	}
	if seen != len(cases) {
		t.Fatalf("checked %d of %d cases", seen, len(cases))
	}
}

func TestSQLString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`C:\Users\a\update.exe`, `'C:\Users\a\update.exe'`},
		{`x'); DROP TABLE y; --.exe`, `'x''); DROP TABLE y; --.exe'`},
		{`''`, `''''''`},
		{"a\nb", `CAST(X'610A62' AS TEXT)`},
		{"\x1b[31mred", `CAST(X'1B5B33316D726564' AS TEXT)`},
		{"bad\xffutf8", `CAST(X'626164FF75746638' AS TEXT)`},
		{"café", `'café'`},
	} {
		if got := SQLString(c.in); got != c.want {
			t.Errorf("SQLString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestFleetctlLineShellWords runs each fleetctl line through a real shell
// with fleetctl replaced by a function that prints its arguments.
func TestFleetctlLineShellWords(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, c := range []struct{ host, sql string }{
		{"web-01", "SELECT 1;"},
		{"it's-a-host", `SELECT * FROM hash WHERE path = 'x''); DROP TABLE y; --.exe';`},
		{"h", "SELECT '$(touch /tmp/pwned)' || `id` || \"x\" || '\\';"},
	} {
		line := FleetctlLine(c.host, c.sql)
		out, err := exec.Command(sh, "-c", `fleetctl() { printf '%s\0' "$@"; }; `+line).Output()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		want := []string{"query", "--hosts", c.host, "--query", c.sql}
		if !slices.Equal(got, want) {
			t.Errorf("%s\nparsed as %q, want %q", line, got, want)
		}
	}
}

func TestTriageQueries(t *testing.T) {
	vs := loadAlerts(t, "gaps.jsonl")
	p := Triage(&vs[0])
	byTable := map[string]string{}
	for _, q := range p.Queries {
		byTable[q.Table] = q.SQL
		if !strings.HasPrefix(q.Command, "fleetctl query --hosts 'ws-gap-01' --query '") {
			t.Errorf("command %s", q.Command)
		}
	}
	want := map[string]string{
		"hash":         `SELECT path, md5, sha1, sha256 FROM hash WHERE path = 'C:\Users\Public\x''); DROP TABLE y; --.exe';`,
		"authenticode": `SELECT path, result, subject_name, issuer_name, serial_number FROM authenticode WHERE path = 'C:\Users\Public\x''); DROP TABLE y; --.exe';`,
		"processes":    `SELECT pid, parent, name, path, cmdline, start_time FROM processes WHERE lower(path) = lower('C:\Users\Public\x''); DROP TABLE y; --.exe') OR pid IN (900) OR parent IN (900);`,
		"file":         `SELECT path, size, mtime, btime, type FROM file WHERE directory = 'C:\Users\Public';`,
		"registry":     `SELECT key, path, name, data, mtime FROM registry WHERE (key IN ('HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run', 'HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce', 'HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Run', 'HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\RunOnce') OR key LIKE 'HKEY_USERS\%\SOFTWARE\Microsoft\Windows\CurrentVersion\Run%') AND instr(lower(data), lower('C:\Users\Public\x''); DROP TABLE y; --.exe')) > 0;`,
	}
	for table, sql := range want {
		if byTable[table] != sql {
			t.Errorf("%s query:\n got %s\nwant %s", table, byTable[table], sql)
		}
	}
	for _, table := range []string{"scheduled_tasks", "services", "startup_items", "process_open_sockets"} {
		if byTable[table] == "" {
			t.Errorf("no %s query", table)
		}
	}
	if byTable["crontab"] != "" || byTable["launchd"] != "" {
		t.Errorf("POSIX persistence queries for a Windows host: %v", byTable)
	}
}

func TestTechniqueURL(t *testing.T) {
	for in, want := range map[string]string{
		"T1027.004":           "https://attack.mitre.org/techniques/T1027/004/",
		"T1047":               "https://attack.mitre.org/techniques/T1047/",
		"TA0005":              "https://attack.mitre.org/tactics/TA0005/",
		"T10x":                "",
		"javascript:alert(1)": "",
	} {
		if got := TechniqueURL(in); got != want {
			t.Errorf("TechniqueURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTMLEscapesTelemetry: the page built from a lineage whose fields
// carry markup holds that markup as text only.
func TestHTMLEscapesTelemetry(t *testing.T) {
	vs := loadAlerts(t, "gaps.jsonl")
	v := vs[0]
	v.Compiler.Cmdline = `</title><script>alert(1)</script>`
	v.Host = `<img src=x onerror=alert(2)>`
	var b bytes.Buffer
	if err := WriteHTML(&b, Page{Title: "t", Source: "s", Generated: time.Unix(0, 0), Alerts: []Alert{v}}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script>alert(1)", "<img src=x"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds unescaped %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the command line is not in the page as text")
	}
	if strings.Count(page, "<script>") != 1 {
		t.Errorf("page has %d scripts, want the one of the page", strings.Count(page, "<script>"))
	}
}

func TestWithin(t *testing.T) {
	vs := loadAlerts(t, "alerts.jsonl")
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	got := Within(vs, now, 72*time.Hour)
	if len(got) != 7 {
		t.Fatalf("Within 72h: %d alerts, want the 5 lineages and 2 host risk alerts of 2026-11-20", len(got))
	}
	for _, v := range got {
		if v.Host == "web-01" {
			t.Errorf("web-01's compile of 2025-11-25 is older than 72h")
		}
	}
	if len(Within(vs, now, 0)) != len(vs) {
		t.Error("Within 0 must keep all")
	}
}

// TestHTMLHostRisk: host risk alerts get their own table, each lineage
// they add up linked to its drawing.
func TestHTMLHostRisk(t *testing.T) {
	vs := loadAlerts(t, "alerts.jsonl")
	var b bytes.Buffer
	if err := WriteHTML(&b, Page{Title: "t", Source: "s", Generated: time.Unix(0, 0), Alerts: vs}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, `<tr class="hrow"`); n != 2 {
		t.Errorf("%d host risk rows, want 2 (ws-finance-07, dev-laptop-03)", n)
	}
	if n := strings.Count(page, `<section class="alert"`); n != 8 {
		t.Errorf("%d lineage sections, want 8", n)
	}
	for _, v := range vs {
		if v.HostRisk == nil {
			continue
		}
		for _, l := range v.HostRisk.Lineages {
			n := -1
			for i, w := range vs {
				if w.HostRisk == nil && w.LineageID == l.LineageID {
					n = i
				}
			}
			if n < 0 {
				t.Fatalf("host %s counts lineage %s that the page lacks", v.Host, l.LineageID)
			}
		}
		if len(v.HostRisk.Lineages) == 0 {
			t.Errorf("host risk alert of %s without lineages", v.Host)
		}
	}
	if !strings.Contains(page, `<a href="#alert-0">`) {
		t.Error("no link from a host risk row to a lineage section")
	}
}

// TestBuildProxyAndFailedSource: an artifact run through a proxy or loaded as a module says how on its
// execution node, and every failed source is a dashed node of its own below the compiler.
func TestBuildProxyAndFailedSource(t *testing.T) {
	base := Alert{Host: "ws-01", Parent: Proc{Name: "winword.exe", PID: 10}, Compiler: Proc{Name: "csc.exe", PID: 11},
		ArtifactPath: `C:\Users\a\AppData\Local\Temp\x.dll`, ArtifactWritten: true, Executions: 1, ExecPID: 12}
	tests := []struct {
		name     string
		evidence []string
		gaps     []string
		execLine string   // last line of the exec node
		failed   []string // tables of the source-failed nodes, in order
	}{
		{name: "proxy", evidence: []string{"write:process_guid", "exec:proxy:rundll32"}, execLine: "via rundll32"},
		{name: "image load", evidence: []string{"write:process_guid", "exec:image_load"}, execLine: "loaded as a module"},
		{name: "direct", evidence: []string{"write:process_guid", "exec:path"}, execLine: "time unknown, 1 run(s)"},
		{name: "failed sources", evidence: []string{"exec:path"}, gaps: []string{"lineage_truncated", "source_failed:socket_events", `source_failed:"><script>`},
			execLine: "time unknown, 1 run(s)", failed: []string{"socket_events", `"><script>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base
			v.Evidence, v.Gaps = tt.evidence, tt.gaps
			g := Build(&v)
			exec, ok := g.Node("exec")
			if !ok || exec.Lines[len(exec.Lines)-1] != tt.execLine {
				t.Errorf("exec node %+v, want last line %q", exec, tt.execLine)
			}
			var failed []string
			rows := map[int]bool{}
			for _, n := range g.Nodes {
				if n.Kind == KindGap {
					if rows[n.Row] {
						t.Errorf("two gap nodes on row %d", n.Row)
					}
					rows[n.Row] = true
				}
				if n.Label == "source failed" {
					failed = append(failed, n.Lines[0])
					if !n.Missing || strings.ContainsAny(n.ID, `"<>`) {
						t.Errorf("failed-source node %+v: want dashed, with an id of ours", n)
					}
				}
			}
			if !slices.Equal(failed, tt.failed) {
				t.Errorf("failed sources %q, want %q", failed, tt.failed)
			}
			if svg := SVG(g, "g0"); strings.Contains(svg, "<script>") {
				t.Errorf("telemetry text reached the SVG unescaped")
			}
		})
	}
}
