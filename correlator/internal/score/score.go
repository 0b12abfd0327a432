// Package score turns one compile lineage and the role of its host into a
// 0-100 score with an explanation. Evaluate is pure: the same inputs always
// give the same result.
//
// The score is built in three named steps so every point is explained:
//
//  1. Evidence (0..evidence_cap): points for the stage reached, the parent
//     class, each reason code, a fallback row, the full chain, and rarity.
//  2. Likelihood: the host role's likelihood factor (how unusual compiling
//     is there, times the routine factor for routine parent classes) is
//     applied as an odds update: p = S/(100-S); p' = p*f; S' = 100p'/(1+p').
//  3. Impact: the role's impact factor (how much the host matters) is
//     applied the same way, as Elastic applies asset criticality.
package score

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Reason is one contribution to a score.
type Reason struct {
	Code   string  `json:"code"`
	Points float64 `json:"points"`
	Detail string  `json:"detail"`
}

// Rarity tells whether the parent+compiler pair is new.
type Rarity struct {
	HostFirst  bool // first time on this host
	FleetFirst bool // first time on any host
}

// Role is the host role used for scoring and where it came from.
type Role struct {
	Name  string   // the role that scored (the one that matters most)
	All   []string // every role the host has
	Label string   // the source that gave Name, e.g. "roles.csv:4" or "fleet label 7 (Domain Controllers)"
}

// Result is a scored lineage.
type Result struct {
	Score      float64  `json:"score"`
	Severity   string   `json:"severity"`
	Alert      bool     `json:"alert"`
	Evidence   float64  `json:"evidence"`
	Likelihood float64  `json:"likelihood_factor"`
	Impact     float64  `json:"impact_factor"`
	Reasons    []Reason `json:"reasons"`
	Techniques []string `json:"techniques"`
	Tactics    []string `json:"tactics"`
}

// ATT&CK tactics spanned by the stages.
const (
	TacticDefenseEvasion = "TA0005"
	TacticExecution      = "TA0002"
	TacticC2             = "TA0011"
)

var stageText = map[string]string{
	lineage.StageCompile:  "a compiler ran",
	lineage.StageWritten:  "the compile wrote an artifact",
	lineage.StageExecuted: "the compiled artifact was executed",
	lineage.StageNetwork:  "the compile chain connected out",
}

// Evaluate scores a record for a host role.
func Evaluate(p *policy.Policy, rec *lineage.Record, role Role, rarity Rarity) Result {
	var res Result
	reasons := make([]Reason, 0, 8+len(rec.Reasons))
	add := func(code string, pts float64, detail string) {
		reasons = append(reasons, Reason{Code: code, Points: pts, Detail: detail})
	}

	stage := rec.Stage
	if _, ok := p.StagePoints[stage]; !ok {
		stage = lineage.StageCompile
	}
	add("stage_"+stage, p.StagePoints[stage], stageText[stage])

	class := parentClass(p, rec)
	add("parent_class_"+class, p.ParentClassPoints[class], "parent "+orUnknown(rec.ParentName)+" is "+class)

	codes := rec.Reasons
	if rec.Fallback != "" {
		for _, c := range p.FallbackReasons[rec.Fallback] {
			if !slices.Contains(codes, c) {
				codes = append(slices.Clip(codes), c)
			}
		}
	}
	for _, code := range codes {
		pts, ok := p.ReasonPoints[code]
		txt, _ := vocab.ReasonWords(code) // the table's own words for its reason codes
		if !ok {
			pts = p.UnknownReasonPoints
			txt = "reason code not in the policy"
		}
		add(code, pts, txt)
	}
	if rec.Fallback != "" {
		add("fallback_query", p.FallbackPoints, "extension-free fallback query "+rec.Fallback+" (lower evidence, compile stage)")
	}
	if fullChain(rec) {
		add("full_chain", p.FullChainPoints, "compile, execute and connect out: Defense Evasion, Execution and Command and Control")
	}
	pair := orUnknown(rec.ParentName) + " > " + rec.CompilerName
	if rarity.HostFirst {
		add("rare_on_host", p.Rarity.HostFirstPair, "first time "+pair+" is seen on this host")
	}
	if rarity.FleetFirst {
		add("rare_in_fleet", p.Rarity.FleetFirstPair, "first time "+pair+" is seen in the fleet")
	}

	var evidence float64
	for _, r := range reasons {
		evidence += r.Points
	}
	if evidence > p.EvidenceCap {
		add("evidence_cap", p.EvidenceCap-evidence, "evidence capped at "+strconv.FormatFloat(p.EvidenceCap, 'g', -1, 64))
		evidence = p.EvidenceCap
	}
	if evidence < 0 {
		add("evidence_floor", -evidence, "evidence floored at 0")
		evidence = 0
	}

	rp, roleName := p.Role(role.Name)
	label := role.Label
	if label == "" {
		label = "default role"
	}
	factor := rp.Likelihood
	detail := "role " + roleName + " (" + label + "): likelihood odds x" + f2(rp.Likelihood)
	if slices.Contains(rp.RoutineParentClasses, class) {
		factor *= rp.RoutineFactor
		detail += ", " + class + " parent is routine here x" + f2(rp.RoutineFactor)
	}
	afterLikelihood := odds(evidence, factor)
	add("role_likelihood", round1(afterLikelihood-evidence), detail)
	final := odds(afterLikelihood, rp.Impact)
	add("role_impact", round1(final-afterLikelihood), "role "+roleName+" ("+label+"): impact odds x"+f2(rp.Impact))

	res.Evidence = evidence
	res.Likelihood = factor
	res.Impact = rp.Impact
	res.Score = round1(final)
	res.Severity = p.Severity(res.Score)
	res.Alert = res.Score >= p.AlertThreshold
	res.Reasons = reasons
	res.Techniques = techniques(p, rec)
	res.Tactics = tactics(rec)
	return res
}

func parentClass(p *policy.Policy, rec *lineage.Record) string {
	c := rec.ParentClass
	if c == "" {
		c = p.ParentClass(rec.ParentName)
	}
	if _, ok := p.ParentClassPoints[c]; !ok {
		c = "unknown"
	}
	return c
}

func fullChain(rec *lineage.Record) bool {
	if rec.Stage != lineage.StageNetwork {
		return false
	}
	return rec.Executions > 0 || rec.ConnectionOrigin == "artifact"
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown parent)"
	}
	return s
}

// odds applies an odds multiplier to a 0..100 score.
func odds(s, m float64) float64 {
	if s <= 0 {
		return 0
	}
	if s >= 100 {
		return 100
	}
	o := s / (100 - s) * m
	return 100 * o / (1 + o)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func techniques(p *policy.Policy, rec *lineage.Record) []string {
	out := make([]string, 0, 3)
	if p.BaseTechnique != "" {
		out = append(out, p.BaseTechnique)
	}
	if t, ok := p.CompilerTechniques[rec.CompilerName]; ok {
		out = append(out, t)
	} else if o := strings.ToLower(rec.CompilerOriginalName); o != "" {
		if t, ok := p.CompilerTechniques[o]; ok {
			out = append(out, t)
		}
	}
	if t, ok := p.ParentTechniques[rec.ParentName]; ok && !slices.Contains(out, t) {
		out = append(out, t)
	}
	return out
}

func tactics(rec *lineage.Record) []string {
	out := []string{TacticDefenseEvasion}
	switch rec.Stage {
	case lineage.StageExecuted:
		out = append(out, TacticExecution)
	case lineage.StageNetwork:
		if rec.Executions > 0 || rec.ConnectionOrigin == "artifact" {
			out = append(out, TacticExecution)
		}
		out = append(out, TacticC2)
	}
	return out
}
