package packs

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/tables/vocab"
)

func mustLabels(t testing.TB) []Label {
	t.Helper()
	ls, err := EmbeddedLabels()
	if err != nil {
		t.Fatalf("load labels: %v", err)
	}
	return ls
}

func mustPolicies(t testing.TB) []Policy {
	t.Helper()
	ps, err := EmbeddedPolicies()
	if err != nil {
		t.Fatalf("load policies: %v", err)
	}
	return ps
}

// wantLabels is every shipped role label: domain controllers exist on Windows only.
var wantLabels = []string{
	"domain_controller_windows",
	"build_server_windows", "build_server_linux", "build_server_macos",
	"server_windows", "server_linux", "server_macos",
	"developer_workstation_windows", "developer_workstation_linux", "developer_workstation_macos",
	"user_endpoint_windows", "user_endpoint_linux", "user_endpoint_macos",
}

func TestEmbeddedLabels(t *testing.T) {
	t.Parallel()
	ls := mustLabels(t)
	var names []string
	for _, l := range ls {
		names = append(names, l.Name)
		// The composed query excludes exactly the roles placed before this one on the same platform.
		q := LabelQuery(l, ls)
		before := 0
		for _, o := range ls {
			if o.Platform == l.Platform && slices.Index(Roles, o.Role) < slices.Index(Roles, l.Role) {
				before++
				if !strings.Contains(q, indent(strings.TrimSuffix(o.SQL, ";"))) {
					t.Errorf("%s: query does not exclude %s", l.Name, o.Name)
				}
			}
		}
		if n := strings.Count(q, "\nAND NOT EXISTS ("); n != before {
			t.Errorf("%s: %d exclusions, want %d", l.Name, n, before)
		}
		if (l.Platform == "linux") != strings.HasPrefix(q, "SELECT 1 WHERE EXISTS ("+linuxGuard+")") {
			t.Errorf("%s: the Linux guard is %v", l.Name, l.Platform == "linux")
		}
		if want := map[string]string{"windows": "windows", "darwin": "darwin", "linux": ""}[l.Platform]; l.FleetPlatform() != want {
			t.Errorf("%s: Fleet platform %q, want %q", l.Name, l.FleetPlatform(), want)
		}
	}
	if !slices.Equal(names, wantLabels) {
		t.Errorf("labels %v, want %v", names, wantLabels)
	}
}

var (
	fromRe = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)`)
	cteRe  = regexp.MustCompile(`(?i)(?:\bWITH|,)\s*([a-z_][a-z0-9_]*)\s+AS\s*\(`)
)

// tablesOf lists the osquery tables a statement reads (common table expressions left out).
func tablesOf(sql string) []string {
	var ctes, out []string
	for _, m := range cteRe.FindAllStringSubmatch(sql, -1) {
		ctes = append(ctes, strings.ToLower(m[1]))
	}
	for _, m := range fromRe.FindAllStringSubmatch(sql, -1) {
		n := strings.ToLower(m[1])
		if !slices.Contains(ctes, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// TestLabelAndPolicyTables checks every table a label or policy reads against osquery's schemas: it exists on
// the platform the query runs on (every platform for Linux labels, which Fleet sends to all hosts), and labels
// read no event tables.
func TestLabelAndPolicyTables(t *testing.T) {
	t.Parallel()
	schema := replay.Schema()
	check := func(what, sql string, platforms []string, noEvents bool) {
		for _, tn := range tablesOf(sql) {
			if strings.HasPrefix(tn, "compile_") {
				continue // the extension's tables
			}
			tab := schema[tn]
			if tab == nil {
				t.Errorf("%s: table %s is not an osquery table", what, tn)
				continue
			}
			for _, p := range platforms {
				if !tab.OnPlatform(p) {
					t.Errorf("%s: table %s does not exist on %s", what, tn, p)
				}
			}
			if noEvents && tab.Evented {
				t.Errorf("%s: reads the event table %s; labels are snapshots", what, tn)
			}
		}
	}
	ls := mustLabels(t)
	for _, l := range ls {
		platforms := []string{l.Platform}
		if l.FleetPlatform() == "" {
			platforms = Platforms
		}
		check(l.Name, LabelQuery(l, ls), platforms, true)
	}
	for _, p := range mustPolicies(t) {
		check(p.File, p.SQL, p.Platforms, false)
	}
	if got := tablesOf("WITH sub AS (SELECT 1 FROM osquery_events) SELECT 1 FROM sub JOIN processes USING (pid)"); !slices.Equal(got, []string{"osquery_events", "processes"}) {
		t.Errorf("tablesOf = %v", got)
	}
}

// roleFixture is a host of one role on one platform, hand-made from what the products install (see
// testdata/roles/README.md).
func roleFixture(role, platform string) string {
	return filepath.Join("testdata", "roles", labelSuffix[platform]+"_"+role+".json")
}

// TestLabelsOnFixtures runs every label query Fleet would send to each fixture host (the host's platform's
// labels and the Linux labels, which have no platform filter) in the replay harness: each host lands in
// exactly its own role label.
func TestLabelsOnFixtures(t *testing.T) {
	t.Parallel()
	ls := mustLabels(t)
	for _, want := range ls {
		t.Run(want.Name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, roleFixture(want.Role, want.Platform))
			if h.Platform() != want.Platform {
				t.Fatalf("fixture platform %s, want %s", h.Platform(), want.Platform)
			}
			if got := matchingLabels(t, h, ls); !slices.Equal(got, []string{want.Name}) {
				t.Errorf("host in labels %v, want only %s", got, want.Name)
			}
		})
	}
	// Boundaries: Build Tools alone are no IDE; a domain controller with a build agent stays a domain
	// controller; a headless Linux host with developer tools (VS Code Remote's server extensions) is a server.
	for fixture, want := range map[string]string{
		"edge_windows_build_tools_only":      "user_endpoint_windows",
		"edge_windows_dc_with_build_agent":   "domain_controller_windows",
		"edge_linux_headless_with_dev_tools": "server_linux",
	} {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, filepath.Join("testdata", "roles", fixture+".json"))
			if got := matchingLabels(t, h, ls); !slices.Equal(got, []string{want}) {
				t.Errorf("host in labels %v, want only %s", got, want)
			}
		})
	}
}

// matchingLabels runs every label Fleet sends to the harness's host and returns those with a row.
func matchingLabels(t *testing.T, h *replay.Harness, ls []Label) []string {
	t.Helper()
	var got []string
	for _, l := range ls {
		if l.FleetPlatform() != "" && l.FleetPlatform() != h.Platform() {
			continue // Fleet does not send it to this host
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rows, err := h.Query(ctx, LabelQuery(l, ls))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		if len(rows) > 0 {
			got = append(got, l.Name)
		}
	}
	return got
}

// fixtureAt is a fixture holding osquery's time table at unix time t.
func fixtureAt(t *testing.T, unix int64) *replay.Fixtures {
	t.Helper()
	fx, err := replay.ParseFixture("time", strings.NewReader(`{"time": [{"unix_time": "`+strconv.FormatInt(unix, 10)+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func TestPoliciesOnFixtures(t *testing.T) {
	t.Parallel()
	fix := func(n string) string { return filepath.Join("testdata", n+".json") }
	role := func(r, p string) string { return roleFixture(r, p) }
	tests := []struct {
		policy string
		files  []string
		at     int64 // the time table's unix_time; 0 = no time table
		pass   bool
	}{
		// Sysmon gives process, file and network; ETW alone has no file or network source.
		{"telemetry_ready", []string{role("user_endpoint", "windows"), fix("windows_sysmon_attack")}, 0, true},
		{"telemetry_ready", []string{role("user_endpoint", "windows"), fix("windows_etw_attack")}, 0, false},
		{"telemetry_ready", []string{role("user_endpoint", "linux"), fix("linux_attack")}, 0, true},
		{"telemetry_ready", []string{role("user_endpoint", "darwin"), fix("macos_attack")}, 0, false},
		{"telemetry_ready", []string{role("user_endpoint", "linux")}, 0, false},
		{"telemetry_ready_stock", []string{role("user_endpoint", "windows"), fix("windows_sysmon_attack"), filepath.Join("testdata", "roles", "windows_sysmon_flags.json")}, 0, true},
		// Events in windows_events but the Sysmon channel not subscribed: Security events only, no file source.
		{"telemetry_ready_stock", []string{role("user_endpoint", "windows"), fix("windows_sysmon_attack")}, 0, false},
		{"telemetry_ready_stock", []string{role("user_endpoint", "windows"), fix("windows_etw_attack")}, 0, false},
		{"telemetry_ready_stock", []string{role("user_endpoint", "linux"), fix("linux_attack")}, 0, true},
		{"telemetry_ready_stock", []string{role("user_endpoint", "darwin"), fix("macos_attack")}, 0, false},
		{"telemetry_ready_stock", []string{role("user_endpoint", "linux")}, 0, false},
		// Suspicious compiles at t0+12..t0+40: inside the last hour at t0+100, outside it at t0+7300.
		{"no_suspicious_compile", []string{role("user_endpoint", "windows"), fix("windows_sysmon_attack")}, t0 + 100, false},
		{"no_suspicious_compile", []string{role("user_endpoint", "windows"), fix("windows_sysmon_attack")}, t0 + 7300, true},
		{"no_suspicious_compile", []string{role("developer_workstation", "windows"), fix("windows_sysmon_benign")}, t0 + 100, true},
		{"no_suspicious_compile", []string{role("user_endpoint", "linux"), fix("linux_attack")}, t0 + 100, false},
		{"no_suspicious_compile", []string{role("developer_workstation", "linux"), fix("linux_benign")}, t0 + 100, true},
		{"no_suspicious_compile", []string{role("user_endpoint", "darwin"), fix("macos_attack")}, t0 + 100, false},
		// Any compile on a user endpoint fails, a routine Visual Studio build included.
		{"compilers_restricted", []string{role("user_endpoint", "windows"), fix("windows_sysmon_attack")}, 0, false},
		{"compilers_restricted", []string{role("user_endpoint", "windows"), fix("windows_sysmon_benign")}, 0, false},
		{"compilers_restricted", []string{role("user_endpoint", "windows")}, 0, true},
		{"compilers_restricted", []string{role("user_endpoint", "linux"), fix("linux_benign")}, 0, false},
		{"compilers_restricted", []string{role("user_endpoint", "linux"), fix("linux_idle")}, 0, true},
		{"compilers_restricted", []string{role("user_endpoint", "darwin"), fix("macos_benign")}, 0, false},
	}
	ps := mustPolicies(t)
	for _, tt := range tests {
		name := tt.policy + "/" + strings.TrimSuffix(filepath.Base(tt.files[len(tt.files)-1]), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			i := slices.IndexFunc(ps, func(p Policy) bool { return p.File == tt.policy+".sql" })
			if i < 0 {
				t.Fatalf("no policy %s", tt.policy)
			}
			p := ps[i]
			fx, err := replay.LoadFixtures(tt.files...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.at != 0 {
				fx.Merge(fixtureAt(t, tt.at))
			}
			h := startHarnessFixtures(t, fx)
			if !slices.Contains(p.Platforms, h.Platform()) {
				t.Fatalf("policy %s does not run on %s", p.Name, h.Platform())
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rows, err := h.Query(ctx, p.SQL)
			if err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			if pass := len(rows) > 0; pass != tt.pass {
				t.Errorf("%s passes = %v, want %v (rows %v)", p.Name, pass, tt.pass, rows)
			}
		})
	}
}

func TestEmbeddedPolicies(t *testing.T) {
	t.Parallel()
	ps := mustPolicies(t)
	want := map[string]struct {
		critical, ext bool
		labels        []string
	}{
		"Compile-lineage telemetry ready":                 {false, true, nil},
		"Compile-lineage telemetry ready (stock osquery)": {false, false, nil},
		"No suspicious compile in the last hour":          {true, true, nil},
		"Compilers restricted on this role":               {false, true, []string{"user_endpoint_windows", "user_endpoint_linux", "user_endpoint_macos"}},
	}
	if len(ps) != len(want) {
		t.Fatalf("%d policies, want %d", len(ps), len(want))
	}
	for _, p := range ps {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected policy %q", p.Name)
			continue
		}
		if p.Critical != w.critical || p.RequiresExtension != w.ext || !slices.Equal(p.LabelsIncludeAny(), w.labels) {
			t.Errorf("%s: critical %v extension %v labels %v, want %v %v %v", p.Name, p.Critical, p.RequiresExtension,
				p.LabelsIncludeAny(), w.critical, w.ext, w.labels)
		}
		if p.Platform() != "windows,linux,darwin" {
			t.Errorf("%s: platform %s", p.Name, p.Platform())
		}
		if strings.Contains(p.Resolution, TelemetryFlagsPlaceholder) {
			t.Errorf("%s: resolution keeps the placeholder", p.Name)
		}
	}
	// "= 3" in the telemetry policy: compile_telemetry reports exactly these three signals on every platform.
	for _, pl := range Platforms {
		var signals []string
		for _, h := range vocab.TelemetrySources() {
			if h.Platform == pl && !slices.Contains(signals, h.Signal) {
				signals = append(signals, h.Signal)
			}
		}
		if slices.Sort(signals); !slices.Equal(signals, []string{"file", "network", "process"}) {
			t.Errorf("compile_telemetry signals on %s: %v", pl, signals)
		}
	}
	// The telemetry policies name every flag compile_telemetry's enable_hint gives.
	for _, p := range ps[len(ps)-2:] {
		if !strings.HasPrefix(p.Name, "Compile-lineage telemetry ready") {
			t.Fatalf("policy order changed: %s", p.Name)
		}
		for _, h := range vocab.TelemetrySources() {
			if !strings.Contains(p.Resolution, h.Label+" ("+h.Hint+")") {
				t.Errorf("%s: resolution does not give %s: %s", p.Name, h.Label, h.Hint)
			}
		}
	}
}

func TestParseLabelAndPolicyErrors(t *testing.T) {
	t.Parallel()
	const label = `-- role: server
-- platform: linux
-- description: d
-- evidence: e
-- false_positives: fp
-- tuning: tu
SELECT 1 FROM os_version;
`
	const policy = `-- name: P
-- description: d
-- resolution: r {telemetry_flags}
-- platform: linux,darwin
-- critical: yes
-- requires_extension: yes
-- roles: user_endpoint
SELECT 1 FROM compile_lineage;
`
	l, err := ParseLabel("server_linux.sql", []byte(label))
	if err != nil || l.Name != "server_linux" || l.SQL != "SELECT 1 FROM os_version;" {
		t.Fatalf("good label: %+v, %v", l, err)
	}
	p, err := ParsePolicy("p.sql", []byte(policy), "FLAGS")
	if err != nil || p.Resolution != "r FLAGS" || !p.Critical ||
		!slices.Equal(p.LabelsIncludeAny(), []string{"user_endpoint_linux", "user_endpoint_macos"}) {
		t.Fatalf("good policy: %+v, %v", p, err)
	}
	tests := []struct {
		name, file, src, old, new, want string
	}{
		{"label unknown role", "server_linux.sql", label, "role: server", "role: janitor", `"janitor" is not one of`},
		{"label two platforms", "server_linux.sql", label, "platform: linux", "platform: linux,darwin", "one platform per label"},
		{"label file name", "srv.sql", label, "", "", "must be in server_linux.sql"},
		{"label missing key", "server_linux.sql", label, "-- tuning: tu\n", "", `"tuning" missing`},
		{"label unknown key", "server_linux.sql", label, "-- tuning: tu", "-- tuning: tu\n-- interval: 60", `unknown header key "interval"`},
		{"label no semicolon", "server_linux.sql", label, "os_version;", "os_version", `must end in ";"`},
		{"policy critical", "p.sql", policy, "critical: yes", "critical: true", `"true" is not yes or no`},
		{"policy platform", "p.sql", policy, "platform: linux,darwin", "platform: linux,ubuntu", `"ubuntu" is not one of`},
		{"policy role", "p.sql", policy, "roles: user_endpoint", "roles: kiosk", `"kiosk" is not one of`},
		{"policy extension", "p.sql", policy, "requires_extension: yes", "requires_extension: no", "uses the extension's tables = true"},
		{"policy file name", "P.sql", policy, "", "", "lower_snake_case"},
		{"policy empty resolution", "p.sql", policy, "resolution: r {telemetry_flags}", "resolution:", "resolution: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(tt.src, tt.old, tt.new, 1)
			if tt.old != "" && src == tt.src {
				t.Fatalf("replacement %q not found", tt.old)
			}
			var err error
			if tt.src == label {
				_, err = ParseLabel(tt.file, []byte(src))
			} else {
				_, err = ParsePolicy(tt.file, []byte(src), "")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), tt.file) {
				t.Fatalf("error = %v, want it to name %s and contain %q", err, tt.file, tt.want)
			}
		})
	}
}

func TestGeneratedRolesUpToDate(t *testing.T) {
	t.Parallel()
	files, err := GenerateRoles(mustLabels(t), mustPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("GenerateRoles returned %d files, want 4", len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (err %v): run go run ./packs/cmd/genpacks", name, err)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	updated, err := ReplaceBlock(readme, RolesDocsBegin, RolesDocsEnd, RolesDocs(mustLabels(t), mustPolicies(t)))
	if err != nil || !bytes.Equal(readme, updated) {
		t.Errorf("README.md label and policy reference is out of date (err %v): run go run ./packs/cmd/genpacks", err)
	}
}

// Fleet's keys (fleet.LabelSpec, fleet.PolicySpec) and values (label platform: darwin, windows, ubuntu,
// centos or empty; policy platforms: windows, linux, darwin; builtin label names are reserved).
var (
	fleetLabelKeys    = []string{"description", "label_membership_type", "name", "platform", "query"}
	fleetPolicyKeys   = []string{"critical", "description", "name", "platform", "query", "resolution"}
	fleetReservedName = []string{"All Hosts", "macOS", "Ubuntu Linux", "CentOS Linux", "MS Windows", "Red Hat Linux",
		"All Linux", "chrome", "iOS", "iPadOS", "Fedora Linux", "Android"}
)

func checkFleetLabel(t *testing.T, where string, m map[string]any) string {
	t.Helper()
	if keys := sortedMapKeys(m); !slices.Equal(keys, fleetLabelKeys) {
		t.Errorf("%s: keys %v, want %v", where, keys, fleetLabelKeys)
	}
	name, _ := m["name"].(string)
	if !slices.Contains(wantLabels, name) || slices.Contains(fleetReservedName, name) {
		t.Errorf("%s: label name %q", where, name)
	}
	if m["label_membership_type"] != "dynamic" {
		t.Errorf("%s: label_membership_type %v", where, m["label_membership_type"])
	}
	if p, _ := m["platform"].(string); !slices.Contains([]string{"", "windows", "darwin"}, p) {
		t.Errorf("%s: platform %q", where, p)
	}
	if q, _ := m["query"].(string); !strings.HasPrefix(q, "SELECT 1 WHERE ") || !strings.HasSuffix(q, ";") {
		t.Errorf("%s: query %q", where, q)
	}
	return name
}

func checkFleetPolicy(t *testing.T, where string, m map[string]any, labels []string) {
	t.Helper()
	keys := sortedMapKeys(m)
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "labels_include_any" })
	if !slices.Equal(keys, fleetPolicyKeys) {
		t.Errorf("%s: keys %v, want %v (+ labels_include_any)", where, keys, fleetPolicyKeys)
	}
	for _, p := range strings.Split(m["platform"].(string), ",") {
		if !slices.Contains(Platforms, p) {
			t.Errorf("%s: platform %q", where, p)
		}
	}
	if _, ok := m["critical"].(bool); !ok {
		t.Errorf("%s: critical %v", where, m["critical"])
	}
	if r, _ := m["resolution"].(string); r == "" {
		t.Errorf("%s: empty resolution", where)
	}
	// Fleet: any label referenced in policies must be in the labels section.
	if refs, ok := m["labels_include_any"].([]any); ok {
		for _, r := range refs {
			if !slices.Contains(labels, r.(string)) {
				t.Errorf("%s: labels_include_any names %v, not a shipped label", where, r)
			}
		}
	}
}

func sortedMapKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestFleetRolesYAML(t *testing.T) {
	t.Parallel()
	var labels []string
	var gl, gp []map[string]any
	for file, v := range map[string]*[]map[string]any{GitOpsLabelsFile: &gl, GitOpsPoliciesFile: &gp} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
	}
	for _, it := range gl {
		labels = append(labels, checkFleetLabel(t, GitOpsLabelsFile, it))
	}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("%s labels %v", GitOpsLabelsFile, labels)
	}
	for _, it := range gp {
		checkFleetPolicy(t, GitOpsPoliciesFile, it, labels)
	}
	if len(gp) != len(mustPolicies(t)) {
		t.Errorf("%s has %d policies", GitOpsPoliciesFile, len(gp))
	}
	for file, kind := range map[string]string{ApplyLabelsFile: "label", ApplyPoliciesFile: "policy"} {
		docs := applyDocs(t, file, kind)
		for _, spec := range docs {
			if kind == "label" {
				checkFleetLabel(t, file, spec)
			} else {
				checkFleetPolicy(t, file, spec, labels)
			}
		}
		n := len(docs)
		if want := map[string]int{"label": len(wantLabels), "policy": len(gp)}[kind]; n != want {
			t.Errorf("%s has %d documents, want %d", file, n, want)
		}
	}
}

func FuzzParseLabelPolicy(f *testing.F) {
	for _, dir := range []string{"labels", "policies"} {
		names, err := fs.Glob(roleFiles, dir+"/*.sql")
		if err != nil || len(names) == 0 {
			f.Fatalf("seeds from %s: %v", dir, err)
		}
		src, err := roleFiles.ReadFile(names[0])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Fuzz(func(t *testing.T, src string) {
		if l, err := ParseLabel("server_linux.sql", []byte(src)); err == nil {
			if l.Name != "server_linux" || !strings.HasSuffix(l.SQL, ";") {
				t.Fatalf("accepted an invalid label: %+v", l)
			}
			if q := LabelQuery(l, []Label{l}); !strings.HasSuffix(q, ";") {
				t.Fatalf("composed query %q", q)
			}
		} else if !strings.HasPrefix(err.Error(), "server_linux.sql") {
			t.Fatalf("label error does not name the file: %v", err)
		}
		if p, err := ParsePolicy("p.sql", []byte(src), "F"); err == nil {
			if p.Name == "" || len(p.Platforms) == 0 || !strings.HasSuffix(p.SQL, ";") {
				t.Fatalf("accepted an invalid policy: %+v", p)
			}
			if _, err := GenerateRoles(nil, []Policy{p}); err != nil {
				t.Fatalf("GenerateRoles failed on a parsed policy: %v", err)
			}
		} else if !strings.HasPrefix(err.Error(), "p.sql") {
			t.Fatalf("policy error does not name the file: %v", err)
		}
	})
}
