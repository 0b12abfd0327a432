// Package ecs maps alerts onto Elastic Common Schema documents: ECS fields
// where ECS has them (event, rule, threat, host, process, process.parent,
// user, file, destination, related, labels) and everything else of the
// project under compile_lineage.*, so no scalar sits where ECS has an
// object.
package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

// Version is the ECS version the mapping is checked against
// (elastic/ecs generated/ecs/ecs_flat.yml).
const Version = "9.5.0-dev"

// Names of the ATT&CK techniques and tactics alerts carry.
var techniqueNames = map[string]string{
	"T1027":     "Obfuscated Files or Information",
	"T1027.004": "Compile After Delivery",
	"T1127":     "Trusted Developer Utilities Proxy Execution",
	"T1127.001": "MSBuild",
	"T1218":     "System Binary Proxy Execution",
	"T1218.003": "CMSTP",
	"T1218.005": "Mshta",
	"T1218.010": "Regsvr32",
	"T1218.011": "Rundll32",
	"T1047":     "Windows Management Instrumentation",
	"T1059":     "Command and Scripting Interpreter",
	"T1059.001": "PowerShell",
	"T1059.005": "Visual Basic",
}

var tacticNames = map[string]string{
	"TA0005": "Defense Evasion",
	"TA0002": "Execution",
	"TA0011": "Command and Control",
}

// severityNumber is Elastic's pairing of severity names and numbers
// (low 21, medium 47, high 73, critical 99).
var severityNumber = map[string]int{"informational": 21, "low": 21, "medium": 47, "high": 73, "critical": 99}

// Marshal encodes an alert as one ECS JSON document (no newline).
func Marshal(a *alert.Alert) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Document(a)); err != nil {
		return nil, fmt.Errorf("encode ECS alert %s: %w", a.AlertID, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

type obj = map[string]any

// set puts v at a dotted path unless v is empty.
func set(m obj, path string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case int64:
		if x == 0 {
			return
		}
	case []string:
		if len(x) == 0 {
			return
		}
	case nil:
		return
	}
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(obj)
		if !ok {
			next = obj{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// Document builds the ECS document of an alert.
func Document(a *alert.Alert) map[string]any {
	d := obj{}
	set(d, "@timestamp", a.Time)
	set(d, "ecs.version", Version)
	set(d, "event.kind", "alert")
	set(d, "event.module", "compile_lineage")
	set(d, "event.id", a.AlertID)
	set(d, "event.created", a.ObservedTime)
	set(d, "event.risk_score", a.Score)
	set(d, "event.risk_score_norm", a.Score)
	set(d, "event.severity", int64(severityNumber[a.Severity]))
	set(d, "threat.framework", "MITRE ATT&CK")
	set(d, "host.name", a.Host)
	set(d, "host.hostname", a.Hostname)
	set(d, "host.id", a.HostUUID)
	set(d, "host.type", a.Role)
	set(d, "labels.severity", a.Severity)
	set(d, "labels.role", a.Role)
	set(d, "related.hosts", nonEmpty(a.Host, a.Hostname))

	techniques, tactics := a.Techniques, a.Tactics
	if a.HostRisk != nil {
		hostRisk(d, a)
		for _, l := range a.HostRisk.Lineages {
			techniques = union(techniques, l.Techniques)
			tactics = union(tactics, l.Tactics)
		}
	} else {
		lineageFields(d, a)
	}
	threat(d, techniques, tactics)

	cl := obj{
		"kind": a.Kind, "score": a.Score, "severity": a.Severity, "log_odds": a.LogOdds,
		"evidence_bits": a.Evidence, "probability": a.Probability, "prior": a.Prior, "impact": a.Impact,
		"role": a.Role, "roles": a.Roles, "role_label": a.RoleLabel, "reasons": a.Reasons,
	}
	setAll(cl, map[string]any{
		"host_identifier": a.HostIdentifier, "query": a.Query, "input": a.Input,
		"lineage_id": a.LineageID, "stage": a.Stage, "reason_codes": a.ReasonCodes,
	})
	if a.Exception != nil {
		cl["exception"] = a.Exception
	}
	if a.Suppressed {
		cl["suppressed"] = true
	}
	if a.BelowThreshold {
		cl["below_threshold"] = true
	}
	if a.Realert {
		cl["realert"] = true
	}
	if a.HostRisk != nil {
		cl["host_risk"] = a.HostRisk
	} else {
		r := &a.Record
		setAll(cl, map[string]any{
			"platform": r.Platform, "source": r.Source, "ancestry": r.Ancestry, "parent_class": r.ParentClass,
			"output_source": r.OutputSource, "connection_origin": r.ConnectionOrigin, "link_evidence": r.LinkEvidence,
			"followup_processes": r.FollowupProcesses, "telemetry_gaps": r.TelemetryGaps, "fallback": r.Fallback,
			"executions": r.Executions, "connections": r.Connections, "first_exec_pid": r.FirstExecPID,
			"first_exec_time": r.FirstExecTime, "artifact_written_time": r.ArtifactWrittenTime,
		})
		cl["artifact_written"] = r.ArtifactWritten
		cl["suspicious"] = r.Suspicious
	}
	d["compile_lineage"] = cl
	return d
}

func setAll(m obj, kv map[string]any) {
	for k, v := range kv {
		set(m, k, v)
	}
}

func lineageFields(d obj, a *alert.Alert) {
	r := &a.Record
	set(d, "event.category", []string{"process", "intrusion_detection"})
	set(d, "event.type", []string{"info"})
	set(d, "event.dataset", "compile_lineage.alert")
	set(d, "event.action", "compile-"+r.Stage)
	set(d, "event.reason", reasonText(a))
	set(d, "message", fmt.Sprintf("%s %s > %s on %s (%s): score %.2f %s", r.Stage, orDash(r.ParentName), r.CompilerName, a.Host, a.Role, a.Score, a.Severity))
	set(d, "rule.name", "Compile After Delivery")
	set(d, "rule.id", "compile_lineage")
	set(d, "rule.ruleset", "compile-lineage")
	set(d, "rule.category", "Defense Evasion")

	set(d, "process.executable", r.CompilerPath)
	set(d, "process.name", r.CompilerName)
	set(d, "process.command_line", r.CompilerCmdline)
	set(d, "process.pid", r.CompilerPID)
	set(d, "process.entity_id", r.CompilerGUID)
	set(d, "process.pe.original_file_name", r.CompilerOriginalName)
	set(d, "process.start", a.Time)
	set(d, "process.parent.executable", r.ParentPath)
	set(d, "process.parent.name", r.ParentName)
	set(d, "process.parent.command_line", r.ParentCmdline)
	set(d, "process.parent.pid", r.ParentPID)
	if r.CompilerUser != "" {
		domain, name := splitUser(r.CompilerUser)
		set(d, "user.name", name)
		set(d, "user.domain", domain)
		set(d, "process.user.name", name)
		set(d, "related.user", []string{name})
	}
	set(d, "file.path", r.OutputPath)
	if r.OutputPath != "" {
		set(d, "file.name", baseName(r.OutputPath))
	}
	set(d, "file.hash.sha256", r.ArtifactSHA256)
	set(d, "related.hash", nonEmpty(r.ArtifactSHA256))
	if ip := net.ParseIP(r.FirstRemoteAddress); ip != nil {
		set(d, "destination.ip", ip.String())
		set(d, "destination.address", r.FirstRemoteAddress)
		set(d, "related.ip", []string{ip.String()})
		set(d, "destination.port", r.FirstRemotePort)
	}
	set(d, "tags", []string{"compile-lineage", "stage:" + r.Stage})
}

func hostRisk(d obj, a *alert.Alert) {
	h := a.HostRisk
	set(d, "event.category", []string{"host", "intrusion_detection"})
	set(d, "event.type", []string{"info"})
	set(d, "event.dataset", "compile_lineage.host_risk")
	set(d, "event.action", "host-risk-threshold")
	set(d, "event.reason", fmt.Sprintf("%d compile lineages on %s add up to %.2f in %s (threshold %.0f)", len(h.Lineages), a.Host, h.Sum, h.Window, h.Threshold))
	set(d, "message", fmt.Sprintf("host risk %s on %s: %.2f from %d lineages in %s", h.Band, a.Host, h.Sum, len(h.Lineages), h.Window))
	set(d, "rule.name", "Compile Lineage Host Risk Threshold")
	set(d, "rule.id", "compile_lineage_host_risk")
	set(d, "rule.ruleset", "compile-lineage")
	set(d, "host.risk.calculated_score", h.Sum)
	set(d, "host.risk.calculated_level", h.Band)
	set(d, "tags", []string{"compile-lineage", "host-risk"})
}

func threat(d obj, techniques, tactics []string) {
	var tIDs, tNames, sIDs, sNames []string
	for _, t := range techniques {
		base, _, sub := strings.Cut(t, ".")
		if !slices.Contains(tIDs, base) {
			tIDs = append(tIDs, base)
			tNames = append(tNames, name(techniqueNames, base))
		}
		if sub && !slices.Contains(sIDs, t) {
			sIDs = append(sIDs, t)
			sNames = append(sNames, name(techniqueNames, t))
		}
	}
	set(d, "threat.technique.id", tIDs)
	set(d, "threat.technique.name", tNames)
	set(d, "threat.technique.subtechnique.id", sIDs)
	set(d, "threat.technique.subtechnique.name", sNames)
	var names []string
	for _, t := range tactics {
		names = append(names, name(tacticNames, t))
	}
	set(d, "threat.tactic.id", tactics)
	set(d, "threat.tactic.name", names)
}

func name(m map[string]string, id string) string {
	if n, ok := m[id]; ok {
		return n
	}
	return id
}

func reasonText(a *alert.Alert) string {
	var parts []string
	for _, r := range a.Reasons {
		if r.Bits > 0 && !strings.HasPrefix(r.Code, "role_") {
			parts = append(parts, r.Detail)
		}
	}
	return strings.Join(parts, "; ")
}

func splitUser(u string) (domain, name string) {
	if d, n, ok := strings.Cut(u, `\`); ok {
		return d, n
	}
	if n, d, ok := strings.Cut(u, "@"); ok {
		return d, n
	}
	return "", u
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func nonEmpty(vals ...string) []string {
	var out []string
	for _, v := range vals {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
