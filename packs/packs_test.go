package packs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// wantQueries is the full list of shipped queries: name -> platform, interval, extension or fallback rule.
var wantQueries = map[string]struct {
	platform string
	interval int
	fallback string // "" = needs the extension
}{
	"compile_suspicious":                     {"windows,linux,darwin", 300, ""},
	"compile_artifact_executed":              {"windows,linux,darwin", 300, ""},
	"compile_artifact_network":               {"windows,linux,darwin", 300, ""},
	"compile_baseline":                       {"windows,linux,darwin", 1800, ""},
	"compile_telemetry_gaps":                 {"windows,linux,darwin", 3000, ""},
	"fallback_elastic_dotnet_parent_etw":     {"windows", 300, "elastic_dotnet_parent"},
	"fallback_elastic_dotnet_parent_sysmon":  {"windows", 300, "elastic_dotnet_parent"},
	"fallback_an1381_etw":                    {"windows", 300, "mitre_an1381"},
	"fallback_an1381_sysmon":                 {"windows", 300, "mitre_an1381"},
	"fallback_linux_webserver_compiler":      {"linux", 300, "linux_webserver_compiler"},
	"fallback_linux_tmp_compiler":            {"linux", 300, "linux_tmp_compiler"},
	"fallback_macos_suspicious_dir_compiler": {"darwin", 300, "macos_suspicious_dir_compiler"},
}

func mustEmbedded(t testing.TB) []Query {
	t.Helper()
	qs, err := Embedded()
	if err != nil {
		t.Fatalf("load embedded queries: %v", err)
	}
	return qs
}

func TestEmbeddedQueries(t *testing.T) {
	t.Parallel()
	qs := mustEmbedded(t)
	if len(qs) != len(wantQueries) {
		t.Fatalf("got %d queries, want %d", len(qs), len(wantQueries))
	}
	for _, q := range qs {
		want, ok := wantQueries[q.Name]
		if !ok {
			t.Errorf("unexpected query %s", q.Name)
			continue
		}
		if q.Platform() != want.platform || q.Interval != want.interval || q.Fallback != want.fallback {
			t.Errorf("%s: platform %q interval %d fallback %q, want %q %d %q",
				q.Name, q.Platform(), q.Interval, q.Fallback, want.platform, want.interval, want.fallback)
		}
		if q.RequiresExtension != (want.fallback == "") {
			t.Errorf("%s: requires_extension %v", q.Name, q.RequiresExtension)
		}
		usesExt := strings.Contains(q.SQL, "compile_lineage") || strings.Contains(q.SQL, "compile_telemetry")
		if usesExt != q.RequiresExtension {
			t.Errorf("%s: uses extension tables = %v but requires_extension = %v", q.Name, usesExt, q.RequiresExtension)
		}
		// Features the SQL uses need a minimum osquery version: MATERIALIZED CTEs need SQLite 3.35
		// (osquery 5.0), JSON functions are built into SQLite 3.38 (osquery 5.4), process_etw_events
		// appeared in osquery 5.8.
		for feature, min := range map[string]string{"AS MATERIALIZED": "5.0.0", "json_extract": "5.4.0",
			"process_etw_events": "5.8.0", "es_process_events": "4.9.0"} {
			if strings.Contains(q.SQL, feature) && versionLess(q.MinOsqueryVersion, min) {
				t.Errorf("%s uses %s but declares min_osquery_version %s (< %s)", q.Name, feature, q.MinOsqueryVersion, min)
			}
		}
		if q.Fallback != "" && !strings.Contains(q.SQL, "'"+q.Fallback+"' AS fallback") {
			t.Errorf("%s: SQL does not emit fallback = %q", q.Name, q.Fallback)
		}
	}
}

// versionLess compares x.y.z versions numerically.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const good = `-- name: q1
-- description: d
--   more d
-- platform: linux
-- interval: 60
-- min_osquery_version: 5.0.0
-- logging: differential
-- attack: T1027.004
-- false_positives: fp
-- tuning: tu
-- requires_extension: no
-- fallback: rule_a
-- flags.linux: disable_audit=false audit_allow_config=true
SELECT 1 AS x;
`
	q, err := Parse("q1.sql", []byte(good))
	if err != nil {
		t.Fatalf("good header: %v", err)
	}
	if q.Description != "d more d" || q.SQL != "SELECT 1 AS x;" || q.Fallback != "rule_a" ||
		!slices.Equal(q.Flags["linux"], []Flag{{"disable_audit", "false"}, {"audit_allow_config", "true"}}) {
		t.Fatalf("good header parsed as %+v", q)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"file name mismatch", "-- name: q1", "-- name: q2", "does not match the file name"},
		{"interval at expiry", "-- interval: 60", "-- interval: 3600", "below events_expiry"},
		{"interval not a number", "-- interval: 60", "-- interval: 5m", "whole number"},
		{"unknown platform", "-- platform: linux", "-- platform: linux,freebsd", `"freebsd" is not one of`},
		{"bad logging", "-- logging: differential", "-- logging: diff", "is not snapshot"},
		{"bad attack id", "-- attack: T1027.004", "-- attack: T1027.4", "ATT&CK technique id"},
		{"missing key", "-- tuning: tu\n", "", `"tuning" missing`},
		{"unknown key", "-- tuning: tu", "-- tuning: tu\n-- severity: high", `unknown header key "severity"`},
		{"flags for other platform", "-- tuning: tu", "-- tuning: tu\n-- flags.windows: a=b", "is not in the query's platform list"},
		{"missing platform flags", "-- flags.linux: disable_audit=false audit_allow_config=true\n", "", `"flags.linux" missing`},
		{"bad flag", "audit_allow_config=true", "audit_allow_config", "is not name=value"},
		{"extension and fallback", "-- requires_extension: no", "-- requires_extension: yes", "not both"},
		{"neither", "-- fallback: rule_a\n", "", "not both"},
		{"no semicolon", "SELECT 1 AS x;", "SELECT 1 AS x", `must end in ";"`},
		{"comment in body", "SELECT 1 AS x;", "SELECT 1 AS x\n-- note\n;", "comment inside the SQL body"},
		{"no body", "SELECT 1 AS x;\n", "", "no SQL after the header"},
		{"continuation first", "-- name: q1", "--   stray\n-- name: q1", "continuation line before any key"},
		{"malformed header", "-- tuning: tu", "-- tuning: tu\n--tuning2", "is not \"-- key: value\""},
		{"repeated key", "-- tuning: tu", "-- tuning: tu\n-- tuning: again", "repeated"},
		{"reserved name", "-- name: q1", "-- name: query_counter", "reserves"},
		{"empty description", "-- description: d\n--   more d", "-- description:", "description: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(good, tt.old, tt.new, 1)
			if src == good {
				t.Fatalf("replacement %q not found", tt.old)
			}
			file := "q1.sql"
			if tt.name == "reserved name" {
				file = "query_counter.sql"
			}
			_, err := Parse(file, []byte(src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestGeneratedFilesUpToDate regenerates every file in memory and compares it with the checked-in copy.
func TestGeneratedFilesUpToDate(t *testing.T) {
	t.Parallel()
	files, err := Generate(mustEmbedded(t))
	if err != nil {
		t.Fatal(err)
	}
	if qs := mustEmbedded(t); len(files) != 4+len(qs) {
		t.Fatalf("Generate returned %d files, want 4 and the %d query files", len(files), len(qs))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Errorf("read %s: %v (run go run ./packs/cmd/genpacks)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go run ./packs/cmd/genpacks", name)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	updated, err := ReplaceBlock(readme, DocsBegin, DocsEnd, QueryDocs(mustEmbedded(t)))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if !bytes.Equal(readme, updated) {
		t.Errorf("README.md query reference is out of date: run go run ./packs/cmd/genpacks")
	}
}

func decodeStrictJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s is not a strict JSON pack: %v", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: trailing data after the pack object", path)
	}
}

func TestOsqueryPacks(t *testing.T) {
	t.Parallel()
	var ext, fb Pack
	decodeStrictJSON(t, ExtensionPackFile, &ext)
	decodeStrictJSON(t, FallbackPackFile, &fb)
	if !slices.Equal(ext.Discovery, Discovery) {
		t.Errorf("extension pack discovery = %q", ext.Discovery)
	}
	for _, d := range ext.Discovery {
		if !strings.Contains(d, "FROM osquery_registry") {
			t.Errorf("discovery query %q does not read osquery_registry", d)
		}
	}
	if len(fb.Discovery) != 0 {
		t.Errorf("fallback pack has discovery %q; it must run on stock osquery", fb.Discovery)
	}
	checks := []struct {
		pack   Pack
		ext    bool
		wanted int
	}{{ext, true, 5}, {fb, false, 7}}
	for _, c := range checks {
		if len(c.pack.Queries) != c.wanted {
			t.Errorf("pack has %d queries, want %d", len(c.pack.Queries), c.wanted)
		}
		for name, pq := range c.pack.Queries {
			want, ok := wantQueries[name]
			if !ok || (want.fallback == "") != c.ext {
				t.Errorf("query %s is in the wrong pack", name)
				continue
			}
			if pq.Platform != want.platform || pq.Interval != want.interval {
				t.Errorf("%s: platform %q interval %d", name, pq.Platform, pq.Interval)
			}
			if pq.Interval >= EventsExpiry {
				t.Errorf("%s: interval %d not below events_expiry", name, pq.Interval)
			}
			if pq.Snapshot == nil && pq.Removed == nil {
				t.Errorf("%s: logging type not set (snapshot or removed)", name)
			}
			if !strings.HasSuffix(pq.Query, ";") || pq.Version == "" {
				t.Errorf("%s: query or version missing", name)
			}
		}
	}
}

var fleetKeys = []string{"automations_enabled", "description", "interval", "logging", "min_osquery_version",
	"name", "platform", "query"}

func checkFleetQuery(t *testing.T, where string, m map[string]any) {
	t.Helper()
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, fleetKeys) {
		t.Errorf("%s: keys %v, want %v", where, keys, fleetKeys)
	}
	name, _ := m["name"].(string)
	want, ok := wantQueries[name]
	if !ok {
		t.Errorf("%s: unknown query name %q", where, name)
		return
	}
	if m["automations_enabled"] != true {
		t.Errorf("%s: automations_enabled = %v", where, m["automations_enabled"])
	}
	if m["platform"] != want.platform || m["interval"] != want.interval {
		t.Errorf("%s: platform %v interval %v", where, m["platform"], m["interval"])
	}
	switch m["logging"] {
	case LoggingSnapshot, LoggingDifferential, LoggingDifferentialIgnoreRemovals:
	default:
		t.Errorf("%s: logging %v", where, m["logging"])
	}
	if v, _ := m["min_osquery_version"].(string); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("%s: min_osquery_version %v", where, m["min_osquery_version"])
	}
}

func TestFleetGitOps(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(GitOpsFile)
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := yaml.Unmarshal(b, &items); err != nil {
		t.Fatalf("parse %s: %v", GitOpsFile, err)
	}
	if len(items) != len(wantQueries) {
		t.Fatalf("%s has %d queries, want %d", GitOpsFile, len(items), len(wantQueries))
	}
	qs := mustEmbedded(t)
	for i, it := range items {
		checkFleetQuery(t, GitOpsFile, it)
		if it["query"] != qs[i].SQL {
			t.Errorf("%s item %d: query differs from queries/%s", GitOpsFile, i, qs[i].File)
		}
	}
}

func TestFleetApply(t *testing.T) {
	t.Parallel()
	docs := applyDocs(t, ApplyFile, "query")
	for _, spec := range docs {
		checkFleetQuery(t, ApplyFile, spec)
	}
	if len(docs) != len(wantQueries) {
		t.Fatalf("%s has %d documents, want %d", ApplyFile, len(docs), len(wantQueries))
	}
}

// applyDocs reads a fleetctl apply file: every document must be apiVersion v1 of the given kind; it
// returns their specs.
func applyDocs(t *testing.T, file, kind string) []map[string]any {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var specs []map[string]any
	for {
		var doc struct {
			APIVersion string         `yaml:"apiVersion"`
			Kind       string         `yaml:"kind"`
			Spec       map[string]any `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return specs
		}
		if err != nil {
			t.Fatalf("parse %s document %d: %v", file, len(specs)+1, err)
		}
		if doc.APIVersion != "v1" || doc.Kind != kind {
			t.Errorf("%s document %d: apiVersion %q kind %q", file, len(specs)+1, doc.APIVersion, doc.Kind)
		}
		specs = append(specs, doc.Spec)
	}
}

func FuzzParse(f *testing.F) {
	qs, err := Embedded()
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range qs[:3] {
		src, err := queryFiles.ReadFile("queries/" + q.File)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add("-- name: x\nSELECT 1;")
	f.Add("--   \n--\n-- flags.linux: a=b\n")
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse("x.sql", []byte(src))
		if err != nil {
			return
		}
		if q.Name != "x" || q.Interval <= 0 || q.Interval >= EventsExpiry || !strings.HasSuffix(q.SQL, ";") {
			t.Fatalf("accepted an invalid query: %+v", q)
		}
		if _, err := Generate([]Query{q}); err != nil {
			t.Fatalf("Generate failed on a parsed query: %v", err)
		}
	})
}
