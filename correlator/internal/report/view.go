// Package report is the analyst's view of scored compile lineages: the
// alert queue and, for each alert, its lineage drawn as an SVG graph (laid
// out here, in Go), the score's explanation and a triage playbook of
// osquery queries filled in with the alert's own paths and pids. It renders
// one self-contained HTML page, a text tree for the terminal, and serves the
// same pages over HTTP.
//
// Everything here reads a small view-model (Alert) built by FromAlert, so a
// change of the alert document touches FromAlert only.
package report

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
)

// Decisions of the correlator about an evaluated lineage.
const (
	DecisionAlert      = "alert"
	DecisionSuppressed = "suppressed"
	DecisionBelow      = "below threshold"
)

// Proc is one process of the lineage.
type Proc struct {
	Name    string
	Path    string
	PID     int64
	User    string
	Cmdline string
	Class   string
	GUID    string
	Time    int64 // unix seconds, 0 unknown
}

// Line is one contribution to the score: its points on the 0-100 scale,
// its weight in bits and the likelihood ratio it stands for (0 unknown).
type Line struct {
	Code   string
	Points float64
	Bits   float64
	LR     float64
	Detail string
}

// Exception is an exception that applied or would have applied.
type Exception struct {
	ID, Owner, Reason, Ticket, Expires, Source, Status string
	Applied                                            bool
}

// Technique is an ATT&CK technique or tactic with its page.
type Technique struct {
	ID  string
	URL string
}

// HostRisk is a host whose lineages added up over a window.
type HostRisk struct {
	Window, Since, Band string
	Sum, Threshold      float64
	Lineages            []RiskLineage
}

// RiskLineage is one lineage counted in a host's risk.
type RiskLineage struct {
	LineageID, Severity, Stage, Time string
	Score                            float64
}

// Alert is the view-model of one evaluated lineage, or of a host risk
// alert (HostRisk set, no lineage).
type Alert struct {
	HostRisk   *HostRisk
	LineageID  string
	AlertID    string
	Host       string
	HostUUID   string
	Hostname   string
	Role       string
	Roles      []string
	RoleSource string
	Score      float64
	Severity   string
	Stage      string
	Decision   string
	Time       time.Time // compiler start
	Platform   string    // windows, linux, darwin
	Fallback   string    // rule of an extension-free fallback row

	Ancestors []string // names above the parent, oldest first
	Parent    Proc
	Compiler  Proc
	Followups []string // processes the compiler or its parent started after the compile

	ArtifactPath    string
	ArtifactSHA256  string
	ArtifactWritten bool
	WrittenTime     int64
	OutputSource    string

	Executions    int64
	ExecPID       int64
	ExecTime      int64
	Connections   int64
	RemoteAddress string
	RemotePort    int64
	ConnOrigin    string // artifact, compiler, parent

	Evidence []string // link evidence: write:pid, exec:path, net:artifact_guid, ...
	Gaps     []string // telemetry gaps

	Explanation []Line
	LogOdds     float64 // bits
	Evidence0   float64 // evidence in bits
	Prior       float64
	Probability float64
	Impact      float64
	Exception   *Exception
	Techniques  []Technique
	Tactics     []Technique
	Query       string
	Input       string
}

// FromAlert builds the view-model of an alert document.
func FromAlert(a *alert.Alert) Alert {
	v := Alert{
		LineageID: a.LineageID, AlertID: a.AlertID, Host: a.Host, HostUUID: a.HostUUID, Hostname: a.Hostname,
		Role: a.Role, Roles: a.Roles, RoleSource: a.RoleLabel, Score: a.Score, Severity: a.Severity,
		Stage: a.Stage, Platform: a.Platform, Fallback: a.Fallback,
		Parent: Proc{Name: a.ParentName, Path: a.ParentPath, PID: a.ParentPID, Cmdline: a.ParentCmdline, Class: a.ParentClass},
		Compiler: Proc{Name: a.CompilerName, Path: a.CompilerPath, PID: a.CompilerPID, User: a.CompilerUser,
			Cmdline: a.CompilerCmdline, GUID: a.CompilerGUID, Time: a.Record.Time},
		ArtifactPath: a.OutputPath, ArtifactSHA256: a.ArtifactSHA256, ArtifactWritten: a.ArtifactWritten,
		WrittenTime: a.ArtifactWrittenTime, OutputSource: a.OutputSource,
		Executions: a.Executions, ExecPID: a.FirstExecPID, ExecTime: a.FirstExecTime,
		Connections: a.Connections, RemoteAddress: a.FirstRemoteAddress, RemotePort: a.FirstRemotePort,
		ConnOrigin: a.ConnectionOrigin,
		Evidence:   lineage.SplitList(a.LinkEvidence), Gaps: a.TelemetryGaps,
		LogOdds: a.LogOdds, Evidence0: a.Evidence, Prior: a.Prior, Probability: a.Probability, Impact: a.Impact,
		Query: a.Query, Input: a.Input,
	}
	if a.Record.Time > 0 {
		v.Time = time.Unix(a.Record.Time, 0).UTC()
	} else if t, err := time.Parse(time.RFC3339, a.Time); err == nil {
		// An alert read back from JSON: its top-level "time" hides the record's.
		v.Time = t
		v.Compiler.Time = t.Unix()
	}
	switch {
	case a.Suppressed:
		v.Decision = DecisionSuppressed
	case a.BelowThreshold:
		v.Decision = DecisionBelow
	default:
		v.Decision = DecisionAlert
	}
	if v.Platform == "" {
		v.Platform = guessPlatform(a.CompilerPath + a.OutputPath)
	}
	v.Ancestors, v.Parent.Name = ancestors(a.Ancestry, a.ParentName, a.CompilerName)
	v.Followups = lineage.SplitList(a.FollowupProcesses)
	for _, r := range a.Reasons {
		v.Explanation = append(v.Explanation, Line{Code: r.Code, Points: r.Points, Bits: r.Bits, LR: r.LR, Detail: r.Detail})
	}
	if h := a.HostRisk; h != nil && a.Kind == alert.KindHostRisk {
		v.HostRisk = &HostRisk{Window: h.Window, Since: h.Since, Band: h.Band, Sum: h.Sum, Threshold: h.Threshold}
		for _, l := range h.Lineages {
			v.HostRisk.Lineages = append(v.HostRisk.Lineages, RiskLineage{LineageID: l.LineageID, Severity: l.Severity,
				Stage: l.Stage, Time: l.Time, Score: l.Score})
		}
	}
	if x := a.Exception; x != nil {
		v.Exception = &Exception{ID: x.ID, Owner: x.Owner, Reason: x.Reason, Ticket: x.Ticket, Expires: x.Expires,
			Source: x.Source, Status: x.Status, Applied: x.Applied}
	}
	for _, t := range a.Techniques {
		v.Techniques = append(v.Techniques, Technique{ID: t, URL: TechniqueURL(t)})
	}
	for _, t := range a.Tactics {
		v.Tactics = append(v.Tactics, Technique{ID: t, URL: TechniqueURL(t)})
	}
	return v
}

// FromAlerts builds the view-models of alerts, sorted by score (highest
// first), then time and lineage id.
func FromAlerts(as []*alert.Alert) []Alert {
	out := make([]Alert, 0, len(as))
	for _, a := range as {
		out = append(out, FromAlert(a))
	}
	Sort(out)
	return out
}

// Sort orders alerts by score, highest first, then by newest time and
// lineage id.
func Sort(vs []Alert) {
	slices.SortStableFunc(vs, func(a, b Alert) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.LineageID, b.LineageID)
	})
}

// ancestors splits the ancestry ("a > b > parent > compiler") into the
// names above the parent, and the parent's name (the row's parent_name
// wins when given).
func ancestors(ancestry, parent, compiler string) ([]string, string) {
	var names []string
	for _, n := range strings.Split(ancestry, " > ") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) > 0 && strings.EqualFold(names[len(names)-1], compiler) {
		names = names[:len(names)-1]
	}
	if len(names) > 0 {
		last := names[len(names)-1]
		names = names[:len(names)-1]
		if parent == "" {
			parent = strings.ToLower(last)
		}
	}
	return names, parent
}

func guessPlatform(paths string) string {
	switch {
	case strings.Contains(paths, `\`):
		return "windows"
	case strings.HasPrefix(paths, "/Users/") || strings.HasPrefix(paths, "/Applications/") || strings.HasPrefix(paths, "/Library/"):
		return "darwin"
	case paths != "":
		return "linux"
	}
	return ""
}

// TechniqueURL is the ATT&CK page of a technique (T1027.004), tactic
// (TA0005) or empty for anything else.
func TechniqueURL(id string) string {
	ok := func(s string) bool {
		if s == "" {
			return false
		}
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case strings.HasPrefix(id, "TA") && ok(id[2:]):
		return "https://attack.mitre.org/tactics/" + id + "/"
	case strings.HasPrefix(id, "T"):
		base, sub, hasSub := strings.Cut(id[1:], ".")
		if !ok(base) || (hasSub && !ok(sub)) {
			return ""
		}
		if hasSub {
			return "https://attack.mitre.org/techniques/T" + base + "/" + sub + "/"
		}
		return "https://attack.mitre.org/techniques/T" + base + "/"
	}
	return ""
}

// pids are the known pids of the lineage: first execution, compiler, parent.
func (v *Alert) pids() []int64 {
	var out []int64
	for _, p := range []int64{v.ExecPID, v.Compiler.PID, v.Parent.PID} {
		if p > 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
