package policy

import (
	"bytes"
	"strings"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if p.AlertThreshold != 50 || p.StageLR["network"] != 24 || p.Roles["domain_controller"].Impact != 2 || p.HostRisk.Window.Hours() != 24 {
		t.Errorf("unexpected defaults: threshold %v network %v dc impact %v host window %v", p.AlertThreshold, p.StageLR["network"], p.Roles["domain_controller"].Impact, p.HostRisk.Window)
	}
	for score, want := range map[float64]string{0: "informational", 24.99: "informational", 25: "low", 50: "medium", 69.99: "medium", 70: "high", 85: "critical", 100: "critical"} {
		if got := p.Severity(score); got != want {
			t.Errorf("Severity(%v) = %s, want %s", score, got, want)
		}
	}
	if got := p.MostImportant([]string{"developer_workstation", "user_endpoint"}); got != "user_endpoint" {
		t.Errorf("MostImportant(dev, user) = %s", got)
	}
	if got := p.MostImportant([]string{"user_endpoint", "domain_controller", "server"}); got != "domain_controller" {
		t.Errorf("MostImportant(user, dc, server) = %s", got)
	}
	if got := p.MostImportant([]string{"janitor"}); got != "unknown" {
		t.Errorf("MostImportant(unknown names) = %s, want the default role", got)
	}
	for sum, want := range map[float64]string{99.99: "", 100: "medium", 150: "high", 240: "critical"} {
		if got, _ := p.HostBand(sum); got != want {
			t.Errorf("HostBand(%v) = %q, want %q", sum, got, want)
		}
	}
	if got := p.ParentClass("MSHTA.EXE"); got != "script_host" {
		t.Errorf("ParentClass(MSHTA.EXE) = %s", got)
	}
}

func TestParseOverDefaults(t *testing.T) {
	t.Parallel()
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("mine.yaml", strings.NewReader("alert_threshold: 55\nstage_lr: {network: 30}\nroles:\n  build_server: {impact: 1.5, prior: 0.001}\nhost_risk: {window: 168h}\n"), base)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.AlertThreshold != 55 || p.StageLR["network"] != 30 || p.StageLR["compile"] != 1 || p.HostRisk.Window.Hours() != 168 || p.HostRisk.Threshold != 100 {
		t.Errorf("override not merged: threshold %v stages %v host risk %+v", p.AlertThreshold, p.StageLR, p.HostRisk)
	}
	if p.Roles["build_server"].Impact != 1.5 || p.Roles["user_endpoint"].Impact != 1 {
		t.Errorf("roles not merged: %+v", p.Roles)
	}
	if base.AlertThreshold != 50 || base.StageLR["network"] != 24 {
		t.Errorf("Parse changed its base policy")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"threshold", "version: 2\nalert_threshold: 140\n", "p.yaml:2: alert_threshold must be within 0..100"},
		{"unknown key", "version: 2\nalert_treshold: 40\n", "p.yaml: yaml: unmarshal errors:\n  line 2: field alert_treshold not found"},
		{"old points", "version: 2\nstage_points: {network: 50}\n", "field stage_points not found"},
		{"bad role", "version: 2\nroles:\n  server: {prior: 0.02, impact: 0}\n", "p.yaml:3: role server: impact must be above 0"},
		{"bad prior", "version: 2\nroles:\n  server: {prior: 1, impact: 1}\n", "p.yaml:3: role server: prior must be a probability"},
		{"version", "version: 1\n", "p.yaml:1: version 1 is not supported"},
		{"syntax", "version: [1\n", "p.yaml: yaml: line 1"},
		{"bands", "version: 2\nseverity_bands: [{name: a, min: 0}, {name: b, min: 0}]\n", "p.yaml:2: severity band \"b\" must start above \"a\""},
		{"default role", "version: 2\ndefault_role: nobody\n", "p.yaml:2: default_role \"nobody\" is not a role"},
		{"stages fall", "version: 2\nstage_lr: {executed: 30, network: 20}\n", "p.yaml:2: stage_lr network must be above 0 and above the stage before it"},
		{"neutral reason", "version: 2\nreason_lr: {temp_output: 1}\n", "p.yaml:2: reason_lr temp_output: a ratio of 1 is no evidence"},
		{"host threshold", "version: 2\nhost_risk: {threshold: 80}\n", "p.yaml:2: host_risk.threshold must be at least 100"},
		{"host window", "version: 2\nhost_risk: {window: 1fortnight}\n", "unknown unit \"fortnight\""},
		{"empty", "", "p.yaml: empty policy file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse("p.yaml", strings.NewReader(tt.body), base)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("alert_threshold: 55\nroles: {server: {impact: 1.5, prior: 0.5}}\n"))
	f.Add([]byte("version: 2\nseverity_bands: []\n"))
	f.Add([]byte("host_risk: {window: 1h, threshold: 150, bands: [{name: a, min: 150}]}\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base, err := Default()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse("fuzz.yaml", bytes.NewReader(data), base)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// A policy that loads must be usable.
		_ = p.Severity(50)
		_ = p.MostImportant(BuiltinRoles)
		if p.AlertThreshold < 0 || p.AlertThreshold > 100 {
			t.Fatalf("accepted threshold %v", p.AlertThreshold)
		}
	})
}
