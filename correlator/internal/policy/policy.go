// Package policy holds the scoring policy: points per stage, parent class
// and reason, role modifiers (impact kept apart from likelihood), rarity,
// severity bands and ATT&CK mappings. Shipped defaults are embedded; a user
// file is read over them.
package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

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
	Impact               float64  `yaml:"impact"`
	Likelihood           float64  `yaml:"likelihood"`
	RoutineParentClasses []string `yaml:"routine_parent_classes"`
	RoutineFactor        float64  `yaml:"routine_factor"`
}

// Rarity holds the points for first-seen parent+compiler pairs.
type Rarity struct {
	HostFirstPair  float64 `yaml:"host_first_pair"`
	FleetFirstPair float64 `yaml:"fleet_first_pair"`
}

// Policy is a complete scoring policy.
type Policy struct {
	Version             int                 `yaml:"version"`
	AlertThreshold      float64             `yaml:"alert_threshold"`
	SeverityBands       []Band              `yaml:"severity_bands"`
	StagePoints         map[string]float64  `yaml:"stage_points"`
	ParentClassPoints   map[string]float64  `yaml:"parent_class_points"`
	ReasonPoints        map[string]float64  `yaml:"reason_points"`
	UnknownReasonPoints float64             `yaml:"unknown_reason_points"`
	FallbackPoints      float64             `yaml:"fallback_points"`
	FallbackReasons     map[string][]string `yaml:"fallback_reasons"`
	FullChainPoints     float64             `yaml:"full_chain_points"`
	Rarity              Rarity              `yaml:"rarity"`
	EvidenceCap         float64             `yaml:"evidence_cap"`
	Roles               map[string]Role     `yaml:"roles"`
	DefaultRole         string              `yaml:"default_role"`
	ParentClasses       map[string]string   `yaml:"parent_classes"`
	BaseTechnique       string              `yaml:"base_technique"`
	CompilerTechniques  map[string]string   `yaml:"compiler_techniques"`
	ParentTechniques    map[string]string   `yaml:"parent_techniques"`
}

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
	if p.Version != 1 {
		return bad(fmt.Sprintf("version %d is not supported (want 1)", p.Version), "version")
	}
	if p.AlertThreshold < 0 || p.AlertThreshold > 100 {
		return bad("alert_threshold must be within 0..100", "alert_threshold")
	}
	if len(p.SeverityBands) == 0 {
		return bad("severity_bands must not be empty", "severity_bands")
	}
	for i, b := range p.SeverityBands {
		if b.Name == "" {
			return bad("severity band needs a name", "severity_bands")
		}
		if i > 0 && b.Min <= p.SeverityBands[i-1].Min {
			return bad(fmt.Sprintf("severity band %q must start above %q", b.Name, p.SeverityBands[i-1].Name), "severity_bands")
		}
	}
	if p.SeverityBands[0].Min != 0 {
		return bad("the first severity band must start at 0", "severity_bands")
	}
	for _, st := range vocab.Stages() {
		if _, ok := p.StagePoints[st]; !ok {
			return bad("stage_points needs "+st, "stage_points")
		}
	}
	for _, c := range vocab.Classes() {
		if _, ok := p.ParentClassPoints[c]; !ok {
			return bad("parent_class_points needs "+c, "parent_class_points")
		}
	}
	for _, code := range vocab.ReasonCodes() {
		if _, ok := p.ReasonPoints[code]; !ok {
			return bad("reason_points needs "+code, "reason_points")
		}
	}
	for name, c := range p.ParentClasses {
		if !slices.Contains(vocab.Classes(), c) {
			return bad(fmt.Sprintf("parent_classes: %s has class %q, not one of %s", name, c, strings.Join(vocab.Classes(), ", ")),
				"parent_classes", name)
		}
	}
	if p.EvidenceCap <= 0 || p.EvidenceCap >= 100 {
		return bad("evidence_cap must be within 0..100 (exclusive)", "evidence_cap")
	}
	for _, r := range BuiltinRoles {
		if _, ok := p.Roles[r]; !ok {
			return bad("roles needs the built-in role "+r, "roles")
		}
	}
	for name, r := range p.Roles {
		if r.Impact <= 0 || r.Likelihood <= 0 {
			return bad(fmt.Sprintf("role %s: impact and likelihood must be above 0", name), "roles", name)
		}
		if len(r.RoutineParentClasses) > 0 && r.RoutineFactor <= 0 {
			return bad(fmt.Sprintf("role %s: routine_factor must be above 0", name), "roles", name)
		}
	}
	if _, ok := p.Roles[p.DefaultRole]; !ok {
		return bad(fmt.Sprintf("default_role %q is not a role", p.DefaultRole), "default_role")
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
	c.StagePoints = cloneMap(p.StagePoints)
	c.ParentClassPoints = cloneMap(p.ParentClassPoints)
	c.ReasonPoints = cloneMap(p.ReasonPoints)
	c.Roles = make(map[string]Role, len(p.Roles))
	for k, v := range p.Roles {
		v.RoutineParentClasses = slices.Clone(v.RoutineParentClasses)
		c.Roles[k] = v
	}
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
func (p *Policy) Severity(score float64) string {
	name := p.SeverityBands[0].Name
	for _, b := range p.SeverityBands {
		if score >= b.Min {
			name = b.Name
		}
	}
	return name
}

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

// Weight orders roles by how much an alert there matters: impact times
// likelihood, then impact.
func (p *Policy) Weight(role string) (float64, float64) {
	r, _ := p.Role(role)
	return r.Impact * r.Likelihood, r.Impact
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
