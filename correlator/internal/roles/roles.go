// Package roles resolves the asset role of a host from a CSV file
// (header host,role), a YAML file (hosts, glob patterns and Fleet label
// mappings) and optionally Fleet's REST API. A host may have several
// roles: all are kept and the one that matters most (chosen by the
// caller's policy) scores.
package roles

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/glob"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

// Match is one role a host has and the source that gave it.
type Match struct {
	Role  string
	Label string // e.g. "roles.csv:4", "glob dc-* (roles.yaml:9)", "fleet label 7 (Domain Controllers)"
}

// Assignment is the result of resolving a host.
type Assignment struct {
	Role    string   // the role that matters most
	Label   string   // the source of Role
	All     []string // every role found, in source order, once each
	Matches []Match  // every role found with its source
}

// Roles lists the role names of an assignment.
func (a Assignment) Roles() []string { return a.All }

// Chooser picks the role that matters most among several.
type Chooser func(roles []string) string

type globRule struct {
	pattern string
	role    string
	label   string
}

// LabelRule maps a Fleet label (by id or name) to a role.
type LabelRule struct {
	LabelID   int
	LabelName string
	Role      string
	Label     string // where the rule was written
}

// Resolver resolves host roles. It is safe for concurrent use.
type Resolver struct {
	known       map[string]bool
	defaultRole string
	choose      Chooser

	exact map[string][]Match // lower-case uuid/identifier/hostname
	globs []globRule
	rules []LabelRule
	fleet *Fleet

	mu    sync.Mutex
	cache map[resultlog.Host]cached
}

type cached struct {
	a   Assignment
	gen uint64
}

// New returns an empty resolver. known lists the valid role names;
// defaultRole is used for hosts no source knows.
func New(known []string, defaultRole string, choose Chooser) *Resolver {
	k := make(map[string]bool, len(known))
	for _, r := range known {
		k[r] = true
	}
	return &Resolver{known: k, defaultRole: defaultRole, choose: choose, exact: map[string][]Match{}, cache: map[resultlog.Host]cached{}}
}

// DefaultRole is the role given to unknown hosts.
func (r *Resolver) DefaultRole() string { return r.defaultRole }

// LabelRules returns the Fleet label rules loaded from YAML files.
func (r *Resolver) LabelRules() []LabelRule { return slices.Clone(r.rules) }

// SetLogger sets the logger of the Fleet source, if any.
func (r *Resolver) SetLogger(l hclog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fleet != nil {
		r.fleet.SetLogger(l)
	}
}

// SetFleet attaches a Fleet label source. Labels named after a known role give that role to hosts that
// no roles file and no mapped label places (see RoleFromLabelName).
func (r *Resolver) SetFleet(f *Fleet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	known := make([]string, 0, len(r.known))
	for k := range r.known {
		known = append(known, k)
	}
	slices.Sort(known)
	f.setKnown(known)
	r.fleet = f
	clear(r.cache)
}

// HasFleet reports whether a Fleet source is attached.
func (r *Resolver) HasFleet() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fleet != nil
}

// LoadFile loads a .csv or .yaml/.yml roles file by its extension.
func (r *Resolver) LoadFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open roles file: %w", err)
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(p)) {
	case ".csv":
		return r.LoadCSV(p, f)
	case ".yaml", ".yml":
		return r.LoadYAML(p, f)
	default:
		return fmt.Errorf("roles file %s: want .csv, .yaml or .yml", p)
	}
}

// LoadCSV reads "host,role" lines (header required; '#' starts a comment;
// a host may appear on several lines to give it several roles). Errors
// name the file and line.
func (r *Resolver) LoadCSV(name string, rd io.Reader) error {
	cr := csv.NewReader(io.LimitReader(rd, 64<<20))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty roles file (want header host,role)", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hi, ri := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "host":
			hi = i
		case "role":
			ri = i
		}
	}
	if hi < 0 || ri < 0 {
		line, _ := cr.FieldPos(0)
		return fmt.Errorf("%s:%d: header must have columns host and role", name, line)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) <= max(hi, ri) {
			return fmt.Errorf("%s:%d: want columns host and role", name, line)
		}
		host := strings.TrimSpace(rec[hi])
		role := strings.TrimSpace(rec[ri])
		if host == "" {
			return fmt.Errorf("%s:%d: empty host", name, line)
		}
		if err := r.addExact(host, role, fmt.Sprintf("%s:%d", filepath.Base(name), line)); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

func (r *Resolver) checkRole(role string) error {
	if !r.known[role] {
		known := make([]string, 0, len(r.known))
		for k := range r.known {
			known = append(known, k)
		}
		slices.Sort(known)
		return fmt.Errorf("unknown role %q (known: %s)", role, strings.Join(known, ", "))
	}
	return nil
}

func (r *Resolver) addExact(host, role, label string) error {
	if err := r.checkRole(role); err != nil {
		return err
	}
	k := strings.ToLower(host)
	r.exact[k] = append(r.exact[k], Match{Role: role, Label: label})
	return nil
}

func (r *Resolver) addGlob(pattern, role, label string) error {
	if err := r.checkRole(role); err != nil {
		return err
	}
	p := strings.ToLower(pattern)
	r.globs = append(r.globs, globRule{pattern: p, role: role, label: label})
	return nil
}

// Resolve returns the roles of a host. Results are cached per host until
// the Fleet source refreshes.
func (r *Resolver) Resolve(h resultlog.Host) Assignment {
	r.mu.Lock()
	var gen uint64
	if r.fleet != nil {
		gen = r.fleet.Generation()
	}
	if c, ok := r.cache[h]; ok && c.gen == gen {
		r.mu.Unlock()
		return c.a
	}
	fleet := r.fleet
	r.mu.Unlock()

	var ms []Match
	ids := identities(h)
	for _, id := range ids {
		ms = append(ms, r.exact[id]...)
	}
	for _, g := range r.globs {
		for _, id := range ids {
			if glob.Match(g.pattern, id) {
				ms = append(ms, Match{Role: g.role, Label: "glob " + g.pattern + " (" + g.label + ")"})
				break
			}
		}
	}
	if fleet != nil {
		ms = append(ms, fleet.Matches(h)...)
		if len(ms) == 0 {
			ms = fleet.Inferred(h)
		}
	}
	a := r.assign(ms)

	r.mu.Lock()
	if len(r.cache) >= 1<<20 {
		clear(r.cache)
	}
	r.cache[h] = cached{a: a, gen: gen}
	r.mu.Unlock()
	return a
}

func (r *Resolver) assign(ms []Match) Assignment {
	if len(ms) == 0 {
		return Assignment{Role: r.defaultRole, Label: "default role: host in no roles source"}
	}
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, m.Role)
	}
	role := names[0]
	if r.choose != nil {
		role = r.choose(names)
	}
	a := Assignment{Role: role, Matches: ms}
	for _, m := range ms {
		if !slices.Contains(a.All, m.Role) {
			a.All = append(a.All, m.Role)
		}
	}
	for _, m := range ms {
		if m.Role == role {
			a.Label = m.Label
			break
		}
	}
	return a
}

func identities(h resultlog.Host) []string {
	out := make([]string, 0, 3)
	for _, s := range []string{h.UUID, h.Identifier, h.Hostname} {
		if s == "" {
			continue
		}
		s = strings.ToLower(s)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// RefreshFleet refreshes the Fleet source once (batch commands).
func (r *Resolver) RefreshFleet(ctx context.Context) error {
	r.mu.Lock()
	f := r.fleet
	r.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Refresh(ctx)
}

// StartFleet refreshes the Fleet source once and then every interval until
// ctx ends. Refresh errors keep the last good membership.
func (r *Resolver) StartFleet(ctx context.Context) error {
	r.mu.Lock()
	f := r.fleet
	r.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Refresh(ctx); err != nil {
		return err
	}
	go f.Run(ctx)
	return nil
}
