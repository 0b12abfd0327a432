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
	if p.AlertThreshold != 40 || p.StagePoints["network"] != 50 || p.Roles["domain_controller"].Impact != 2 {
		t.Errorf("unexpected defaults: threshold %v network %v dc impact %v", p.AlertThreshold, p.StagePoints["network"], p.Roles["domain_controller"].Impact)
	}
	for score, want := range map[float64]string{0: "informational", 19.9: "informational", 20: "low", 40: "medium", 69.9: "medium", 70: "high", 90: "critical", 100: "critical"} {
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
	p, err := Parse("mine.yaml", strings.NewReader("alert_threshold: 55\nstage_points: {network: 60}\nroles:\n  build_server: {impact: 1.5, likelihood: 0.3}\n"), base)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.AlertThreshold != 55 || p.StagePoints["network"] != 60 || p.StagePoints["compile"] != 10 {
		t.Errorf("override not merged: threshold %v stages %v", p.AlertThreshold, p.StagePoints)
	}
	if p.Roles["build_server"].Impact != 1.5 || p.Roles["user_endpoint"].Impact != 1 {
		t.Errorf("roles not merged: %+v", p.Roles)
	}
	if base.AlertThreshold != 40 || base.StagePoints["network"] != 50 {
		t.Errorf("Parse changed its base policy")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"threshold", "version: 1\nalert_threshold: 140\n", "p.yaml:2: alert_threshold must be within 0..100"},
		{"unknown key", "version: 1\nalert_treshold: 40\n", "p.yaml: yaml: unmarshal errors:\n  line 2: field alert_treshold not found"},
		{"bad role", "version: 1\nroles:\n  server: {impact: 0}\n", "p.yaml:3: role server: impact and likelihood must be above 0"},
		{"version", "version: 2\n", "p.yaml:1: version 2 is not supported"},
		{"syntax", "version: [1\n", "p.yaml: yaml: line 1"},
		{"bands", "version: 1\nseverity_bands: [{name: a, min: 0}, {name: b, min: 0}]\n", "p.yaml:2: severity band \"b\" must start above \"a\""},
		{"default role", "version: 1\ndefault_role: nobody\n", "p.yaml:2: default_role \"nobody\" is not a role"},
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
	f.Add([]byte("alert_threshold: 55\nroles: {server: {impact: 1.5, likelihood: 1}}\n"))
	f.Add([]byte("version: 1\nseverity_bands: []\n"))
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
