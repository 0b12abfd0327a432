package roles

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/packs"
)

func TestRoleFromLabelName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, role string
		ok         bool
	}{
		{"build_server", "build_server", true},
		{"build_server_windows", "build_server", true},
		{"User_Endpoint_macOS", "user_endpoint", true},
		{"server_linux", "server", true},
		{"domain_controller_darwin", "domain_controller", true},
		{"server_freebsd", "", false},
		{"Domain Controllers", "", false},
		{"build_servers", "", false},
		{"_windows", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if role, ok := RoleFromLabelName(tt.name, known); role != tt.role || ok != tt.ok {
			t.Errorf("RoleFromLabelName(%q) = %q, %v; want %q, %v", tt.name, role, ok, tt.role, tt.ok)
		}
	}
	// Every role label the packs ship maps to its role with no mapping file.
	ls, err := packs.EmbeddedLabels()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if role, ok := RoleFromLabelName(l.Name, known); !ok || role != l.Role {
			t.Errorf("packs label %s maps to %q, %v; want %s", l.Name, role, ok, l.Role)
		}
	}
}

// TestFleetLabelsByName reads roles from Fleet labels named after roles (the packs' role labels) through the
// Fleet API client: no mapping needed, a mapping for the same label wins, and a roles file overrides.
func TestFleetLabelsByName(t *testing.T) {
	t.Parallel()
	ff := &fakeFleet{token: "t0k", hosts: map[int][]map[string]any{}}
	ff.labels = []map[string]any{
		{"id": 1, "name": "All Hosts", "label_type": "builtin", "label_membership_type": "dynamic"},
		{"id": 20, "name": "build_server_windows", "label_type": "regular", "label_membership_type": "dynamic"},
		{"id": 21, "name": "user_endpoint_windows", "label_type": "regular", "label_membership_type": "dynamic"},
		{"id": 22, "name": "Server", "label_type": "regular", "label_membership_type": "manual"},
		{"id": 23, "name": "developer_workstation_plan", "label_type": "regular", "label_membership_type": "manual"},
		{"id": 25, "name": "server_linux", "label_type": "regular", "label_membership_type": "dynamic"},
	}
	ff.hosts[1] = []map[string]any{fleetHost(1, "ba-1", "U-A"), fleetHost(2, "ws-2", "U-B"), fleetHost(3, "ws-3", "U-C")}
	ff.hosts[20] = []map[string]any{fleetHost(1, "ba-1", "U-A")}
	ff.hosts[21] = []map[string]any{fleetHost(2, "ws-2", "U-B"), fleetHost(3, "ws-3", "U-C")}
	ff.hosts[22] = []map[string]any{fleetHost(4, "srv-4", "U-D")}
	ff.hosts[23] = []map[string]any{fleetHost(5, "pl-5", "U-E")}
	ff.hosts[25] = []map[string]any{fleetHost(6, "lnx-6", "U-F")}
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.URL.Query().Get("page") == "0" {
			asked = append(asked, r.URL.Path)
		}
		mu.Unlock()
		ff.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := NewFleetClient(srv.URL, "t0k", 2, srv.Client())
	if err != nil {
		t.Fatal(err)
	}

	r := newResolver()
	if err := r.LoadCSV("roles.csv", strings.NewReader("host,role\nws-2,developer_workstation\n")); err != nil {
		t.Fatal(err)
	}
	// A mapping for server_linux overrides its name.
	f := NewFleetWithClient(c, []LabelRule{{LabelName: "server_linux", Role: "build_server", Label: "roles.yaml:3"}}, time.Hour, nil)
	r.SetFleet(f)
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	tests := []struct {
		host        resultlog.Host
		role, label string
	}{
		{resultlog.Host{UUID: "u-a"}, "build_server", "fleet label 20 (build_server_windows) by name"},
		{resultlog.Host{Hostname: "WS-3"}, "user_endpoint", "fleet label 21 (user_endpoint_windows) by name"},
		{resultlog.Host{UUID: "U-B", Hostname: "ws-2"}, "developer_workstation", "roles.csv:2"}, // the roles file overrides the label
		{resultlog.Host{UUID: "U-D"}, "server", "fleet label 22 (Server) by name"},
		{resultlog.Host{UUID: "U-E"}, "unknown", "default role: host in no roles source"},
		{resultlog.Host{UUID: "U-F"}, "build_server", "fleet label 25 (server_linux) via roles.yaml:3"},
	}
	for _, tt := range tests {
		a := r.Resolve(tt.host)
		if a.Role != tt.role || a.Label != tt.label || len(a.All) > 1 {
			t.Errorf("%+v: role %q label %q (all %v), want %q %q", tt.host, a.Role, a.Label, a.All, tt.role, tt.label)
		}
	}
	// Only the labels named after a role or mapped are asked for their hosts, each once.
	want := []string{"/api/v1/fleet/labels", "/api/v1/fleet/labels/20/hosts", "/api/v1/fleet/labels/21/hosts",
		"/api/v1/fleet/labels/22/hosts", "/api/v1/fleet/labels/25/hosts"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(asked, want) {
		t.Errorf("requests %v, want %v", asked, want)
	}
}
