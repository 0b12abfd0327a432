// Package exceptions loads audited, expiring exceptions and matches them
// against scored lineages. Every exception has a scope, an owner, a reason
// and a mandatory expiry; expired exceptions stop applying and are reported.
//
//	exceptions:
//	  - id: ansible-addtype
//	    owner: secops@example.com
//	    reason: Ansible PowerShell modules compile Add-Type code
//	    ticket: SEC-1234            # optional
//	    expires: 2027-01-31         # date (end of that day, UTC) or RFC 3339
//	    scope:                      # every field given must match; a list matches any item
//	      hosts: ["mgmt-*"]         # globs over host uuid, hostIdentifier, hostname
//	      roles: [admin_workstation]
//	      parents: [powershell.exe] # globs over parent_name
//	      compilers: [csc.exe]      # globs over compiler_name
//	      paths: ['C:\Windows\Temp\*']  # globs over output_path
//	      compiler_paths: ['C:\Windows\Microsoft.NET\*']
package exceptions

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/compilelineage/compile-lineage/correlator/internal/glob"
)

// Scope selects the lineages an exception covers.
type Scope struct {
	Hosts         []string `yaml:"hosts" json:"hosts,omitempty"`
	Roles         []string `yaml:"roles" json:"roles,omitempty"`
	Parents       []string `yaml:"parents" json:"parents,omitempty"`
	Compilers     []string `yaml:"compilers" json:"compilers,omitempty"`
	Paths         []string `yaml:"paths" json:"paths,omitempty"`
	CompilerPaths []string `yaml:"compiler_paths" json:"compiler_paths,omitempty"`
}

func (s Scope) empty() bool {
	return len(s.Hosts)+len(s.Roles)+len(s.Parents)+len(s.Compilers)+len(s.Paths)+len(s.CompilerPaths) == 0
}

// Exception is one entry of an exceptions file.
type Exception struct {
	ID      string    `yaml:"id" json:"id"`
	Owner   string    `yaml:"owner" json:"owner"`
	Reason  string    `yaml:"reason" json:"reason"`
	Ticket  string    `yaml:"ticket" json:"ticket,omitempty"`
	Expires string    `yaml:"expires" json:"expires"`
	Scope   Scope     `yaml:"scope" json:"scope"`
	Source  string    `yaml:"-" json:"source"` // file:line
	expiry  time.Time `yaml:"-"`
}

// ExpiresAt is the moment the exception stops applying.
func (e *Exception) ExpiresAt() time.Time { return e.expiry }

// Expired reports whether the exception has expired at now.
func (e *Exception) Expired(now time.Time) bool { return !now.Before(e.expiry) }

// Subject is what an exception is matched against.
type Subject struct {
	HostIDs      []string // uuid, hostIdentifier, hostname
	Roles        []string // every role of the host
	ParentName   string
	CompilerName string
	OutputPath   string
	CompilerPath string
}

// Set is a loaded exceptions file.
type Set struct {
	List []*Exception
}

type file struct {
	Exceptions []Exception `yaml:"exceptions"`
}

// Load reads an exceptions file.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open exceptions file: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads an exceptions file from r. Errors name the file and line.
func Parse(name string, r io.Reader) (*Set, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var doc file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	lines := itemLines(data)
	set := &Set{}
	seen := map[string]string{}
	for i := range doc.Exceptions {
		e := doc.Exceptions[i]
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		e.Source = fmt.Sprintf("%s:%d", filepath.Base(name), line)
		fail := func(msg string) error { return fmt.Errorf("%s:%d: exception %q: %s", name, line, e.ID, msg) }
		switch {
		case e.ID == "":
			return nil, fail("id is required")
		case e.Owner == "":
			return nil, fail("owner is required")
		case e.Reason == "":
			return nil, fail("reason is required")
		case e.Expires == "":
			return nil, fail("expires is required (exceptions must expire)")
		case e.Scope.empty():
			return nil, fail("scope must name at least one of hosts, roles, parents, compilers, paths, compiler_paths")
		}
		if prev, ok := seen[e.ID]; ok {
			return nil, fail("duplicate id (first at " + prev + ")")
		}
		seen[e.ID] = e.Source
		t, err := parseExpiry(e.Expires)
		if err != nil {
			return nil, fail(err.Error())
		}
		e.expiry = t
		set.List = append(set.List, &e)
	}
	return set, nil
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24 * time.Hour), nil // the whole day is included
	}
	return time.Time{}, fmt.Errorf("expires %q: want YYYY-MM-DD or RFC 3339", s)
}

func itemLines(data []byte) []int {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "exceptions" {
			var out []int
			for _, it := range root.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}

// Result of matching a subject.
type Result struct {
	Applied *Exception // the first live exception that matched
	Expired *Exception // the first expired exception that matched (not applied)
}

// Match returns the exceptions that cover s at now.
func (s *Set) Match(sub Subject, now time.Time) Result {
	var res Result
	if s == nil {
		return res
	}
	for _, e := range s.List {
		if !e.matches(sub) {
			continue
		}
		if e.Expired(now) {
			if res.Expired == nil {
				res.Expired = e
			}
			continue
		}
		if res.Applied == nil {
			res.Applied = e
		}
	}
	return res
}

// ExpiredAt lists the exceptions expired at now.
func (s *Set) ExpiredAt(now time.Time) []*Exception {
	if s == nil {
		return nil
	}
	var out []*Exception
	for _, e := range s.List {
		if e.Expired(now) {
			out = append(out, e)
		}
	}
	return out
}

func (e *Exception) matches(s Subject) bool {
	sc := e.Scope
	if len(sc.Hosts) > 0 && !anyOf(sc.Hosts, s.HostIDs...) {
		return false
	}
	if len(sc.Roles) > 0 && !anyOf(sc.Roles, s.Roles...) {
		return false
	}
	if len(sc.Parents) > 0 && !anyOf(sc.Parents, s.ParentName) {
		return false
	}
	if len(sc.Compilers) > 0 && !anyOf(sc.Compilers, s.CompilerName) {
		return false
	}
	if len(sc.Paths) > 0 && !anyOf(sc.Paths, s.OutputPath) {
		return false
	}
	if len(sc.CompilerPaths) > 0 && !anyOf(sc.CompilerPaths, s.CompilerPath) {
		return false
	}
	return true
}

func anyOf(patterns []string, values ...string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if v != "" && glob.Match(p, v) {
				return true
			}
		}
	}
	return false
}
