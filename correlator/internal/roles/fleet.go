package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

// DefaultTokenEnv is the environment variable read for the Fleet API token
// when the roles file does not name one.
const DefaultTokenEnv = "CORRELATOR_FLEET_TOKEN"

// FleetLabel is the part of a Fleet label the correlator uses
// (GET /api/v1/fleet/labels returns {"labels":[...]}).
type FleetLabel struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	LabelType string `json:"label_type"`
}

// FleetHost is the part of a Fleet host the correlator uses
// (GET /api/v1/fleet/labels/:id/hosts returns {"hosts":[...]}).
type FleetHost struct {
	ID           int    `json:"id"`
	Hostname     string `json:"hostname"`
	UUID         string `json:"uuid"`
	ComputerName string `json:"computer_name"`
	DisplayName  string `json:"display_name"`
}

// FleetClient calls Fleet's REST API with a bearer token.
type FleetClient struct {
	base    *url.URL
	token   string
	http    *http.Client
	perPage int
}

// NewFleetClient returns a client for the Fleet server at baseURL.
func NewFleetClient(baseURL, token string, perPage int, hc *http.Client) (*FleetClient, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("fleet url %q: want http(s)://host", baseURL)
	}
	if perPage <= 0 {
		perPage = 500
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &FleetClient{base: u, token: token, http: hc, perPage: perPage}, nil
}

// maxPages bounds paging against a misbehaving server.
const maxPages = 10000

func (c *FleetClient) get(ctx context.Context, p string, page int, out any) error {
	u := *c.base
	u.Path = u.Path + p
	q := url.Values{}
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(c.perPage))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("fleet request %s: %w", p, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("fleet GET %s: %w", p, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("fleet GET %s: read body: %w", p, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fleet GET %s: status %d", p, resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("fleet GET %s: decode: %w", p, err)
	}
	return nil
}

// Labels lists every label, following pages.
func (c *FleetClient) Labels(ctx context.Context) ([]FleetLabel, error) {
	var all []FleetLabel
	for page := 0; page < maxPages; page++ {
		var resp struct {
			Labels []FleetLabel `json:"labels"`
		}
		if err := c.get(ctx, "/api/v1/fleet/labels", page, &resp); err != nil {
			return nil, err
		}
		all = append(all, resp.Labels...)
		if len(resp.Labels) < c.perPage {
			break
		}
	}
	return all, nil
}

// LabelHosts lists the hosts of a label, following pages.
func (c *FleetClient) LabelHosts(ctx context.Context, id int) ([]FleetHost, error) {
	var all []FleetHost
	for page := 0; page < maxPages; page++ {
		var resp struct {
			Hosts []FleetHost `json:"hosts"`
		}
		if err := c.get(ctx, "/api/v1/fleet/labels/"+strconv.Itoa(id)+"/hosts", page, &resp); err != nil {
			return nil, err
		}
		all = append(all, resp.Hosts...)
		if len(resp.Hosts) < c.perPage {
			break
		}
	}
	return all, nil
}

// Fleet is a cached, refreshed map from hosts to roles through Fleet
// label membership.
type Fleet struct {
	client  *FleetClient
	rules   []LabelRule
	refresh time.Duration
	logger  hclog.Logger

	gen      atomic.Uint64
	mu       sync.RWMutex
	known    []string           // role names a label may carry as its name (set by Resolver.SetFleet)
	members  map[string][]Match // lower-case uuid and hostname
	inferred map[string][]Match // the same, for labels named after a role
	fetched  time.Time
}

// labelPlatforms are the platform words a role label's name may end in (packs.LabelName: the labels the
// packs ship are named build_server_windows, user_endpoint_macos, ...).
var labelPlatforms = []string{"windows", "linux", "macos", "darwin"}

// RoleFromLabelName returns the role a Fleet label is named after: the name is a known role, or a known
// role followed by _windows, _linux, _macos or _darwin (case-insensitive).
func RoleFromLabelName(name string, known []string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, p := range labelPlatforms {
		if r, ok := strings.CutSuffix(n, "_"+p); ok && slices.Contains(known, r) {
			return r, true
		}
	}
	if slices.Contains(known, n) {
		return n, true
	}
	return "", false
}

// NewFleet builds a Fleet source from a config; the token comes from the
// environment variable the config names (default CORRELATOR_FLEET_TOKEN).
func NewFleet(cfg FleetConfig, rules []LabelRule) (*Fleet, error) {
	env := cfg.TokenEnv
	if env == "" {
		env = DefaultTokenEnv
	}
	token := os.Getenv(env)
	if token == "" {
		return nil, fmt.Errorf("fleet token: environment variable %s is empty", env)
	}
	c, err := NewFleetClient(cfg.URL, token, cfg.PerPage, nil)
	if err != nil {
		return nil, err
	}
	return NewFleetWithClient(c, rules, cfg.Refresh, nil), nil
}

// NewFleetWithClient builds a Fleet source around a client. refresh <= 0
// means 30 minutes (Fleet re-evaluates dynamic labels hourly).
func NewFleetWithClient(c *FleetClient, rules []LabelRule, refresh time.Duration, logger hclog.Logger) *Fleet {
	if refresh <= 0 {
		refresh = 30 * time.Minute
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Fleet{client: c, rules: rules, refresh: refresh, logger: logger, members: map[string][]Match{},
		inferred: map[string][]Match{}}
}

func (f *Fleet) setKnown(roles []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.known = roles
}

// SetLogger sets the logger used for refresh errors.
func (f *Fleet) SetLogger(l hclog.Logger) { f.logger = l }

// Generation changes every time the membership is replaced.
func (f *Fleet) Generation() uint64 { return f.gen.Load() }

// Fetched is the time of the last successful refresh.
func (f *Fleet) Fetched() time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.fetched
}

// Refresh fetches the labels and the hosts of every mapped label: the labels the roles file maps, and the
// labels named after a role (RoleFromLabelName), which count only for hosts no other source gives a role.
func (f *Fleet) Refresh(ctx context.Context) error {
	labels, err := f.client.Labels(ctx)
	if err != nil {
		return err
	}
	f.mu.RLock()
	known := f.known
	f.mu.RUnlock()
	members, inferred := map[string][]Match{}, map[string][]Match{}
	hostsOf := map[int][]FleetHost{}
	add := func(into map[string][]Match, l FleetLabel, m Match) error {
		hosts, ok := hostsOf[l.ID]
		if !ok {
			var err error
			if hosts, err = f.client.LabelHosts(ctx, l.ID); err != nil {
				return err
			}
			hostsOf[l.ID] = hosts
		}
		for _, h := range hosts {
			seen := map[string]bool{}
			for _, id := range []string{h.UUID, h.Hostname, h.ComputerName, h.DisplayName} {
				id = strings.ToLower(id)
				if id == "" || seen[id] {
					continue
				}
				seen[id] = true
				into[id] = append(into[id], m)
			}
		}
		return nil
	}
	for _, l := range labels {
		mapped := false
		for _, rule := range f.rules {
			if (rule.LabelID != 0 && l.ID != rule.LabelID) || (rule.LabelName != "" && !strings.EqualFold(l.Name, rule.LabelName)) {
				continue
			}
			mapped = true
			m := Match{Role: rule.Role, Label: fmt.Sprintf("fleet label %d (%s) via %s", l.ID, l.Name, rule.Label)}
			if err := add(members, l, m); err != nil {
				return err
			}
		}
		if role, ok := RoleFromLabelName(l.Name, known); ok && !mapped {
			m := Match{Role: role, Label: fmt.Sprintf("fleet label %d (%s) by name", l.ID, l.Name)}
			if err := add(inferred, l, m); err != nil {
				return err
			}
		}
	}
	f.mu.Lock()
	f.members, f.inferred = members, inferred
	f.fetched = time.Now()
	f.mu.Unlock()
	f.gen.Add(1)
	f.logger.Debug("fleet labels refreshed", "labels", len(labels), "hosts", len(members), "inferred_hosts", len(inferred))
	return nil
}

// Run refreshes every interval until ctx ends.
func (f *Fleet) Run(ctx context.Context) {
	t := time.NewTicker(f.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.Refresh(ctx); err != nil {
				f.logger.Warn("fleet label refresh failed, keeping cached roles", "error", err)
			}
		}
	}
}

// Matches returns the roles the mapped Fleet labels give a host.
func (f *Fleet) Matches(h resultlog.Host) []Match { return f.matches(h, false) }

// Inferred returns the roles the Fleet labels named after a role give a host.
func (f *Fleet) Inferred(h resultlog.Host) []Match { return f.matches(h, true) }

func (f *Fleet) matches(h resultlog.Host, inferred bool) []Match {
	f.mu.RLock()
	defer f.mu.RUnlock()
	from := f.members
	if inferred {
		from = f.inferred
	}
	var out []Match
	for _, id := range identities(h) {
		for _, m := range from[id] {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
