// Package policy holds the scoring policy: likelihood ratios per stage,
// parent class and reason, a prior and an impact per role (kept apart),
// rarity, severity bands, host risk over time and ATT&CK mappings. Shipped defaults are embedded; a user
// file is read over them.
package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the shipped policy file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Band is a severity band with its inclusive lower bound.
type Band struct {
	Name string  `yaml:"name"`
	Min  float64 `yaml:"min"`
}

// Role holds the modifiers of one host role.
type Role struct {
	// Prior is the probability that a compile on such a host is malicious
	// before any evidence.
	Prior float64 `yaml:"prior"`
	// Impact is how much the host matters: an odds multiplier.
	Impact               float64  `yaml:"impact"`
	RoutineParentClasses []string `yaml:"routine_parent_classes"`
	// RoutineLR is the likelihood ratio of a routine parent class there.
	RoutineLR float64 `yaml:"routine_lr"`
}

// Rarity holds the likelihood ratios of first-seen parent+compiler pairs.
type Rarity struct {
	HostFirstPairLR  float64 `yaml:"host_first_pair_lr"`
	FleetFirstPairLR float64 `yaml:"fleet_first_pair_lr"`
}

// HostRisk configures host risk over time.
type HostRisk struct {
	Window          Duration `yaml:"window"`
	Threshold       float64  `yaml:"threshold"`
	MinLineageScore float64  `yaml:"min_lineage_score"`
	Bands           []Band   `yaml:"bands"`
}

// Duration is a time.Duration written as "24h" in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Duration = v
	return nil
}

// Policy is a complete scoring policy. Evidence is held as likelihood
// ratios; Bits gives their log2.
type Policy struct {
	Version         int                 `yaml:"version"`
	AlertThreshold  float64             `yaml:"alert_threshold"`
	ScoreScaleBits  float64             `yaml:"score_scale_bits"`
	SeverityBands   []Band              `yaml:"severity_bands"`
	StageLR         map[string]float64  `yaml:"stage_lr"`
	ParentClassLR   map[string]float64  `yaml:"parent_class_lr"`
	ReasonLR        map[string]float64  `yaml:"reason_lr"`
	UnknownReasonLR float64             `yaml:"unknown_reason_lr"`
	FallbackLR      float64             `yaml:"fallback_lr"`
	FallbackReasons map[string][]string `yaml:"fallback_reasons"`
	FullChainLR     float64             `yaml:"full_chain_lr"`
	Rarity          Rarity              `yaml:"rarity"`
	Roles           map[string]Role     `yaml:"roles"`
	DefaultRole     string              `yaml:"default_role"`
	HostRisk        HostRisk            `yaml:"host_risk"`
	ParentClasses   map[string]string   `yaml:"parent_classes"`
	BaseTechnique   string              `yaml:"base_technique"`
	// CompilerTechniques and ParentTechniques map lower-case image names
	// to ATT&CK technique ids.
	CompilerTechniques map[string]string `yaml:"compiler_techniques"`
	ParentTechniques   map[string]string `yaml:"parent_techniques"`
}

// Stages in increasing order of evidence.
var Stages = []string{"compile", "written", "executed", "network"}

// BuiltinRoles are the roles every policy must define.
var BuiltinRoles = []string{"developer_workstation", "build_server", "admin_workstation", "user_endpoint", "server", "domain_controller", "unknown"}

// Default returns the shipped policy.
func Default() (*Policy, error) {
	p, err := Parse("default.yaml", bytes.NewReader(defaultYAML), nil)
	if err != nil {
		return nil, fmt.Errorf("embedded policy: %w", err)
	}
	return p, nil
}

// Load reads a policy file over the shipped defaults.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open policy: %w", err)
	}
	defer f.Close()
	base, err := Default()
	if err != nil {
		return nil, err
	}
	return Parse(path, f, base)
}

// Parse reads a policy from r over base (nil: start empty) and validates it.
// Errors name the file and line.
func Parse(name string, r io.Reader, base *Policy) (*Policy, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	p := &Policy{}
	if base != nil {
		p = base.clone()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty policy file", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.validate(); err != nil {
		line := lineOf(doc.Content[0], err.path)
		return nil, fmt.Errorf("%s:%d: %s", name, line, err.msg)
	}
	return p, nil
}

type validationError struct {
	path []string
	msg  string
}

func (p *Policy) validate() *validationError {
	bad := func(msg string, path ...string) *validationError { return &validationError{path: path, msg: msg} }
	if p.Version != 2 {
		return bad(fmt.Sprintf("version %d is not supported (want 2: likelihood ratios; version 1 points and evidence_cap are gone, see correlator policy)", p.Version), "version")
	}
	if p.AlertThreshold < 0 || p.AlertThreshold > 100 {
		return bad("alert_threshold must be within 0..100", "alert_threshold")
	}
	if !(p.ScoreScaleBits > 0) || p.ScoreScaleBits > 64 {
		return bad("score_scale_bits must be within (0, 64]", "score_scale_bits")
	}
	if err := checkBands(p.SeverityBands, 0, "severity_bands"); err != nil {
		return err
	}
	prev := 0.0
	for _, st := range Stages {
		lr, ok := p.StageLR[st]
		if !ok {
			return bad("stage_lr needs "+st, "stage_lr")
		}
		if !(lr > prev) || math.IsInf(lr, 0) {
			return bad(fmt.Sprintf("stage_lr %s must be above 0 and above the stage before it", st), "stage_lr", st)
		}
		prev = lr
	}
	for _, m := range []struct {
		key string
		lrs map[string]float64
	}{{"parent_class_lr", p.ParentClassLR}, {"reason_lr", p.ReasonLR}} {
		for k, lr := range m.lrs {
			if !validLR(lr) {
				return bad(fmt.Sprintf("%s %s: a likelihood ratio must be above 0 and finite", m.key, k), m.key, k)
			}
			if m.key == "reason_lr" && lr == 1 {
				return bad(fmt.Sprintf("reason_lr %s: a ratio of 1 is no evidence; remove the code instead", k), m.key, k)
			}
		}
	}
	if _, ok := p.ParentClassLR["unknown"]; !ok {
		return bad("parent_class_lr needs unknown", "parent_class_lr")
	}
	for key, lr := range map[string]float64{"unknown_reason_lr": p.UnknownReasonLR, "fallback_lr": p.FallbackLR, "full_chain_lr": p.FullChainLR} {
		if !validLR(lr) {
			return bad(key+" must be above 0 and finite", key)
		}
	}
	if !(p.Rarity.HostFirstPairLR >= 1) || !(p.Rarity.FleetFirstPairLR >= 1) || !validLR(p.Rarity.HostFirstPairLR) || !validLR(p.Rarity.FleetFirstPairLR) {
		return bad("rarity likelihood ratios must be at least 1 and finite", "rarity")
	}
	for _, c := range vocab.Classes() {
		if _, ok := p.ParentClassLR[c]; !ok {
			return bad("parent_class_lr needs "+c, "parent_class_lr")
		}
	}
	for _, code := range vocab.ReasonCodes() {
		if _, ok := p.ReasonLR[code]; !ok {
			return bad("reason_lr needs "+code, "reason_lr")
		}
	}
	for name, c := range p.ParentClasses {
		if !slices.Contains(vocab.Classes(), c) {
			return bad(fmt.Sprintf("parent_classes: %s has class %q, not one of %s", name, c, strings.Join(vocab.Classes(), ", ")),
				"parent_classes", name)
		}
	}
	for _, r := range BuiltinRoles {
		if _, ok := p.Roles[r]; !ok {
			return bad("roles needs the built-in role "+r, "roles")
		}
	}
	for name, r := range p.Roles {
		if !(r.Prior > 0 && r.Prior < 1) {
			return bad(fmt.Sprintf("role %s: prior must be a probability above 0 and below 1", name), "roles", name)
		}
		if !validLR(r.Impact) {
			return bad(fmt.Sprintf("role %s: impact must be above 0", name), "roles", name)
		}
		if len(r.RoutineParentClasses) > 0 && !validLR(r.RoutineLR) {
			return bad(fmt.Sprintf("role %s: routine_lr must be above 0", name), "roles", name)
		}
	}
	if _, ok := p.Roles[p.DefaultRole]; !ok {
		return bad(fmt.Sprintf("default_role %q is not a role", p.DefaultRole), "default_role")
	}
	hr := p.HostRisk
	if hr.Window.Duration <= 0 {
		return bad("host_risk.window must be above 0", "host_risk", "window")
	}
	if !(hr.Threshold >= 100) || math.IsInf(hr.Threshold, 0) {
		return bad("host_risk.threshold must be at least 100, so that no single lineage (score below 100) reaches it", "host_risk", "threshold")
	}
	if hr.MinLineageScore < 0 || hr.MinLineageScore >= 100 {
		return bad("host_risk.min_lineage_score must be within 0..100", "host_risk", "min_lineage_score")
	}
	if err := checkBands(hr.Bands, hr.Threshold, "host_risk", "bands"); err != nil {
		return err
	}
	return nil
}

func validLR(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// checkBands checks that bands are named, rise strictly and start at first.
func checkBands(bands []Band, first float64, path ...string) *validationError {
	key := strings.Join(path, ".")
	if len(bands) == 0 {
		return &validationError{path: path, msg: key + " must not be empty"}
	}
	for i, b := range bands {
		if b.Name == "" {
			return &validationError{path: path, msg: "severity band needs a name"}
		}
		if i > 0 && !(b.Min > bands[i-1].Min) {
			return &validationError{path: path, msg: fmt.Sprintf("severity band %q must start above %q", b.Name, bands[i-1].Name)}
		}
	}
	if bands[0].Min != first {
		return &validationError{path: path, msg: fmt.Sprintf("the first band of %s must start at %g", key, first)}
	}
	return nil
}

// lineOf finds the line of a key path in a YAML mapping (best effort).
func lineOf(n *yaml.Node, path []string) int {
	line := n.Line
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

func (p *Policy) clone() *Policy {
	c := *p
	c.SeverityBands = slices.Clone(p.SeverityBands)
	c.StageLR = cloneMap(p.StageLR)
	c.ParentClassLR = cloneMap(p.ParentClassLR)
	c.ReasonLR = cloneMap(p.ReasonLR)
	c.Roles = make(map[string]Role, len(p.Roles))
	for k, v := range p.Roles {
		v.RoutineParentClasses = slices.Clone(v.RoutineParentClasses)
		c.Roles[k] = v
	}
	c.HostRisk.Bands = slices.Clone(p.HostRisk.Bands)
	c.ParentClasses = cloneMap(p.ParentClasses)
	c.FallbackReasons = make(map[string][]string, len(p.FallbackReasons))
	for k, v := range p.FallbackReasons {
		c.FallbackReasons[k] = slices.Clone(v)
	}
	c.CompilerTechniques = cloneMap(p.CompilerTechniques)
	c.ParentTechniques = cloneMap(p.ParentTechniques)
	return &c
}

func cloneMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Severity returns the band of a score.
func (p *Policy) Severity(score float64) string { return BandOf(p.SeverityBands, score) }

// BandOf returns the name of the highest band whose lower bound v reaches,
// or the first band's name.
func BandOf(bands []Band, v float64) string {
	name := bands[0].Name
	for _, b := range bands {
		if v >= b.Min {
			name = b.Name
		}
	}
	return name
}

// HostBand returns the host-risk band of a window sum, or "" below the
// threshold.
func (p *Policy) HostBand(sum float64) (string, int) {
	rank := -1
	for i, b := range p.HostRisk.Bands {
		if sum >= b.Min {
			rank = i
		}
	}
	if rank < 0 || sum < p.HostRisk.Threshold {
		return "", -1
	}
	return p.HostRisk.Bands[rank].Name, rank
}

// Bits is log2 of a likelihood ratio or odds multiplier.
func Bits(lr float64) float64 { return math.Log2(lr) }

// PriorBits is the log2 prior odds of a role.
func (r Role) PriorBits() float64 { return math.Log2(r.Prior / (1 - r.Prior)) }

// BandRank is the index of a severity band (higher is more severe), or -1.
func (p *Policy) BandRank(name string) int {
	for i, b := range p.SeverityBands {
		if b.Name == name {
			return i
		}
	}
	return -1
}

// Role returns the modifiers of a role, falling back to the default role.
func (p *Policy) Role(name string) (Role, string) {
	if r, ok := p.Roles[name]; ok {
		return r, name
	}
	return p.Roles[p.DefaultRole], p.DefaultRole
}

// Weight orders roles by how much an alert there matters: prior log-odds
// plus impact bits, then impact.
func (p *Policy) Weight(role string) (float64, float64) {
	r, _ := p.Role(role)
	return r.PriorBits() + Bits(r.Impact), r.Impact
}

// MostImportant returns the role of roles that matters most (see Weight).
// Ties keep the earlier role. Unknown roles are ignored unless nothing else
// is known.
func (p *Policy) MostImportant(roles []string) string {
	best := ""
	var bw, bi float64
	for _, r := range roles {
		if _, ok := p.Roles[r]; !ok || r == p.DefaultRole {
			continue
		}
		w, i := p.Weight(r)
		if best == "" || w > bw || (w == bw && i > bi) {
			best, bw, bi = r, w, i
		}
	}
	if best == "" {
		return p.DefaultRole
	}
	return best
}

// ParentClass returns the class of a parent image name: the policy's own
// parent_classes entry when it has one (a site's override), else the class
// compile_lineage gives it (tables/vocab), so a fallback row's parent gets
// the same class as the table would give.
func (p *Policy) ParentClass(parentName string) string {
	if c, ok := p.ParentClasses[strings.ToLower(parentName)]; ok {
		return c
	}
	return vocab.ClassOf(parentName)
}
