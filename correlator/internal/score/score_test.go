package score

import (
	"math"
	"slices"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
)

func defaultPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// chain returns an mshta -> csc chain at a stage.
func chain(stage string) *lineage.Record {
	r := &lineage.Record{
		LineageID: "id", CompilerName: "csc.exe", ParentName: "mshta.exe", ParentClass: "script_host",
		Stage: stage, Reasons: []string{"parent_elastic_list", "temp_output"},
	}
	switch stage {
	case lineage.StageExecuted:
		r.Executions = 1
	case lineage.StageNetwork:
		r.Executions, r.Connections, r.ConnectionOrigin = 1, 1, "artifact"
	}
	return r
}

// devBuild returns a Visual Studio (devenv > msbuild > csc) or dotnet build.
func devBuild(parent, class, stage string) *lineage.Record {
	return &lineage.Record{LineageID: "b", CompilerName: "csc.exe", ParentName: parent, ParentClass: class, Stage: stage, Executions: map[bool]int64{true: 1}[stage == lineage.StageExecuted]}
}

var allRoles = []string{"developer_workstation", "build_server", "admin_workstation", "user_endpoint", "server", "domain_controller", "unknown"}
var allStages = []string{lineage.StageCompile, lineage.StageWritten, lineage.StageExecuted, lineage.StageNetwork}
var rarities = []Rarity{{}, {HostFirst: true}, {HostFirst: true, FleetFirst: true}}

func TestRoleOrderingProperties(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for _, st := range allStages {
		for _, rar := range rarities {
			rec := chain(st)
			dev := Evaluate(p, rec, Role{Name: "developer_workstation"}, rar).Score
			user := Evaluate(p, rec, Role{Name: "user_endpoint"}, rar).Score
			server := Evaluate(p, rec, Role{Name: "server"}, rar).Score
			dc := Evaluate(p, rec, Role{Name: "domain_controller"}, rar).Score
			if !(user > dev) {
				t.Errorf("stage %s rarity %+v: user endpoint %.1f not above developer workstation %.1f", st, rar, user, dev)
			}
			if !(server >= user) || !(dc >= user) {
				t.Errorf("stage %s rarity %+v: server %.1f / DC %.1f below user endpoint %.1f", st, rar, server, dc, user)
			}
		}
	}
}

func TestStageOrderingProperty(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	// A weaker chain (no reasons, unknown parent) so the cap is not reached.
	for _, role := range allRoles {
		for _, rar := range rarities {
			var prev float64 = -1
			for _, st := range allStages {
				rec := chain(st)
				rec.Reasons, rec.ParentClass, rec.ParentName = nil, "unknown", "x.exe"
				s := Evaluate(p, rec, Role{Name: role}, rar).Score
				if !(s > prev) {
					t.Errorf("role %s rarity %+v: stage %s scores %.1f, not above the previous stage %.1f", role, rar, st, s, prev)
				}
				prev = s
			}
			// And with the full suspicious chain, below the cap.
			prev = -1
			for _, st := range allStages {
				rec := chain(st)
				rec.Reasons = nil
				s := Evaluate(p, rec, Role{Name: role}, rar).Score
				if !(s > prev) {
					t.Errorf("role %s rarity %+v: script-host chain stage %s scores %.1f, not above %.1f", role, rar, st, s, prev)
				}
				prev = s
			}
		}
	}
}

func TestScriptHostAboveDevTool(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for _, role := range allRoles {
		for _, st := range allStages {
			script := &lineage.Record{LineageID: "s", CompilerName: "csc.exe", ParentName: "wscript.exe", ParentClass: "script_host", Stage: st}
			dev := &lineage.Record{LineageID: "d", CompilerName: "csc.exe", ParentName: "devenv.exe", ParentClass: "dev_tool", Stage: st}
			s := Evaluate(p, script, Role{Name: role}, Rarity{}).Score
			d := Evaluate(p, dev, Role{Name: role}, Rarity{}).Score
			if !(s > d) {
				t.Errorf("role %s stage %s: script host %.1f not above dev tool %.1f", role, st, s, d)
			}
		}
	}
}

func TestDevBuildStaysBelowThreshold(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	builds := []*lineage.Record{
		devBuild("devenv.exe", "dev_tool", lineage.StageCompile),
		devBuild("msbuild.exe", "build_system", lineage.StageWritten),
		devBuild("msbuild.exe", "build_system", lineage.StageExecuted),
		devBuild("dotnet.exe", "build_system", lineage.StageCompile),
		devBuild("dotnet.exe", "build_system", lineage.StageWritten),
		devBuild("dotnet.exe", "build_system", lineage.StageExecuted),
	}
	for _, role := range []string{"developer_workstation", "build_server"} {
		for _, b := range builds {
			for _, rar := range rarities {
				res := Evaluate(p, b, Role{Name: role}, rar)
				if res.Alert || res.Score >= p.AlertThreshold {
					t.Errorf("%s build under %s at %s (rarity %+v) scores %.1f, at or above the threshold %.0f", role, b.ParentName, b.Stage, rar, res.Score, p.AlertThreshold)
				}
			}
		}
	}
}

func TestEvaluateExplainsEveryPoint(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	rec := chain(lineage.StageNetwork)
	rec.ParentName = "regsvr32.exe"
	rec.ParentClass = "lolbin"
	rec.Reasons = []string{"parent_elastic_list", "made_up_code"}
	res := Evaluate(p, rec, Role{Name: "domain_controller", Label: "roles.csv:7"}, Rarity{HostFirst: true, FleetFirst: true})

	wantCodes := []string{"stage_network", "parent_class_lolbin", "parent_elastic_list", "made_up_code", "full_chain", "rare_on_host", "rare_in_fleet", "evidence_cap", "role_likelihood", "role_impact"}
	var codes []string
	var sum float64
	for _, r := range res.Reasons {
		codes = append(codes, r.Code)
		sum += r.Points
		if r.Detail == "" {
			t.Errorf("reason %s has no detail", r.Code)
		}
	}
	if !slices.Equal(codes, wantCodes) {
		t.Errorf("reason codes = %v, want %v", codes, wantCodes)
	}
	// 50 + 20 + 15 + 3 (unknown code) + 15 + 5 + 10 = 118, capped at 99 with an evidence_cap reason of -19.
	if res.Evidence != 99 {
		t.Errorf("evidence = %v, want 99 (capped)", res.Evidence)
	}
	if math.Abs(sum-res.Score) > 0.2 {
		t.Errorf("reason points sum to %.1f, score is %.1f", sum, res.Score)
	}
	if res.Severity != "critical" || !res.Alert {
		t.Errorf("severity = %s alert = %v, want critical alert", res.Severity, res.Alert)
	}
	if want := []string{"T1027.004", "T1218.010"}; !slices.Equal(res.Techniques, want) {
		t.Errorf("techniques = %v, want %v", res.Techniques, want)
	}
	if want := []string{TacticDefenseEvasion, TacticExecution, TacticC2}; !slices.Equal(res.Tactics, want) {
		t.Errorf("tactics = %v, want %v", res.Tactics, want)
	}
	for _, r := range res.Reasons {
		if r.Code == "role_impact" && r.Detail != "role domain_controller (roles.csv:7): impact odds x2.00" {
			t.Errorf("role_impact detail = %q", r.Detail)
		}
	}
}

func TestEvaluateConcreteScores(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	tests := []struct {
		name       string
		rec        *lineage.Record
		role       string
		rar        Rarity
		score      float64
		severity   string
		techniques []string
	}{
		// evidence 10+25+15+10 = 60; user endpoint keeps 60.
		{"mshta compile on user endpoint", chain(lineage.StageCompile), "user_endpoint", Rarity{}, 60, "medium", []string{"T1027.004", "T1218.005"}},
		// 60 on a developer workstation: odds 1.5*0.4=0.6 -> 37.5.
		{"mshta compile on dev workstation", chain(lineage.StageCompile), "developer_workstation", Rarity{}, 37.5, "low", []string{"T1027.004", "T1218.005"}},
		// 60 on a DC: odds 1.5*2 = 3 -> 75.
		{"mshta compile on domain controller", chain(lineage.StageCompile), "domain_controller", Rarity{}, 75, "high", []string{"T1027.004", "T1218.005"}},
		// msbuild under wmic, executed: 35+20+15 = 70 on a server: odds 7/3*1.5=3.5 -> 77.8.
		{"msbuild under wmic on server", &lineage.Record{CompilerName: "msbuild.exe", ParentName: "wmic.exe", ParentClass: "lolbin", Stage: lineage.StageExecuted, Reasons: []string{"msbuild_inline_project"}}, "server", Rarity{}, 77.8, "high", []string{"T1027.004", "T1127.001", "T1047"}},
		// fallback row: 10 + 25 + 15 (implied) + 5 = 55 on unknown role.
		{"fallback elastic parent on unknown host", &lineage.Record{CompilerName: "csc.exe", ParentName: "cscript.exe", Stage: lineage.StageCompile, Fallback: "elastic_dotnet_parent"}, "unknown", Rarity{}, 55, "medium", []string{"T1027.004", "T1059.005"}},
		// not_a_compile pulls evidence to the floor: 10 + 5 - 40 -> 0.
		{"not a compile", &lineage.Record{CompilerName: "csc.exe", ParentName: "x.exe", Stage: lineage.StageCompile, Reasons: []string{"not_a_compile"}}, "user_endpoint", Rarity{}, 0, "informational", []string{"T1027.004"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := Evaluate(p, tt.rec, Role{Name: tt.role}, tt.rar)
			if res.Score != tt.score || res.Severity != tt.severity {
				t.Errorf("score %.1f %s, want %.1f %s (reasons %+v)", res.Score, res.Severity, tt.score, tt.severity, res.Reasons)
			}
			if !slices.Equal(res.Techniques, tt.techniques) {
				t.Errorf("techniques = %v, want %v", res.Techniques, tt.techniques)
			}
		})
	}
}

func TestOdds(t *testing.T) {
	t.Parallel()
	// Elastic's worked examples for asset criticality.
	tests := []struct{ s, m, want float64 }{
		{50, 1.5, 60}, {50, 2, 66.7}, {50, 0.5, 33.3}, {90, 2, 94.7}, {0, 2, 0}, {100, 0.5, 100},
	}
	for _, tt := range tests {
		if got := round1(odds(tt.s, tt.m)); got != tt.want {
			t.Errorf("odds(%v, %v) = %v, want %v", tt.s, tt.m, got, tt.want)
		}
	}
}
