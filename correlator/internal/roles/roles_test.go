package roles

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

var known = []string{"developer_workstation", "build_server", "admin_workstation", "user_endpoint", "server", "domain_controller", "unknown"}

// rank is a stand-in for the policy's choice: earlier in this list matters more.
var rank = []string{"domain_controller", "server", "admin_workstation", "user_endpoint", "developer_workstation", "build_server", "unknown"}

func choose(roles []string) string {
	best := len(rank)
	for _, r := range roles {
		for i, k := range rank {
			if k == r && i < best {
				best = i
			}
		}
	}
	if best == len(rank) {
		return "unknown"
	}
	return rank[best]
}

func newResolver() *Resolver { return New(known, "unknown", choose) }

func TestCSV(t *testing.T) {
	t.Parallel()
	r := newResolver()
	csv := "host,role\n# comment\nWS-0042,user_endpoint\n4C4C4544-0042,domain_controller\nlt-bob,user_endpoint\nlt-bob,developer_workstation\n"
	if err := r.LoadCSV("roles.csv", strings.NewReader(csv)); err != nil {
		t.Fatalf("LoadCSV: %v", err)
	}
	tests := []struct {
		name  string
		host  resultlog.Host
		role  string
		label string
		all   []string
	}{
		{"hostname, case-insensitive", resultlog.Host{Hostname: "ws-0042"}, "user_endpoint", "roles.csv:3", []string{"user_endpoint"}},
		{"uuid", resultlog.Host{UUID: "4c4c4544-0042", Hostname: "other"}, "domain_controller", "roles.csv:4", []string{"domain_controller"}},
		{"identifier", resultlog.Host{Identifier: "WS-0042"}, "user_endpoint", "roles.csv:3", []string{"user_endpoint"}},
		{"several roles", resultlog.Host{Hostname: "LT-BOB"}, "user_endpoint", "roles.csv:5", []string{"user_endpoint", "developer_workstation"}},
		{"unknown host", resultlog.Host{Hostname: "nobody"}, "unknown", "default role: host in no roles source", []string{}},
	}
	for _, tt := range tests {
		a := r.Resolve(tt.host)
		if a.Role != tt.role || a.Label != tt.label || strings.Join(a.Roles(), ",") != strings.Join(tt.all, ",") {
			t.Errorf("%s: got %s (%s) %v, want %s (%s) %v", tt.name, a.Role, a.Label, a.Roles(), tt.role, tt.label, tt.all)
		}
	}
}

func TestCSVErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"no header", "ws1,user_endpoint\n", "r.csv:1: header must have columns host and role"},
		{"unknown role", "host,role\nws1,janitor\n", "r.csv:2: unknown role \"janitor\""},
		{"empty host", "host,role\n,server\n", "r.csv:2: empty host"},
		{"missing column", "host,role\nws1\n", "r.csv:2: want columns host and role"},
		{"empty", "", "r.csv: empty roles file"},
		{"quote", "host,role\n\"ws1,server\n", "r.csv: parse error on line 2"},
	}
	for _, tt := range tests {
		err := newResolver().LoadCSV("r.csv", strings.NewReader(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestYAML(t *testing.T) {
	t.Parallel()
	r := newResolver()
	y := `hosts:
  - {host: WS-9, role: user_endpoint}
  - host: multi-1
    roles: [developer_workstation, admin_workstation]
globs:
  - {pattern: "dc-*", role: domain_controller}
  - {pattern: "*.build.corp", role: build_server}
`
	if err := r.LoadYAML("roles.yaml", strings.NewReader(y)); err != nil {
		t.Fatalf("LoadYAML: %v", err)
	}
	tests := []struct {
		host  resultlog.Host
		role  string
		label string
	}{
		{resultlog.Host{Hostname: "ws-9"}, "user_endpoint", "roles.yaml:2"},
		{resultlog.Host{Hostname: "multi-1"}, "admin_workstation", "roles.yaml:3"},
		{resultlog.Host{Hostname: "DC-01"}, "domain_controller", "glob dc-* (roles.yaml:6)"},
		{resultlog.Host{Identifier: "agent7.build.corp"}, "build_server", "glob *.build.corp (roles.yaml:7)"},
	}
	for _, tt := range tests {
		a := r.Resolve(tt.host)
		if a.Role != tt.role || a.Label != tt.label {
			t.Errorf("%+v: got %s (%s), want %s (%s)", tt.host, a.Role, a.Label, tt.role, tt.label)
		}
	}
}

func TestYAMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"unknown key", "hostz: []\n", "r.yaml: yaml: unmarshal errors:\n  line 1: field hostz not found"},
		{"bad role", "globs:\n  - {pattern: a, role: x}\n", "r.yaml:2: unknown role \"x\""},
		{"host without role", "hosts:\n  - {host: a}\n  - {host: b}\n", "r.yaml:2: host entry needs host and role"},
		{"label both", "fleet_labels:\n  - {label: a, label_id: 3, role: server}\n", "r.yaml:2: fleet label entry needs exactly one of label or label_id"},
		{"fleet no token", "fleet:\n  url: https://fleet.example\n  token_env: CORRELATOR_TEST_NO_SUCH_TOKEN\n", "fleet token: environment variable CORRELATOR_TEST_NO_SUCH_TOKEN is empty"},
	}
	for _, tt := range tests {
		err := newResolver().LoadYAML("r.yaml", strings.NewReader(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// fakeFleet serves Fleet's documented response shapes with paging.
type fakeFleet struct {
	token    string
	labels   []map[string]any
	hosts    map[int][]map[string]any
	requests atomic.Int64
	authFail atomic.Int64
}

func (f *fakeFleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.authFail.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Authentication required","errors":[{"name":"base","reason":"Authentication required"}]}`))
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	slice := func(items []map[string]any) []map[string]any {
		lo, hi := page*per, (page+1)*per
		if lo > len(items) {
			lo = len(items)
		}
		if hi > len(items) {
			hi = len(items)
		}
		return items[lo:hi]
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/api/v1/fleet/labels":
		_ = json.NewEncoder(w).Encode(map[string]any{"labels": slice(f.labels)})
	case strings.HasPrefix(r.URL.Path, "/api/v1/fleet/labels/") && strings.HasSuffix(r.URL.Path, "/hosts"):
		id, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/fleet/labels/"), "/hosts"))
		_ = json.NewEncoder(w).Encode(map[string]any{"hosts": slice(f.hosts[id])})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func fleetHost(id int, hostname, uuid string) map[string]any {
	return map[string]any{
		"id": id, "hostname": hostname, "uuid": uuid, "computer_name": strings.ToUpper(hostname), "display_name": strings.ToUpper(hostname),
		"platform": "windows", "os_version": "Windows Server 2022", "status": "online", "team_id": nil, "seen_time": "2026-11-25T10:00:00Z",
		"primary_ip": "10.0.0.1", "hardware_serial": "abc", "label_updated_at": "2026-11-25T09:00:00Z", "extra_future_field": map[string]any{"x": 1},
	}
}

func TestFleetLabels(t *testing.T) {
	t.Parallel()
	ff := &fakeFleet{token: "s3cret", hosts: map[int][]map[string]any{}}
	ff.labels = []map[string]any{
		{"id": 1, "name": "All Hosts", "description": "", "query": "select 1", "platform": "", "label_type": "builtin", "label_membership_type": "dynamic", "host_count": 3, "count": 3},
		{"id": 7, "name": "Domain Controllers", "label_type": "regular", "label_membership_type": "manual", "host_count": 1},
		{"id": 9, "name": "Build agents", "label_type": "regular", "label_membership_type": "dynamic", "host_count": 3},
	}
	ff.hosts[7] = []map[string]any{fleetHost(1, "dc-01.corp", "U-DC1")}
	ff.hosts[9] = []map[string]any{fleetHost(2, "ba-1", "U-BA1"), fleetHost(3, "ba-2", "U-BA2"), fleetHost(4, "dc-01.corp", "U-DC1")}
	srv := httptest.NewServer(ff)
	defer srv.Close()

	c, err := NewFleetClient(srv.URL, "s3cret", 2, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	labels, err := c.Labels(context.Background())
	if err != nil || len(labels) != 3 || labels[1].Name != "Domain Controllers" || labels[2].ID != 9 {
		t.Fatalf("Labels = %+v, %v; want 3 labels over 2 pages", labels, err)
	}
	hosts, err := c.LabelHosts(context.Background(), 9)
	if err != nil || len(hosts) != 3 || hosts[2].UUID != "U-DC1" {
		t.Fatalf("LabelHosts = %+v, %v", hosts, err)
	}

	rules := []LabelRule{
		{LabelName: "domain controllers", Role: "domain_controller", Label: "roles.yaml:4"},
		{LabelID: 9, Role: "build_server", Label: "roles.yaml:5"},
	}
	f := NewFleetWithClient(c, rules, time.Hour, nil)
	r := newResolver()
	r.SetFleet(f)
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	a := r.Resolve(resultlog.Host{UUID: "u-dc1"})
	if a.Role != "domain_controller" || a.Label != "fleet label 7 (Domain Controllers) via roles.yaml:4" || strings.Join(a.Roles(), ",") != "domain_controller,build_server" {
		t.Errorf("dc: %+v", a)
	}
	if a := r.Resolve(resultlog.Host{Hostname: "BA-2"}); a.Role != "build_server" {
		t.Errorf("ba-2 by hostname: %+v", a)
	}

	// Membership changes are picked up on refresh, and the cache is invalidated.
	ff.hosts[7] = append(ff.hosts[7], fleetHost(5, "dc-02.corp", "U-DC2"))
	if a := r.Resolve(resultlog.Host{UUID: "U-DC2"}); a.Role != "unknown" {
		t.Errorf("dc-02 before refresh: %+v", a)
	}
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := r.Resolve(resultlog.Host{UUID: "U-DC2"}); a.Role != "domain_controller" {
		t.Errorf("dc-02 after refresh: %+v", a)
	}

	// A failed refresh keeps the cached roles and never reveals the token.
	bad, err := NewFleetClient(srv.URL, "wrong", 2, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	f.client = bad
	err = f.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "status 401") || strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("refresh with a bad token: %v", err)
	}
	if a := r.Resolve(resultlog.Host{UUID: "U-DC2"}); a.Role != "domain_controller" {
		t.Errorf("roles lost after a failed refresh: %+v", a)
	}
}

func FuzzLoadCSV(f *testing.F) {
	f.Add([]byte("host,role\nws1,user_endpoint\n"))
	f.Add([]byte("role,host\nserver,a\n# x\n"))
	f.Add([]byte("host,role\n\"a,b\",server\n"))
	f.Add([]byte("\ufeffhost,role\r\nA,server\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newResolver()
		if err := r.LoadCSV("f.csv", bytes.NewReader(data)); err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		a := r.Resolve(resultlog.Host{Hostname: "a"})
		if a.Role == "" {
			t.Fatal("empty role")
		}
	})
}

func FuzzLoadYAML(f *testing.F) {
	f.Add([]byte("hosts:\n  - {host: a, role: server}\nglobs:\n  - {pattern: 'dc-*', role: domain_controller}\n"))
	f.Add([]byte("fleet_labels:\n  - {label_id: 3, role: server}\n"))
	f.Add([]byte("hosts: [{host: a, roles: [server, unknown]}]"))
	f.Add([]byte(":::"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newResolver()
		if err := r.LoadYAML("f.yaml", bytes.NewReader(data)); err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") && !strings.HasPrefix(err.Error(), "read f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if a := r.Resolve(resultlog.Host{Hostname: "dc-1"}); a.Role == "" {
			t.Fatal("empty role")
		}
	})
}
