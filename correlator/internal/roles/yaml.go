package roles

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileConfig is the YAML roles file.
//
//	hosts:
//	  - {host: WS-0042, role: user_endpoint}
//	  - {host: 4c4c4544-0042-..., roles: [developer_workstation, admin_workstation]}
//	globs:
//	  - {pattern: "dc-*", role: domain_controller}
//	fleet_labels:
//	  - {label: "Domain Controllers", role: domain_controller}
//	  - {label_id: 12, role: build_server}
//	fleet:
//	  url: https://fleet.example.com
//	  token_env: CORRELATOR_FLEET_TOKEN
//	  refresh: 30m
type FileConfig struct {
	Hosts       []hostEntry  `yaml:"hosts"`
	Globs       []globEntry  `yaml:"globs"`
	FleetLabels []labelEntry `yaml:"fleet_labels"`
	Fleet       *FleetConfig `yaml:"fleet"`
}

type hostEntry struct {
	Host  string   `yaml:"host"`
	Role  string   `yaml:"role"`
	Roles []string `yaml:"roles"`
	line  int
}

type globEntry struct {
	Pattern string `yaml:"pattern"`
	Role    string `yaml:"role"`
	line    int
}

type labelEntry struct {
	Label   string `yaml:"label"`
	LabelID int    `yaml:"label_id"`
	Role    string `yaml:"role"`
	line    int
}

// FleetConfig tells how to reach Fleet's REST API. The token is read from
// the environment variable TokenEnv, never from the file.
type FleetConfig struct {
	URL      string        `yaml:"url"`
	TokenEnv string        `yaml:"token_env"`
	Refresh  time.Duration `yaml:"refresh"`
	PerPage  int           `yaml:"per_page"`
	line     int
}

// LoadYAML reads a YAML roles file. Errors name the file and line.
func (r *Resolver) LoadYAML(name string, rd io.Reader) error {
	cfg, err := ParseYAML(name, rd)
	if err != nil {
		return err
	}
	base := filepath.Base(name)
	for _, h := range cfg.Hosts {
		roles := h.Roles
		if h.Role != "" {
			roles = append([]string{h.Role}, roles...)
		}
		if h.Host == "" || len(roles) == 0 {
			return fmt.Errorf("%s:%d: host entry needs host and role", name, h.line)
		}
		for _, role := range roles {
			if err := r.addExact(h.Host, role, fmt.Sprintf("%s:%d", base, h.line)); err != nil {
				return fmt.Errorf("%s:%d: %w", name, h.line, err)
			}
		}
	}
	for _, g := range cfg.Globs {
		if g.Pattern == "" {
			return fmt.Errorf("%s:%d: glob entry needs pattern and role", name, g.line)
		}
		if err := r.addGlob(g.Pattern, g.Role, fmt.Sprintf("%s:%d", base, g.line)); err != nil {
			return fmt.Errorf("%s:%d: %w", name, g.line, err)
		}
	}
	for _, l := range cfg.FleetLabels {
		if (l.Label == "") == (l.LabelID == 0) {
			return fmt.Errorf("%s:%d: fleet label entry needs exactly one of label or label_id", name, l.line)
		}
		if err := r.checkRole(l.Role); err != nil {
			return fmt.Errorf("%s:%d: %w", name, l.line, err)
		}
		r.rules = append(r.rules, LabelRule{LabelID: l.LabelID, LabelName: l.Label, Role: l.Role, Label: fmt.Sprintf("%s:%d", base, l.line)})
	}
	if cfg.Fleet != nil {
		if cfg.Fleet.URL == "" {
			return fmt.Errorf("%s:%d: fleet needs url", name, cfg.Fleet.line)
		}
		f, err := NewFleet(*cfg.Fleet, r.rules)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, cfg.Fleet.line, err)
		}
		r.SetFleet(f)
	}
	return nil
}

// ParseYAML decodes a roles file strictly (unknown keys are errors).
func ParseYAML(name string, rd io.Reader) (*FileConfig, error) {
	data, err := io.ReadAll(io.LimitReader(rd, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var cfg FileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return &cfg, nil
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Second pass over the node tree for line numbers.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return &cfg, nil
	}
	root := doc.Content[0]
	seqLines := func(key string) []int {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				var ls []int
				for _, it := range root.Content[i+1].Content {
					ls = append(ls, it.Line)
				}
				if len(ls) == 0 {
					ls = append(ls, root.Content[i].Line)
				}
				return ls
			}
		}
		return nil
	}
	for i, l := range seqLines("hosts") {
		if i < len(cfg.Hosts) {
			cfg.Hosts[i].line = l
		}
	}
	for i, l := range seqLines("globs") {
		if i < len(cfg.Globs) {
			cfg.Globs[i].line = l
		}
	}
	for i, l := range seqLines("fleet_labels") {
		if i < len(cfg.FleetLabels) {
			cfg.FleetLabels[i].line = l
		}
	}
	if ls := seqLines("fleet"); len(ls) > 0 && cfg.Fleet != nil {
		cfg.Fleet.line = ls[0] - 1
		if cfg.Fleet.line < 1 {
			cfg.Fleet.line = 1
		}
	}
	return &cfg, nil
}
