// Package score turns one compile lineage and the role of its host into a
// 0-100 score with an explanation. Evaluate is pure: the same inputs always
// give the same result.
//
// The model keeps order everywhere:
//
//  1. The role gives the prior log-odds that a compile there is malicious
//     (log2 of prior/(1-prior)).
//  2. Each piece of evidence (stage, parent class, reason codes, fallback
//     row, full chain, rarity) is a likelihood ratio; its log2 ("bits") is
//     added. A routine parent class on the role adds the role's routine
//     ratio.
//  3. The role's impact is an odds multiplier, added as bits.
//  4. The final log-odds y maps to score = 50 + 50*y/(|y|+H), H the
//     policy's score_scale_bits: strictly increasing, never 0 or 100.
//
// Every step is one Reason with its bits and its score points; the points
// add up to the score.
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

// Reason is one contribution to a score: Bits of log-odds, and Points, the
// score it moved (in the listed order; the points add up to the score).
type Reason struct {
	Code   string  `json:"code"`
	Points float64 `json:"points"`
	Bits   float64 `json:"bits"`
	// LR is the likelihood ratio (or, for the role lines, the prior odds
	// and the impact multiplier) the line stands for: Bits = log2(LR).
	LR     float64 `json:"lr"`
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
	Score float64 `json:"score"`
	// LogOdds is the final log2 odds (evidence, prior and impact); it
	// orders lineages exactly.
	LogOdds  float64 `json:"log_odds"`
	Severity string  `json:"severity"`
	Alert    bool    `json:"alert"`
	// Evidence is the sum of the evidence bits (without prior and impact).
	Evidence float64 `json:"evidence"`
	// Probability is the posterior probability of malice (prior and
	// evidence, before impact).
	Probability float64  `json:"probability"`
	Prior       float64  `json:"prior"`
	Impact      float64  `json:"impact_factor"`
	Reasons     []Reason `json:"reasons"`
	Techniques  []string `json:"techniques"`
	Tactics     []string `json:"tactics"`
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

// Evaluate scores a record for a host role, with one Reason per
// contribution.
func Evaluate(p *policy.Policy, rec *lineage.Record, role Role, rarity Rarity) Result {
	return evaluate(p, rec, role, rarity, true, nil)
}

// EvaluateInto is Evaluate with the reasons appended to buf[:0], for a
// caller that is done with the previous result's reasons.
func EvaluateInto(p *policy.Policy, rec *lineage.Record, role Role, rarity Rarity, buf []Reason) Result {
	return evaluate(p, rec, role, rarity, true, buf[:0])
}

// Quick scores like Evaluate but leaves Reasons, Techniques and Tactics
// nil: the numbers and the severity (for rows that will not become an
// alert).
func Quick(p *policy.Policy, rec *lineage.Record, role Role, rarity Rarity) Result {
	return evaluate(p, rec, role, rarity, false, nil)
}

func evaluate(p *policy.Policy, rec *lineage.Record, role Role, rarity Rarity, explain bool, reasons []Reason) Result {
	var res Result
	rp, roleName := p.Role(role.Name)
	label := role.Label
	if label == "" {
		label = "default role"
	}
	h := p.ScoreScaleBits
	y := rp.PriorBits()
	prev := Scale(y, h)
	if explain {
		if reasons == nil {
			reasons = make([]Reason, 0, 10+len(rec.Reasons))
		}
		reasons = append(reasons, Reason{Code: "role_prior", Points: round2(prev), Bits: y, LR: rp.Prior / (1 - rp.Prior),
			Detail: "role " + roleName + " (" + label + "): prior " + strconv.FormatFloat(rp.Prior, 'g', -1, 64) + " that a compile here is malicious"})
	}
	var evidence float64
	// add counts one likelihood ratio. Codes and words are built only when
	// explaining (code and detail are "" otherwise), so Quick allocates
	// nothing here.
	add := func(code string, lr float64, detail string) {
		b := policy.Bits(lr)
		evidence += b
		y += b
		if !explain {
			return
		}
		s := Scale(y, h)
		reasons = append(reasons, Reason{Code: code, Points: round2(s - prev), Bits: b, LR: lr, Detail: detail})
		prev = s
	}
	// words returns parts joined when explaining, else "".
	words := func(parts ...string) string {
		if !explain {
			return ""
		}
		return strings.Join(parts, "")
	}

	stage := rec.Stage
	if _, ok := p.StageLR[stage]; !ok {
		stage = lineage.StageCompile
	}
	add(words("stage_", stage), p.StageLR[stage], stageText[stage])

	class := parentClass(p, rec)
	add(words("parent_class_", class), p.ParentClassLR[class], words("parent ", orUnknown(rec.ParentName), " is ", class))
	if slices.Contains(rp.RoutineParentClasses, class) {
		add("routine_parent", rp.RoutineLR, words(class, " parent is routine on role ", roleName, " (", label, ")"))
	}

	codes := rec.Reasons
	if rec.Fallback != "" {
		for _, c := range p.FallbackReasons[rec.Fallback] {
			if !slices.Contains(codes, c) {
				codes = append(slices.Clip(codes), c)
			}
		}
	}
	for _, code := range codes {
		lr, ok := p.ReasonLR[code]
		if !ok {
			add(code, p.UnknownReasonLR, "reason code not in the policy")
			continue
		}
		txt := ""
		if explain {
			txt, _ = vocab.ReasonWords(code) // the table's own words for its reason codes
		}
		add(code, lr, txt)
	}
	if rec.Fallback != "" {
		add("fallback_query", p.FallbackLR, words("extension-free fallback query ", rec.Fallback, " (compile stage)"))
	}
	if fullChain(rec) {
		add("full_chain", p.FullChainLR, "compile, execute and connect out: Defense Evasion, Execution and Command and Control")
	}
	if rarity.HostFirst {
		add("rare_on_host", p.Rarity.HostFirstPairLR, words("first time ", orUnknown(rec.ParentName), " > ", rec.CompilerName, " is seen on this host"))
	}
	if rarity.FleetFirst {
		add("rare_in_fleet", p.Rarity.FleetFirstPairLR, words("first time ", orUnknown(rec.ParentName), " > ", rec.CompilerName, " is seen in the fleet"))
	}
	res.Probability = 1 / (1 + math.Exp2(-y))
	ib := policy.Bits(rp.Impact)
	y += ib
	final := Scale(y, h)
	if explain {
		reasons = append(reasons, Reason{Code: "role_impact", Points: round2(final - prev), Bits: ib, LR: rp.Impact,
			Detail: "role " + roleName + " (" + label + "): impact odds x" + lrText(rp.Impact)})
	}

	res.LogOdds = y
	res.Evidence = evidence
	res.Prior = rp.Prior
	res.Impact = rp.Impact
	res.Score = round2(final)
	res.Severity = p.Severity(res.Score)
	res.Alert = res.Score >= p.AlertThreshold
	res.Reasons = reasons
	if explain {
		res.Techniques = Techniques(p, rec)
		res.Tactics = Tactics(rec)
	}
	return res
}

// Scale maps log-odds y (bits) onto 0..100: 50 + 50*y/(|y|+h). It rises
// strictly, and 50+-25 lie at +-h bits.
func Scale(y, h float64) float64 {
	return 50 + 50*y/(math.Abs(y)+h)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func lrText(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func parentClass(p *policy.Policy, rec *lineage.Record) string {
	c := rec.ParentClass
	if c == "" {
		c = p.ParentClass(rec.ParentName)
	}
	if _, ok := p.ParentClassLR[c]; !ok {
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

// Techniques returns the ATT&CK techniques of a lineage: the policy's base
// technique, the compiler's and the parent's.
func Techniques(p *policy.Policy, rec *lineage.Record) []string {
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

// Tactics returns the ATT&CK tactics a lineage's stage spans: Defense
// Evasion; Execution once the artifact ran; Command and Control at the
// network stage.
func Tactics(rec *lineage.Record) []string {
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
