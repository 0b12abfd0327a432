// Package expect reads a scenario's expected.json and checks compile_lineage rows, osquery result-log
// lines and correlator alerts against it. The Go replay test, vmassert inside the VM and the host-side
// VM report all use it, so the three judge a scenario by the same rules.
package expect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Expected is the outcome a scenario must produce.
type Expected struct {
	Scenario    string `json:"scenario"`
	Kind        string `json:"kind"` // attack or benign
	Description string `json:"description"`
	// ListenerPort is the 127.0.0.1 port the scenario listens on (0: no network step).
	ListenerPort int `json:"listener_port"`
	// OwnPaths are folders or files only this scenario uses (compared case-insensitively as substrings of
	// command lines and output paths): they tie to the scenario what its runner starts through a service
	// (WMI, the task scheduler) and so outside its process tree.
	OwnPaths []string `json:"own_paths"`
	// Lineage lists rows that must each be matched by at least one compile_lineage row.
	Lineage []Row `json:"lineage"`
	// TelemetrySignals must each have a compile_telemetry source with used = 1 and status ok or empty.
	TelemetrySignals []string `json:"telemetry_signals"`
	// PackQueries must each have logged at least one result row matching Match.
	PackQueries []PackQuery `json:"pack_queries"`
	// ForbiddenPackQueries must not have logged a row matching Match.
	ForbiddenPackQueries []PackQuery `json:"forbidden_pack_queries"`
	Correlator           Correlator  `json:"correlator"`
	// KnownFailures are checks known to fail today, each with the reason; a failure message containing
	// Match is reported as known instead of failing, and a known failure that no longer happens fails
	// (so the entry gets removed once the product is fixed).
	KnownFailures []KnownFailure `json:"known_failures"`
}

// KnownFailure is an expected check that the product does not meet yet.
type KnownFailure struct {
	Match  string `json:"match"`
	Reason string `json:"reason"`
}

// Triage splits failure messages into unexpected ones and known ones, and returns the known
// failures that matched nothing.
func Triage(fails []string, known []KnownFailure) (unexpected, knownHit []string, stale []KnownFailure) {
	used := make([]bool, len(known))
	for _, f := range fails {
		hit := false
		for i, k := range known {
			if strings.Contains(f, k.Match) {
				used[i], hit = true, true
				knownHit = append(knownHit, f+" [known: "+k.Reason+"]")
				break
			}
		}
		if !hit {
			unexpected = append(unexpected, f)
		}
	}
	for i, k := range known {
		if !used[i] {
			stale = append(stale, k)
		}
	}
	return unexpected, knownHit, stale
}

// Row is one expected compile_lineage row.
type Row struct {
	CompilerName      string   `json:"compiler_name"`
	ParentName        string   `json:"parent_name"`
	ParentClass       string   `json:"parent_class"`
	Stage             string   `json:"stage"`
	OutputPathPattern string   `json:"output_path_pattern"` // Go/.NET-compatible regexp; "" = no output path
	MinExecutions     int      `json:"min_executions"`
	MinConnections    int      `json:"min_connections"`
	ConnectionOrigin  string   `json:"connection_origin"`
	Suspicious        int      `json:"suspicious"`
	RequiredReasons   []string `json:"required_reasons"`
	ForbiddenReasons  []string `json:"forbidden_reasons"`

	outputRE *regexp.Regexp
}

// PackQuery names a scheduled query as it appears in the result log ("pack_<pack>_<query>") and the
// column values a logged row must have: compared case-insensitively, or, when the value starts with
// "~", the rest is a regular expression the column must match (Go and .NET share the syntax used).
type PackQuery struct {
	Name  string            `json:"name"`
	Match map[string]string `json:"match"`
}

// Correlator is what the correlator must say about the scenario's evidence under each role.
type Correlator struct {
	AlertRoles  []string    `json:"alert_roles"`  // roles under which at least one alert is raised
	QuietRoles  []string    `json:"quiet_roles"`  // roles under which no alert is raised
	ScoreHigher [][2]string `json:"score_higher"` // [a, b]: the top score as role a is above the top score as b
	// MinSeverity: the most severe raised alert as the role is at least this band.
	MinSeverity map[string]string `json:"min_severity"`
}

// Severities are the correlator's bands, least severe first (correlator/internal/policy/default.yaml).
var Severities = []string{"informational", "low", "medium", "high", "critical"}

// Known values. Stages, connection origins, parent classes and reason codes are the
// table's own (tables/vocab); an empty origin means no connection.
var (
	Stages      = vocab.Stages()
	Origins     = append([]string{""}, vocab.Origins()...)
	ParentClass = vocab.Classes()
	ReasonCodes = vocab.ReasonCodes()
	Roles       = []string{"user_endpoint", "developer_workstation", "build_server", "server", "domain_controller"}
	Signals     = []string{"process", "file", "network"}
)

// RequiredKeys are the keys every expected.json and every lineage entry must spell out.
var (
	RequiredKeys = []string{"scenario", "kind", "description", "listener_port", "own_paths", "lineage", "telemetry_signals",
		"pack_queries", "forbidden_pack_queries", "correlator", "known_failures"}
	RequiredRowKeys = []string{"compiler_name", "parent_name", "parent_class", "stage", "output_path_pattern",
		"min_executions", "min_connections", "connection_origin", "suspicious", "required_reasons"}
)

var scenarioName = regexp.MustCompile(`^(attack|benign)_[a-z0-9_]+$`)

// Parse decodes and validates an expected.json; name is used in errors.
func Parse(name string, data []byte) (*Expected, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, k := range RequiredKeys {
		if _, ok := keys[k]; !ok {
			return nil, fmt.Errorf("%s: missing key %q", name, k)
		}
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(keys["lineage"], &rows); err != nil {
		return nil, fmt.Errorf("%s: lineage: %w", name, err)
	}
	for i, r := range rows {
		for _, k := range RequiredRowKeys {
			if _, ok := r[k]; !ok {
				return nil, fmt.Errorf("%s: lineage[%d]: missing key %q", name, i, k)
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Expected
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &e, nil
}

func (e *Expected) validate() error {
	if !scenarioName.MatchString(e.Scenario) {
		return fmt.Errorf("scenario %q: want attack_<name> or benign_<name>", e.Scenario)
	}
	if !strings.HasPrefix(e.Scenario, e.Kind+"_") {
		return fmt.Errorf("kind %q does not match scenario %q", e.Kind, e.Scenario)
	}
	if err := checkListenerPort(e.ListenerPort); err != nil {
		return err
	}
	for i, p := range e.OwnPaths {
		if len(p) < 4 || !strings.Contains(p, `\`) {
			return fmt.Errorf("own_paths[%d] %q: want a folder or file path with a backslash", i, p)
		}
	}
	if len(e.Lineage) == 0 {
		return errors.New("lineage: at least one row is needed")
	}
	for i := range e.Lineage {
		if err := e.Lineage[i].compile(); err != nil {
			return fmt.Errorf("lineage[%d]: %w", i, err)
		}
	}
	for _, list := range [][]PackQuery{e.PackQueries, e.ForbiddenPackQueries} {
		for i, q := range list {
			if !strings.HasPrefix(q.Name, "pack_") {
				return fmt.Errorf("pack query %d: name %q must be the result-log name pack_<pack>_<query>", i, q.Name)
			}
			for col, v := range q.Match {
				if re, ok := strings.CutPrefix(v, "~"); ok {
					if _, err := regexp.Compile(re); err != nil {
						return fmt.Errorf("pack query %s: match %s: %w", q.Name, col, err)
					}
				}
			}
		}
	}
	for _, sig := range e.TelemetrySignals {
		if !slices.Contains(Signals, sig) {
			return fmt.Errorf("telemetry_signals: unknown signal %q", sig)
		}
	}
	for i, k := range e.KnownFailures {
		if strings.TrimSpace(k.Match) == "" || strings.TrimSpace(k.Reason) == "" {
			return fmt.Errorf("known_failures[%d]: match and reason are both required", i)
		}
	}
	c := e.Correlator
	for _, r := range slices.Concat(c.AlertRoles, c.QuietRoles) {
		if !slices.Contains(Roles, r) {
			return fmt.Errorf("correlator: unknown role %q", r)
		}
	}
	for _, p := range c.ScoreHigher {
		if !slices.Contains(Roles, p[0]) || !slices.Contains(Roles, p[1]) || p[0] == p[1] {
			return fmt.Errorf("correlator: bad score_higher pair %q", p)
		}
	}
	for r, sev := range c.MinSeverity {
		if !slices.Contains(Roles, r) || !slices.Contains(Severities, sev) {
			return fmt.Errorf("correlator: bad min_severity %s: %s", r, sev)
		}
	}
	if e.Kind == "attack" && len(c.ScoreHigher) == 0 {
		return errors.New("correlator: an attack scenario needs score_higher pairs")
	}
	return nil
}

// Ports the scenario listeners must avoid on Windows Server: WinRM's HTTP and HTTPS listeners (5985,
// 5986) and its HTTP.sys compatibility listener (47001), and the dynamic (ephemeral) range
// 49152-65535 that outbound connections draw from.
var reservedPorts = []int{5985, 5986, 47001}

const dynamicPortsFrom = 49152

// checkListenerPort accepts 0 (no listener) or a port from 1024 up to the dynamic range that WinRM
// does not use.
func checkListenerPort(p int) error {
	switch {
	case p == 0:
		return nil
	case p < 1024 || p >= dynamicPortsFrom:
		return fmt.Errorf("listener_port %d: want 1024-%d (below Windows' dynamic port range)", p, dynamicPortsFrom-1)
	case slices.Contains(reservedPorts, p):
		return fmt.Errorf("listener_port %d is used by WinRM on Windows Server", p)
	}
	return nil
}

func (r *Row) compile() error {
	if r.CompilerName == "" || r.CompilerName != strings.ToLower(r.CompilerName) {
		return fmt.Errorf("compiler_name %q must be a lower-case base name", r.CompilerName)
	}
	if r.ParentName != strings.ToLower(r.ParentName) {
		return fmt.Errorf("parent_name %q must be lower-case", r.ParentName)
	}
	if !slices.Contains(ParentClass, r.ParentClass) {
		return fmt.Errorf("parent_class %q unknown", r.ParentClass)
	}
	if !slices.Contains(Stages, r.Stage) {
		return fmt.Errorf("stage %q unknown", r.Stage)
	}
	if !slices.Contains(Origins, r.ConnectionOrigin) {
		return fmt.Errorf("connection_origin %q unknown", r.ConnectionOrigin)
	}
	if r.Suspicious != 0 && r.Suspicious != 1 {
		return fmt.Errorf("suspicious must be 0 or 1, not %d", r.Suspicious)
	}
	if r.MinExecutions < 0 || r.MinConnections < 0 {
		return errors.New("min_executions and min_connections must be >= 0")
	}
	for _, c := range slices.Concat(r.RequiredReasons, r.ForbiddenReasons) {
		if !slices.Contains(ReasonCodes, c) {
			return fmt.Errorf("reason %q unknown", c)
		}
	}
	for _, c := range r.RequiredReasons {
		if slices.Contains(r.ForbiddenReasons, c) {
			return fmt.Errorf("reason %q both required and forbidden", c)
		}
	}
	re, err := regexp.Compile(r.OutputPathPattern)
	if err != nil {
		return fmt.Errorf("output_path_pattern: %w", err)
	}
	r.outputRE = re
	return nil
}

// String is a short description of the expected row for reports.
func (r Row) String() string {
	return fmt.Sprintf("%s<-%s stage=%s", r.CompilerName, r.ParentName, r.Stage)
}

// Mismatches lists how a compile_lineage row differs from r (empty: the row matches).
func (r Row) Mismatches(row map[string]string) []string {
	var out []string
	ne := func(col, want string) {
		if got := row[col]; got != want {
			out = append(out, fmt.Sprintf("%s=%q want %q", col, got, want))
		}
	}
	ne("compiler_name", r.CompilerName)
	ne("parent_name", r.ParentName)
	ne("parent_class", r.ParentClass)
	ne("stage", r.Stage)
	ne("connection_origin", r.ConnectionOrigin)
	ne("suspicious", strconv.Itoa(r.Suspicious))
	re := r.outputRE
	if re == nil {
		var err error
		if re, err = regexp.Compile(r.OutputPathPattern); err != nil {
			out = append(out, "output_path_pattern: "+err.Error())
		}
	}
	switch {
	case r.OutputPathPattern == "":
		if row["output_path"] != "" {
			out = append(out, fmt.Sprintf("output_path=%q want none", row["output_path"]))
		}
	case re != nil && !re.MatchString(row["output_path"]):
		out = append(out, fmt.Sprintf("output_path=%q does not match %s", row["output_path"], r.OutputPathPattern))
	}
	atLeast := func(col string, min int) {
		n, err := strconv.Atoi(row[col])
		if err != nil || n < min {
			out = append(out, fmt.Sprintf("%s=%q want >= %d", col, row[col], min))
		}
	}
	atLeast("executions", r.MinExecutions)
	atLeast("connections", r.MinConnections)
	reasons := SplitList(row["reasons"])
	for _, c := range r.RequiredReasons {
		if !slices.Contains(reasons, c) {
			out = append(out, "reason "+c+" missing")
		}
	}
	for _, c := range r.ForbiddenReasons {
		if slices.Contains(reasons, c) {
			out = append(out, "reason "+c+" present")
		}
	}
	return out
}

// Match finds the first row matching r. When none does, it returns -1 and the mismatches of the
// closest row (same compiler and parent when there is one) to explain the failure.
func (r Row) Match(rows []map[string]string) (int, []string) {
	best, bestScore := []string{"no compile_lineage rows"}, 1<<30
	for i, row := range rows {
		m := r.Mismatches(row)
		if len(m) == 0 {
			return i, nil
		}
		score := len(m)
		if row["compiler_name"] != r.CompilerName || row["parent_name"] != r.ParentName {
			score += 100
		}
		if score < bestScore {
			best, bestScore = append([]string{"closest row " + Describe(row)}, m...), score
		}
	}
	return -1, best
}

// Describe is a one-line summary of a compile_lineage row.
func Describe(row map[string]string) string {
	return fmt.Sprintf("%s<-%s class=%s stage=%s out=%q exec=%s conn=%s origin=%q suspicious=%s reasons=%q",
		row["compiler_name"], row["parent_name"], row["parent_class"], row["stage"], row["output_path"],
		row["executions"], row["connections"], row["connection_origin"], row["suspicious"], row["reasons"])
}

// SplitList splits a ';'-joined column.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Matches reports whether a result row has every column value of q.Match (case-insensitive).
func (q PackQuery) Matches(name string, columns map[string]string) bool {
	if name != q.Name {
		return false
	}
	for k, v := range q.Match {
		got, ok := columns[k]
		if !ok {
			return false
		}
		if pattern, isRE := strings.CutPrefix(v, "~"); isRE {
			re, err := regexp.Compile(pattern)
			if err != nil || !re.MatchString(got) {
				return false
			}
			continue
		}
		if !strings.EqualFold(got, v) {
			return false
		}
	}
	return true
}

// CheckTelemetry checks compile_telemetry rows: every expected signal has a source with used = 1 whose
// status is ok (or empty: the source works but saw nothing, e.g. no connection in a no-network scenario).
func CheckTelemetry(e *Expected, rows []map[string]string) []string {
	var fails []string
	for _, sig := range e.TelemetrySignals {
		found := false
		for _, r := range rows {
			if r["signal"] == sig && r["used"] == "1" && (r["status"] == "ok" || r["status"] == "empty") {
				found = true
				break
			}
		}
		if !found {
			fails = append(fails, "compile_telemetry: no used source with status ok/empty for signal "+sig)
		}
	}
	return fails
}
