package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/exceptions"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/roles"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// common holds the flags shared by every command.
type common struct {
	roles      listFlag
	fleetURL   string
	policy     string
	exceptions string
	deadLetter string
	state      string
	now        string
	logLevel   string
	maxLine    int
}

func (c *common) register(fs *flag.FlagSet) {
	fs.Var(&c.roles, "roles", "roles file: .csv (host,role) or .yaml (hosts, globs, Fleet labels); repeatable")
	fs.StringVar(&c.fleetURL, "fleet-url", "", "Fleet server whose labels give roles: a label named after a role (build_server, user_endpoint_windows, ...) needs no mapping; API token from $"+roles.DefaultTokenEnv)
	fs.StringVar(&c.policy, "policy", "", "scoring policy YAML read over the shipped defaults")
	fs.StringVar(&c.exceptions, "exceptions", "", "exceptions YAML")
	fs.StringVar(&c.deadLetter, "dead-letter", "", "append unusable lines (JSON lines with file and line) to this file")
	fs.StringVar(&c.state, "state", "", "state store (bbolt file, created 0600)")
	fs.StringVar(&c.now, "now", "", "evaluation time for exception expiry (RFC 3339; default: now)")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	fs.IntVar(&c.maxLine, "max-line", resultlog.DefaultMaxLine, "longest accepted line in bytes")
}

// parseArgs parses flags that may be mixed with positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func (c *common) logger(w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "correlator", Level: hclog.LevelFromString(c.logLevel), Output: w, JSONFormat: true})
}

type setup struct {
	policy     *policy.Policy
	resolver   *roles.Resolver
	exceptions *exceptions.Set
	now        func() time.Time
}

func (c *common) load(logger hclog.Logger) (*setup, error) {
	var s setup
	var err error
	if c.policy != "" {
		s.policy, err = policy.Load(c.policy)
	} else {
		s.policy, err = policy.Default()
	}
	if err != nil {
		return nil, err
	}
	known := make([]string, 0, len(s.policy.Roles))
	for r := range s.policy.Roles {
		known = append(known, r)
	}
	s.resolver = roles.New(known, s.policy.DefaultRole, s.policy.MostImportant)
	for _, f := range c.roles {
		if err := s.resolver.LoadFile(f); err != nil {
			return nil, err
		}
	}
	if c.fleetURL != "" {
		if s.resolver.HasFleet() {
			return nil, fmt.Errorf("--fleet-url: a roles file already names a Fleet server (its fleet: section)")
		}
		f, err := roles.NewFleet(roles.FleetConfig{URL: c.fleetURL}, s.resolver.LabelRules())
		if err != nil {
			return nil, fmt.Errorf("--fleet-url: %w", err)
		}
		s.resolver.SetFleet(f)
	}
	s.resolver.SetLogger(logger.Named("roles"))
	if c.exceptions != "" {
		if s.exceptions, err = exceptions.Load(c.exceptions); err != nil {
			return nil, err
		}
	}
	if s.now, err = c.clock(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *setup) engine(state *engine.State) *engine.Engine {
	return &engine.Engine{Policy: s.policy, Roles: s.resolver, Exceptions: s.exceptions, State: state, Now: s.now}
}

func policyYAML() []byte { return policy.DefaultYAML() }
