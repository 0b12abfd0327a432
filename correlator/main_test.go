package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func decodeAlerts(t *testing.T, s string) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var a alert.Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("alert line %q: %v", l, err)
		}
		out = append(out, a)
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(g), len(w)) {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Errorf("output differs from %s at line %d (run go test -update to accept):\ngot  %s\nwant %s", path, i+1, gl, wl)
				break
			}
		}
	}
}

func testInputs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, p := range []string{"good_*.jsonl", "benign_*.jsonl", "malformed_*.jsonl"} {
		m, err := filepath.Glob(filepath.Join("testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 6 {
		t.Fatalf("test inputs missing: %v", files)
	}
	return files
}

func TestScoreGolden(t *testing.T) {
	t.Parallel()
	args := append([]string{"score", "--roles", "testdata/roles.csv", "--now", "2026-11-25T00:00:00Z"}, testInputs(t)...)
	out, stderr, err := runCmd(t, "", args...)
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	golden(t, "score_default.golden.jsonl", out)

	all := decodeAlerts(t, out)
	for i := 1; i < len(all); i++ {
		if all[i].Score > all[i-1].Score {
			t.Errorf("alerts not sorted by score: %v after %v", all[i].Score, all[i-1].Score)
		}
	}
	var alerts []alert.Alert
	hostRisk := map[string]float64{}
	for _, a := range all {
		if a.Kind == alert.KindHostRisk {
			hostRisk[a.Host] = a.HostRisk.Sum
			continue
		}
		alerts = append(alerts, a)
	}
	if len(alerts) != 7 {
		t.Fatalf("got %d lineage alerts, want 7", len(alerts))
	}
	// WS-0042's three lineages (86.79 + 69.49 + 54.39) and APP-SRV-7's two
	// add up past the host threshold of 100.
	if len(hostRisk) != 2 || hostRisk["WS-0042"] != 210.67 || hostRisk["APP-SRV-7"] != 150.85 {
		t.Errorf("host risk alerts = %v", hostRisk)
	}
	seen := map[string]bool{}
	for _, a := range alerts {
		if seen[a.LineageID] {
			t.Errorf("lineage %s alerted twice", a.LineageID)
		}
		seen[a.LineageID] = true
		if !slices.Contains(a.Techniques, "T1027.004") || len(a.Reasons) == 0 || a.RoleLabel == "" {
			t.Errorf("alert %s lacks techniques, reasons or role label: %+v", a.LineageID, a)
		}
	}
	// The full mshta chain (compile, run, connect out) on a user endpoint
	// outranks the executed MSBuild inline task on the domain controller:
	// one more stage of evidence outweighs the DC's impact. No two alerts
	// tie.
	mshta := alerts[0]
	if mshta.LineageID != "6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81" || mshta.Stage != "network" || mshta.Role != "user_endpoint" || mshta.RoleLabel != "roles.csv:4" || mshta.Score != 86.79 {
		t.Errorf("top alert = %+v, want the mshta chain at network stage from roles.csv:4 scoring 86.79", mshta)
	}
	if !slices.Contains(mshta.Techniques, "T1218.005") || !slices.Contains(mshta.Tactics, "TA0011") {
		t.Errorf("mshta alert techniques/tactics = %v %v", mshta.Techniques, mshta.Tactics)
	}
	dc := alerts[1]
	if dc.Host != "DC-01" || dc.Role != "domain_controller" || !slices.Contains(dc.Techniques, "T1127.001") || !slices.Contains(dc.Techniques, "T1047") || dc.Score != 85.43 {
		t.Errorf("second alert = %s/%s %v %.2f, want the msbuild lineage on DC-01 with T1127.001 and T1047 scoring 85.43", dc.Host, dc.Role, dc.Techniques, dc.Score)
	}
	for i := 1; i < len(alerts); i++ {
		if alerts[i].Score == alerts[i-1].Score {
			t.Errorf("alerts %s and %s tie at %.2f", alerts[i-1].LineageID, alerts[i].LineageID, alerts[i].Score)
		}
	}
	for _, benign := range []string{"3c4d5e6f-7a8b-5c9d-8e0f-1a2b3c4d5e6f", "4d5e6f70-8192-5a3b-9c4d-5e6f708192a3"} {
		if seen[benign] {
			t.Errorf("benign build lineage %s alerted", benign)
		}
	}
	var sum map[string]summary
	if err := json.Unmarshal([]byte(lastLine(stderr)), &sum); err != nil {
		t.Fatalf("summary: %v in %q", err, stderr)
	}
	s := sum["summary"]
	if s.Lines.Malformed != 6 || s.DeadLetters != 7 || s.Rows.BadRows != 1 || s.Rows.BelowThreshold != 3 {
		t.Errorf("summary = %+v, want 6 malformed lines, 7 dead letters, 1 bad row, 3 below threshold", s)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestScoreStdinAndDeadLetterFile(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile("testdata/malformed_mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	out, stderr, err := runCmd(t, string(in), "score", "--quiet", "--roles", "testdata/roles.csv", "--dead-letter", dl, "-")
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	alerts := decodeAlerts(t, out)
	if len(alerts) != 1 || alerts[0].LineageID != "5e6f7081-92a3-5b4c-8d5e-6f708192a3b4" || alerts[0].Input != "stdin:2" {
		t.Fatalf("alerts = %+v, want the one good row from stdin:2", alerts)
	}
	data, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int64
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			Source string `json:"source"`
			Line   int64  `json:"line"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("dead-letter line %q: %v", l, err)
		}
		if e.Source != "stdin" {
			t.Errorf("dead-letter source = %q", e.Source)
		}
		lines = append(lines, e.Line)
	}
	if want := []int64{1, 3, 4, 5, 6, 9, 10}; !slices.Equal(lines, want) {
		t.Errorf("dead-letter lines = %v, want %v", lines, want)
	}
	fi, err := os.Stat(dl)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("dead-letter mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csvBad := write("bad.csv", "host,role\nws1,user_endpoint\nws2,janitor\n")
	polBad := write("bad-policy.yaml", "version: 2\nalert_threshold: 140\n")
	excBad := write("bad-exc.yaml", "exceptions:\n  - id: x\n    owner: me\n    reason: r\n    scope: {hosts: [a]}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"score", "--roles", csvBad, "-"}, "bad.csv:3: unknown role \"janitor\""},
		{[]string{"score", "--policy", polBad, "-"}, "bad-policy.yaml:2: alert_threshold must be within 0..100"},
		{[]string{"score", "--exceptions", excBad, "-"}, "bad-exc.yaml:2: exception \"x\": expires is required"},
	}
	for _, tt := range tests {
		_, _, err := runCmd(t, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error = %v, want it to contain %q", tt.args, err, tt.want)
		}
	}
}

func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	out, stderr, err := runCmd(t, "", "score", "--quiet", "--now", "2026-11-25T00:00:00Z", "--roles", "examples/roles.yaml", "--policy", "examples/policy.yaml", "--exceptions", "examples/exceptions.yaml", "testdata/good_batch_diffresults.jsonl")
	if err != nil {
		t.Fatalf("score with examples: %v\n%s", err, stderr)
	}
	alerts := decodeAlerts(t, out)
	if len(alerts) != 1 || alerts[0].Role != "domain_controller" || alerts[0].RoleLabel != "glob dc-* (roles.yaml:11)" {
		t.Errorf("alerts = %+v, want the DC-01 lineage with its role from the glob", alerts)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	const id = "6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81"
	out, stderr, err := runCmd(t, "", "explain", "--roles", "testdata/roles.csv", id, "testdata/good_mshta_csc_network.jsonl")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"lineage " + id,
		"role:       user_endpoint, from roles.csv:4; all roles: user_endpoint",
		"score:      88.04 (critical), stage network, log-odds +12.73 bits (evidence +18.34 bits, prior 0.02, impact x1), probability 0.9999",
		"decision:   alert",
		"-5.61 bits  x0.02041 role_prior                   role user_endpoint (roles.csv:4): prior 0.02 that a compile here is malicious",
		"+4.58 bits  x24      stage_network                the compile chain connected out",
		"+2.00 bits  x4       full_chain ",
		"techniques: T1027.004, T1218.005",
		"exception:  none matched",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}

	// Through the state store written by a scoring run.
	db := filepath.Join(t.TempDir(), "state.db")
	if _, stderr, err := runCmd(t, "", "score", "--quiet", "--state", db, "--roles", "testdata/roles.csv", "testdata/benign_devbuild.jsonl"); err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	out, stderr, err = runCmd(t, "", "explain", "--state", db, "3c4d5e6f-7a8b-5c9d-8e0f-1a2b3c4d5e6f")
	if err != nil {
		t.Fatalf("explain from state: %v\n%s", err, stderr)
	}
	for _, want := range []string{"role:       developer_workstation, from roles.csv:7", "decision:   below the alert threshold", "build_system parent is routine on role developer_workstation (roles.csv:7)"} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation from state lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runCmd(t, "", "explain", "--state", db, "no-such-lineage"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("explain unknown lineage: %v", err)
	}
}

func TestScoreReportsSuppressedAndExpired(t *testing.T) {
	t.Parallel()
	exc := filepath.Join(t.TempDir(), "exc.yaml")
	body := `exceptions:
  - id: hta-tool
    owner: secops@example.com
    reason: known HTA packaging tool on WS-0042
    expires: 2027-01-01
    scope: {hosts: [WS-0042], parents: [mshta.exe]}
  - id: old-dc
    owner: ad-team@example.com
    reason: retired deployment script
    expires: 2026-06-30
    scope: {roles: [domain_controller]}
`
	if err := os.WriteFile(exc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, "", "score", "--now", "2026-11-25T00:00:00Z", "--roles", "testdata/roles.csv", "--exceptions", exc, "testdata/good_mshta_csc_network.jsonl", "testdata/good_batch_diffresults.jsonl")
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	alerts := decodeAlerts(t, out)
	if len(alerts) != 1 || alerts[0].Host != "DC-01" || alerts[0].Exception == nil || alerts[0].Exception.Status != "expired" || alerts[0].Exception.Applied {
		t.Fatalf("alerts = %+v, want only DC-01 with the expired exception noted", alerts)
	}
	var sum map[string]summary
	if err := json.Unmarshal([]byte(lastLine(stderr)), &sum); err != nil {
		t.Fatal(err)
	}
	s := sum["summary"]
	if !slices.Equal(s.Suppressed, []string{"6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81"}) || s.Rows.Suppressed != 3 {
		t.Errorf("suppressed = %v (%d rows), want the mshta lineage over 3 rows", s.Suppressed, s.Rows.Suppressed)
	}
	if s.ExceptionMatches["hta-tool"] != 3 || s.ExceptionMatches["old-dc (expired)"] != 1 {
		t.Errorf("exception matches = %v, want hta-tool 3 and old-dc (expired) 1", s.ExceptionMatches)
	}
	if len(s.ExpiredExceptions) != 1 || !strings.HasPrefix(s.ExpiredExceptions[0], "old-dc (exc.yaml:7") {
		t.Errorf("expired exceptions = %v", s.ExpiredExceptions)
	}
	// --all prints the suppressed lineage too, flagged.
	out, _, err = runCmd(t, "", "score", "--quiet", "--all", "--now", "2026-11-25T00:00:00Z", "--roles", "testdata/roles.csv", "--exceptions", exc, "testdata/good_mshta_csc_network.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if all := decodeAlerts(t, out); len(all) != 1 || !all[0].Suppressed || all[0].Exception.ID != "hta-tool" {
		t.Errorf("--all = %+v", all)
	}
}

func TestRunOnceFollowsAndResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "osqueryd.results.log")
	data, err := os.ReadFile("testdata/good_mshta_csc_network.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log, data, 0o600); err != nil {
		t.Fatal(err)
	}
	alerts := filepath.Join(dir, "alerts.jsonl")
	args := []string{"run", "--once", "--roles", "testdata/roles.csv", "--state", filepath.Join(dir, "state.db"), "--alerts", alerts, "--follow", log}
	out, stderr, err := runCmd(t, "", args...)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	got := decodeAlerts(t, out)
	var stages []string
	for _, a := range got {
		stages = append(stages, a.Stage)
	}
	if !slices.Equal(stages, []string{"compile", "written", "network"}) {
		t.Errorf("stdout alert stages = %v, want compile, written, network", stages)
	}
	fileData, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	if string(fileData) != out {
		t.Errorf("alert file differs from stdout")
	}
	if fi, _ := os.Stat(alerts); fi.Mode().Perm() != 0o640 {
		t.Errorf("alert file mode = %v, want 0640", fi.Mode().Perm())
	}
	var sum map[string]summary
	if err := json.Unmarshal([]byte(lastLine(stderr)), &sum); err != nil || sum["summary"].Rows.Alerts != 1 || sum["summary"].Rows.Realerts != 2 || sum["summary"].Lines.Lines != 5 {
		t.Errorf("run summary = %+v (%v)", sum, err)
	}
	// A second run resumes at the saved offset: nothing new.
	out, stderr, err = runCmd(t, "", args...)
	if err != nil || out != "" {
		t.Errorf("second run printed %q (%v)\n%s", out, err, stderr)
	}
	// The state store explains the lineage.
	out, _, err = runCmd(t, "", "explain", "--state", filepath.Join(dir, "state.db"), "6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81")
	if err != nil || !strings.Contains(out, "stage network") {
		t.Errorf("explain after run: %v\n%s", err, out)
	}
}

func TestRunNeedsStateAndInput(t *testing.T) {
	t.Parallel()
	if _, _, err := runCmd(t, "", "run", "--follow", "x.log"); !errors.Is(err, errUsage) {
		t.Errorf("run without --state: %v", err)
	}
	if _, _, err := runCmd(t, "", "run", "--state", filepath.Join(t.TempDir(), "s.db")); !errors.Is(err, errUsage) {
		t.Errorf("run without inputs: %v", err)
	}
	if _, _, err := runCmd(t, "", "run", "--state", filepath.Join(t.TempDir(), "s.db"), "--listen", "0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "bearer token or TLS") {
		t.Errorf("run on 0.0.0.0 without token: %v", err)
	}
}

// TestScoreWithFleetLabels resolves roles through a Fleet server (httptest,
// Fleet's documented response shapes) named in a YAML roles file.
func TestScoreWithFleetLabels(t *testing.T) {
	t.Setenv("CORRELATOR_TEST_FLEET_TOKEN", "fleet-s3cret")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fleet-s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("page") != "0" {
			_, _ = w.Write([]byte(`{"labels":[],"hosts":[]}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/fleet/labels":
			_, _ = w.Write([]byte(`{"labels":[{"id":6,"name":"All Hosts","label_type":"builtin"},{"id":31,"name":"Domain Controllers","label_type":"regular","label_membership_type":"manual","host_count":1}]}`))
		case "/api/v1/fleet/labels/31/hosts":
			_, _ = w.Write([]byte(`{"hosts":[{"id":12,"hostname":"ws-0042.corp.example","uuid":"4c4c4544-0042-3510-8057-b7c04f4a4e31","computer_name":"WS-0042","display_name":"WS-0042","platform":"windows","status":"online"}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	rolesFile := filepath.Join(t.TempDir(), "roles.yaml")
	body := "hosts:\n  - {host: WS-0042, role: user_endpoint}\nfleet_labels:\n  - {label: Domain Controllers, role: domain_controller}\nfleet:\n  url: " + srv.URL + "\n  token_env: CORRELATOR_TEST_FLEET_TOKEN\n"
	if err := os.WriteFile(rolesFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, "", "score", "--quiet", "--roles", rolesFile, "testdata/good_mshta_csc_network.jsonl")
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	alerts := decodeAlerts(t, out)
	if len(alerts) != 1 || alerts[0].Role != "domain_controller" || alerts[0].RoleLabel != "fleet label 31 (Domain Controllers) via roles.yaml:4" || !slices.Equal(alerts[0].Roles, []string{"user_endpoint", "domain_controller"}) {
		t.Fatalf("alerts = %+v", alerts)
	}
	if strings.Contains(stderr, "fleet-s3cret") {
		t.Error("the token appears in the logs")
	}
}

func TestScoreSkipsHugeLines(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/good_batch_diffresults.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	huge := `{"name":"q","columns":{"pad":"` + strings.Repeat("A", 300000) + `"}}` + "\n"
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	out, stderr, err := runCmd(t, huge+string(good)+huge, "score", "--quiet", "--max-line", "100000", "--dead-letter", dl, "--roles", "testdata/roles.csv", "-")
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	if alerts := decodeAlerts(t, out); len(alerts) != 1 || alerts[0].Input != "stdin:2" {
		t.Errorf("alerts = %+v, want the good row on line 2", alerts)
	}
	data, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"line":1,"reason":"line too long (300033 bytes, max 100000)"`) || !strings.Contains(lines[1], `"line":3`) {
		t.Errorf("dead letters = %v", lines)
	}
}
