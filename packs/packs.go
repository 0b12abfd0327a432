// Package packs holds the compile-after-delivery scheduled queries (one .sql file per query, with a
// metadata header in SQL comments) and generates from them the osquery packs and the Fleet YAML that
// are checked in next to this file.
//
// Header format (every line of the header starts with "--"):
//
//	-- name: compile_suspicious
//	-- description: First line of the text,
//	--   continued on lines that start with "--" and two or more spaces.
//	-- platform: windows,linux,darwin
//	-- interval: 300
//	-- min_osquery_version: 5.8.0
//	-- logging: differential_ignore_removals
//	-- attack: T1027.004, T1127.001
//	-- false_positives: ...
//	-- tuning: ...
//	-- requires_extension: yes
//	-- fallback: elastic_dotnet_parent          (fallback queries only: the value of their fallback column)
//	-- flags.windows: enable_process_etw_events=true windows_event_channels=System,Security
//
// The SQL follows the header.
package packs

//go:generate go run ./cmd/genpacks -dir .

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// Logging types, as Fleet names them.
const (
	LoggingSnapshot                   = "snapshot"
	LoggingDifferential               = "differential"
	LoggingDifferentialIgnoreRemovals = "differential_ignore_removals"
)

// EventsExpiry is osquery's default --events_expiry in seconds; every interval must stay below it so an
// event-table query never loses events between two runs.
const EventsExpiry = 3600

// Platforms are the osquery platform names a query may target.
var Platforms = []string{"windows", "linux", "darwin"}

// Flag is one osquery command-line flag a query needs, without the leading dashes.
type Flag struct {
	Name  string
	Value string
}

// String renders the flag as it appears in an osquery flagfile.
func (f Flag) String() string { return "--" + f.Name + "=" + f.Value }

// Query is one scheduled query with its metadata.
type Query struct {
	File              string // file name under queries/
	Name              string
	Description       string
	Platforms         []string // subset of Platforms, in the order written
	Interval          int      // seconds
	MinOsqueryVersion string
	Logging           string
	Attack            []string
	FalsePositives    string
	Tuning            string
	RequiresExtension bool
	Fallback          string            // fallback rule name; empty for extension queries
	Flags             map[string][]Flag // platform -> flags the query needs there
	SQL               string            // the query without the header, ending in ";"
	// Source is the whole file with its vocabulary lists written out (ExpandVocab), as
	// genpacks writes it back to queries/; nil for a query parsed on its own.
	Source []byte
}

// Platform is the comma-separated platform list used by osquery packs and Fleet.
func (q Query) Platform() string { return strings.Join(q.Platforms, ",") }

var (
	nameRe    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	keyRe     = regexp.MustCompile(`^-- ([a-z_]+(?:\.[a-z]+)?):(.*)$`)
	versionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	attackRe  = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	flagRe    = regexp.MustCompile(`^([a-z][a-z0-9_]*)=(\S+)$`)
)

var requiredKeys = []string{
	"name", "description", "platform", "interval", "min_osquery_version", "logging", "attack",
	"false_positives", "tuning", "requires_extension",
}

// Load reads every queries/*.sql file of fsys, sorted by file name.
func Load(fsys fs.FS) ([]Query, error) {
	names, err := fs.Glob(fsys, "queries/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list queries: %w", err)
	}
	slices.Sort(names)
	qs := make([]Query, 0, len(names))
	seen := map[string]string{}
	for _, n := range names {
		src, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		if src, err = ExpandVocab(n, src); err != nil {
			return nil, err
		}
		q, err := Parse(path.Base(n), src)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[q.Name]; ok {
			return nil, fmt.Errorf("%s: query name %q already used by %s", n, q.Name, other)
		}
		seen[q.Name] = n
		q.Source = src
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("no queries/*.sql files found")
	}
	return qs, nil
}

// Embedded returns the queries compiled into this package.
func Embedded() ([]Query, error) { return Load(queryFiles) }

// Parse parses one query file. file is its base name and must be "<name>.sql".
func Parse(file string, src []byte) (Query, error) {
	q := Query{File: file, Flags: map[string][]Flag{}}
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	vals := map[string]string{}
	lineOf := map[string]int{}
	var order []string
	last := ""
	i := 0
	for ; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t")
		if !strings.HasPrefix(l, "--") {
			break
		}
		if strings.HasPrefix(l, "--  ") || l == "--" {
			if last == "" {
				return q, fmt.Errorf("%s:%d: continuation line before any key", file, i+1)
			}
			vals[last] = strings.TrimSpace(vals[last] + " " + strings.TrimSpace(l[2:]))
			continue
		}
		m := keyRe.FindStringSubmatch(l)
		if m == nil {
			return q, fmt.Errorf("%s:%d: header line is not \"-- key: value\": %q", file, i+1, l)
		}
		key := m[1]
		if _, dup := vals[key]; dup {
			return q, fmt.Errorf("%s:%d: key %q repeated", file, i+1, key)
		}
		vals[key] = strings.TrimSpace(m[2])
		lineOf[key] = i + 1
		order = append(order, key)
		last = key
	}
	for _, k := range requiredKeys {
		if _, ok := vals[k]; !ok {
			return q, fmt.Errorf("%s: header key %q missing", file, k)
		}
	}
	for _, k := range order {
		if slices.Contains(requiredKeys, k) || k == "fallback" {
			continue
		}
		p, ok := strings.CutPrefix(k, "flags.")
		if !ok || !slices.Contains(Platforms, p) {
			return q, fmt.Errorf("%s:%d: unknown header key %q", file, lineOf[k], k)
		}
	}
	errAt := func(key, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s: %s", file, lineOf[key], key, fmt.Sprintf(format, args...))
	}

	q.Name = vals["name"]
	if !nameRe.MatchString(q.Name) {
		return q, errAt("name", "%q is not lower_snake_case", q.Name)
	}
	if strings.HasPrefix(q.Name, "query") || strings.HasPrefix(q.Name, "cache") ||
		strings.HasPrefix(q.Name, "config_views") || strings.HasSuffix(q.Name, "epoch") ||
		strings.HasSuffix(q.Name, "counter") {
		return q, errAt("name", "%q is a name osquery reserves", q.Name)
	}
	if file != q.Name+".sql" {
		return q, errAt("name", "%q does not match the file name %s", q.Name, file)
	}
	q.Description = vals["description"]
	q.FalsePositives = vals["false_positives"]
	q.Tuning = vals["tuning"]
	for _, k := range []string{"description", "false_positives", "tuning"} {
		if vals[k] == "" {
			return q, errAt(k, "empty")
		}
	}
	for _, p := range strings.Split(vals["platform"], ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(Platforms, p) {
			return q, errAt("platform", "%q is not one of %s", p, strings.Join(Platforms, ", "))
		}
		if slices.Contains(q.Platforms, p) {
			return q, errAt("platform", "%q listed twice", p)
		}
		q.Platforms = append(q.Platforms, p)
	}
	n, err := strconv.Atoi(vals["interval"])
	if err != nil || n <= 0 || n >= EventsExpiry {
		return q, errAt("interval", "%q must be a whole number of seconds in 1..%d (below events_expiry)",
			vals["interval"], EventsExpiry-1)
	}
	q.Interval = n
	q.MinOsqueryVersion = vals["min_osquery_version"]
	if !versionRe.MatchString(q.MinOsqueryVersion) {
		return q, errAt("min_osquery_version", "%q is not x.y.z", q.MinOsqueryVersion)
	}
	q.Logging = vals["logging"]
	switch q.Logging {
	case LoggingSnapshot, LoggingDifferential, LoggingDifferentialIgnoreRemovals:
	default:
		return q, errAt("logging", "%q is not snapshot, differential or differential_ignore_removals", q.Logging)
	}
	for _, a := range strings.Split(vals["attack"], ",") {
		a = strings.TrimSpace(a)
		if !attackRe.MatchString(a) {
			return q, errAt("attack", "%q is not an ATT&CK technique id", a)
		}
		q.Attack = append(q.Attack, a)
	}
	switch vals["requires_extension"] {
	case "yes":
		q.RequiresExtension = true
	case "no":
	default:
		return q, errAt("requires_extension", "%q is not yes or no", vals["requires_extension"])
	}
	q.Fallback = vals["fallback"]
	if q.RequiresExtension == (q.Fallback != "") {
		return q, fmt.Errorf("%s: a query needs either requires_extension: yes or a fallback name, not both", file)
	}
	if q.Fallback != "" && !nameRe.MatchString(q.Fallback) {
		return q, errAt("fallback", "%q is not lower_snake_case", q.Fallback)
	}
	for _, p := range q.Platforms {
		key := "flags." + p
		if _, ok := vals[key]; !ok {
			return q, fmt.Errorf("%s: header key %q missing (one per platform, may be empty)", file, key)
		}
		for _, f := range strings.Fields(vals[key]) {
			m := flagRe.FindStringSubmatch(f)
			if m == nil {
				return q, errAt(key, "%q is not name=value", f)
			}
			q.Flags[p] = append(q.Flags[p], Flag{Name: m[1], Value: m[2]})
		}
	}
	for k := range vals {
		if p, ok := strings.CutPrefix(k, "flags."); ok && !slices.Contains(q.Platforms, p) {
			return q, errAt(k, "platform %q is not in the query's platform list", p)
		}
	}

	body := strings.TrimSpace(strings.Join(lines[i:], "\n"))
	if body == "" {
		return q, fmt.Errorf("%s: no SQL after the header", file)
	}
	if !strings.HasSuffix(body, ";") {
		return q, fmt.Errorf("%s: the SQL must end in \";\"", file)
	}
	for j, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			return q, fmt.Errorf("%s:%d: comment inside the SQL body; put notes in the header", file, i+j+1)
		}
		if strings.TrimRight(l, " \t") != l {
			return q, fmt.Errorf("%s:%d: trailing white space in the SQL body", file, i+j+1)
		}
	}
	q.SQL = body
	return q, nil
}
