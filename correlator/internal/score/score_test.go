package score

import (
	"cmp"
	"math"
	"math/rand/v2"
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
	setStage(r, stage)
	return r
}

// setStage moves a record to a stage with the counters that stage implies
// (at network, the artifact ran and connected out: a full chain).
func setStage(r *lineage.Record, stage string) {
	r.Stage = stage
	r.Executions, r.Connections, r.ConnectionOrigin, r.ArtifactWritten = 0, 0, "", stage != lineage.StageCompile
	switch stage {
	case lineage.StageExecuted:
		r.Executions = 1
	case lineage.StageNetwork:
		r.Executions, r.Connections, r.ConnectionOrigin = 1, 1, "artifact"
	}
}

var allRoles = []string{"developer_workstation", "build_server", "admin_workstation", "user_endpoint", "server", "domain_controller", "unknown"}
var allStages = []string{lineage.StageCompile, lineage.StageWritten, lineage.StageExecuted, lineage.StageNetwork}
var rarities = []Rarity{{}, {HostFirst: true}, {FleetFirst: true}, {HostFirst: true, FleetFirst: true}}

// generated is one generated input: a record, a rarity and a role.
type generated struct {
	rec    *lineage.Record
	rarity Rarity
	role   string
}

// generate returns n random inputs over every stage, parent class, reason
// code subset (the positive codes, sometimes not_a_compile too), rarity,
// fallback rule and role of the policy. The seed is fixed so a failure
// reproduces.
func generate(p *policy.Policy, n int) []generated {
	rng := rand.New(rand.NewPCG(9, 27))
	classes := sortedKeys(p.ParentClassLR)
	codes := sortedKeys(p.ReasonLR)
	fallbacks := append([]string{""}, sortedKeys(p.FallbackReasons)...)
	out := make([]generated, 0, n)
	for range n {
		r := &lineage.Record{LineageID: "g", CompilerName: "csc.exe", ParentName: "parent.exe", ParentClass: classes[rng.IntN(len(classes))]}
		setStage(r, allStages[rng.IntN(len(allStages))])
		for _, c := range codes {
			if rng.IntN(4) == 0 {
				r.Reasons = append(r.Reasons, c)
			}
		}
		if rng.IntN(6) == 0 {
			r.Fallback = fallbacks[rng.IntN(len(fallbacks))]
		}
		out = append(out, generated{rec: r, rarity: rarities[rng.IntN(len(rarities))], role: allRoles[rng.IntN(len(allRoles))]})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func clone(r *lineage.Record) *lineage.Record {
	c := *r
	c.Reasons = slices.Clone(r.Reasons)
	return &c
}

func TestPropertyStageRisesStrictly(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for i, g := range generate(p, 3000) {
		prev := math.Inf(-1)
		for _, st := range allStages {
			r := clone(g.rec)
			setStage(r, st)
			s := Evaluate(p, r, Role{Name: g.role}, g.rarity).Score
			if !(s > prev) {
				t.Fatalf("input %d (%+v, role %s): stage %s scores %.2f, not above the stage before (%.2f)", i, r, g.role, st, s, prev)
			}
			prev = s
		}
	}
}

func TestPropertyEachAddedReasonRaisesTheScore(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	var positive []string
	for _, c := range sortedKeys(p.ReasonLR) {
		if p.ReasonLR[c] > 1 {
			positive = append(positive, c)
		}
	}
	positive = append(positive, "code_from_a_newer_extension") // unknown codes count a little
	checked := 0
	for i, g := range generate(p, 2000) {
		base := Evaluate(p, g.rec, Role{Name: g.role}, g.rarity)
		for _, c := range positive {
			if slices.Contains(g.rec.Reasons, c) || (g.rec.Fallback != "" && slices.Contains(p.FallbackReasons[g.rec.Fallback], c)) {
				continue
			}
			r := clone(g.rec)
			r.Reasons = append(r.Reasons, c)
			got := Evaluate(p, r, Role{Name: g.role}, g.rarity)
			if !(got.Score > base.Score) {
				t.Fatalf("input %d (%+v, role %s): adding %s gives %.2f, not above %.2f", i, g.rec, g.role, c, got.Score, base.Score)
			}
			checked++
		}
		// Rarity is evidence too.
		if !g.rarity.FleetFirst {
			rar := g.rarity
			rar.FleetFirst = true
			if got := Evaluate(p, g.rec, Role{Name: g.role}, rar).Score; !(got > base.Score) {
				t.Fatalf("input %d: first in fleet gives %.2f, not above %.2f", i, got, base.Score)
			}
		}
		// Negative evidence lowers it.
		if !slices.Contains(g.rec.Reasons, "not_a_compile") {
			r := clone(g.rec)
			r.Reasons = append(r.Reasons, "not_a_compile")
			if got := Evaluate(p, r, Role{Name: g.role}, g.rarity).Score; !(got < base.Score) {
				t.Fatalf("input %d: not_a_compile gives %.2f, not below %.2f", i, got, base.Score)
			}
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d additions checked", checked)
	}
}

func TestPropertyRoleOrder(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for i, g := range generate(p, 3000) {
		s := map[string]float64{}
		for _, role := range allRoles {
			s[role] = Evaluate(p, g.rec, Role{Name: role}, g.rarity).Score
		}
		if !(s["developer_workstation"] < s["user_endpoint"]) || !(s["build_server"] < s["user_endpoint"]) {
			t.Fatalf("input %d (%+v): developer %.2f / build server %.2f not below user endpoint %.2f", i, g.rec, s["developer_workstation"], s["build_server"], s["user_endpoint"])
		}
		for _, role := range allRoles {
			if role != "domain_controller" && !(s["domain_controller"] > s[role]) {
				t.Fatalf("input %d (%+v): domain controller %.2f not above %s %.2f", i, g.rec, s["domain_controller"], role, s[role])
			}
		}
	}
}

func TestPropertySeverityFollowsScore(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	gen := generate(p, 3000)
	type scored struct {
		score float64
		y     float64
		band  int
	}
	var all []scored
	for _, g := range gen {
		for _, role := range allRoles {
			res := Evaluate(p, g.rec, Role{Name: role}, g.rarity)
			if res.Severity != p.Severity(res.Score) {
				t.Fatalf("severity %s for score %.2f, policy says %s", res.Severity, res.Score, p.Severity(res.Score))
			}
			if res.Alert != (res.Score >= p.AlertThreshold) {
				t.Fatalf("alert %v for score %.2f (threshold %.0f)", res.Alert, res.Score, p.AlertThreshold)
			}
			all = append(all, scored{res.Score, res.LogOdds, p.BandRank(res.Severity)})
		}
	}
	slices.SortFunc(all, func(a, b scored) int { return cmp.Compare(a.y, b.y) })
	minStep := smallestStep(p)
	if minStep < 0.3 {
		t.Fatalf("smallest evidence step %.3f bits", minStep)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if b.band < a.band {
			t.Fatalf("score %.2f has band %d below the band %d of lower score %.2f", b.score, b.band, a.band, a.score)
		}
		// Resolution: evidence that differs by at least one item (the
		// smallest ratio in the policy) never ties on the printed score.
		j, _ := slices.BinarySearchFunc(all, a.y+minStep, func(x scored, y float64) int { return cmp.Compare(x.y, y) })
		if j < len(all) && !(all[j].score > a.score) {
			t.Fatalf("log-odds %.4f and %.4f both score %.2f", a.y, all[j].y, a.score)
		}
		if b.score < a.score {
			t.Fatalf("score not monotone in log-odds: %.2f (y %.4f) after %.2f (y %.4f)", b.score, b.y, a.score, a.y)
		}
	}
}

// smallestStep is the smallest |log2 ratio| of any one evidence item.
func smallestStep(p *policy.Policy) float64 {
	m := math.Inf(1)
	consider := func(lr float64) {
		if b := math.Abs(policy.Bits(lr)); b > 0 && b < m {
			m = b
		}
	}
	for _, lr := range p.ReasonLR {
		consider(lr)
	}
	for _, lr := range []float64{p.UnknownReasonLR, p.FallbackLR, p.FullChainLR, p.Rarity.HostFirstPairLR, p.Rarity.FleetFirstPairLR} {
		consider(lr)
	}
	for i := 1; i < len(policy.Stages); i++ {
		consider(p.StageLR[policy.Stages[i]] / p.StageLR[policy.Stages[i-1]])
	}
	return m
}

// devBuild returns a routine build (Visual Studio, MSBuild, dotnet) at a
// stage: a development parent, no suspicious reason, maybe the compiler's
// own response file in the temp folder.
func devBuild(parent, class, stage string, tempfile bool) *lineage.Record {
	r := &lineage.Record{LineageID: "b", CompilerName: "csc.exe", ParentName: parent, ParentClass: class}
	setStage(r, stage)
	if tempfile {
		r.Reasons = []string{"cmdline_tempfile"}
	}
	return r
}

func TestRoutineDevBuildStaysBelowThreshold(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for _, role := range []string{"developer_workstation", "build_server"} {
		for _, parent := range []struct{ name, class string }{{"devenv.exe", "dev_tool"}, {"msbuild.exe", "build_system"}, {"dotnet.exe", "build_system"}} {
			for _, st := range allStages {
				for _, tmp := range []bool{false, true} {
					for _, rar := range rarities {
						res := Evaluate(p, devBuild(parent.name, parent.class, st, tmp), Role{Name: role}, rar)
						if res.Alert || res.Score >= p.AlertThreshold {
							t.Errorf("%s build under %s at %s (tempfile %v, rarity %+v) scores %.2f, at or above the threshold %.0f", role, parent.name, st, tmp, rar, res.Score, p.AlertThreshold)
						}
					}
				}
			}
		}
	}
}

func TestFullChainAlertsOnEveryRole(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for _, role := range allRoles {
		for _, parent := range []struct{ name, class string }{{"mshta.exe", "script_host"}, {"winword.exe", "office"}, {"w3wp.exe", "web_server"}, {"regsvr32.exe", "lolbin"}} {
			r := &lineage.Record{LineageID: "f", CompilerName: "csc.exe", ParentName: parent.name, ParentClass: parent.class}
			setStage(r, lineage.StageNetwork)
			res := Evaluate(p, r, Role{Name: role}, Rarity{})
			if !res.Alert {
				t.Errorf("full chain under %s on %s scores %.2f, no alert", parent.name, role, res.Score)
			}
		}
	}
}

func TestEvaluateExplainsEveryContribution(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	rec := chain(lineage.StageNetwork)
	rec.ParentName = "regsvr32.exe"
	rec.ParentClass = "lolbin"
	rec.Reasons = []string{"parent_elastic_list", "made_up_code"}
	res := Evaluate(p, rec, Role{Name: "domain_controller", Label: "roles.csv:7"}, Rarity{HostFirst: true, FleetFirst: true})

	wantCodes := []string{"role_prior", "stage_network", "parent_class_lolbin", "parent_elastic_list", "made_up_code", "full_chain", "rare_on_host", "rare_in_fleet", "role_impact"}
	var codes []string
	var points, bits float64
	for _, r := range res.Reasons {
		codes = append(codes, r.Code)
		points += r.Points
		bits += r.Bits
		if r.Detail == "" {
			t.Errorf("reason %s has no detail", r.Code)
		}
	}
	if !slices.Equal(codes, wantCodes) {
		t.Errorf("reason codes = %v, want %v", codes, wantCodes)
	}
	// prior log2(0.02/0.98) = -5.615; evidence log2(24*12*4*1.25*4*1.5*2) =
	// log2(17280) = 14.077; impact log2(2) = 1: y = 9.462.
	if math.Abs(res.Evidence-math.Log2(17280)) > 1e-9 || math.Abs(res.LogOdds-(math.Log2(0.02/0.98)+math.Log2(17280)+1)) > 1e-9 {
		t.Errorf("evidence %.4f log-odds %.4f", res.Evidence, res.LogOdds)
	}
	if math.Abs(bits-res.LogOdds) > 1e-9 {
		t.Errorf("bits sum to %.4f, log-odds is %.4f", bits, res.LogOdds)
	}
	if math.Abs(points-res.Score) > 0.05 {
		t.Errorf("points sum to %.2f, score is %.2f", points, res.Score)
	}
	// 50 + 50*9.462/13.462 = 85.14.
	if res.Score != 85.14 || res.Severity != "critical" || !res.Alert {
		t.Errorf("score %.2f severity %s alert %v, want 85.14 critical alert", res.Score, res.Severity, res.Alert)
	}
	if want := []string{"T1027.004", "T1218.010"}; !slices.Equal(res.Techniques, want) {
		t.Errorf("techniques = %v, want %v", res.Techniques, want)
	}
	if want := []string{TacticDefenseEvasion, TacticExecution, TacticC2}; !slices.Equal(res.Tactics, want) {
		t.Errorf("tactics = %v, want %v", res.Tactics, want)
	}
	want := map[string]string{
		"role_prior":    "role domain_controller (roles.csv:7): prior 0.02 that a compile here is malicious",
		"role_impact":   "role domain_controller (roles.csv:7): impact odds x2",
		"stage_network": "the compile chain connected out",
		"made_up_code":  "reason code not in the policy",
	}
	for _, r := range res.Reasons {
		if w, ok := want[r.Code]; ok && r.Detail != w {
			t.Errorf("%s detail = %q, want %q", r.Code, r.Detail, w)
		}
		if math.Abs(math.Log2(r.LR)-r.Bits) > 1e-9 {
			t.Errorf("%s: lr %v and bits %v disagree", r.Code, r.LR, r.Bits)
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
		// y = log2(0.02/0.98) + log2(16*4*3) = -5.615 + 7.585 = 1.970: 50+50*1.970/5.970.
		{"mshta compile on user endpoint", chain(lineage.StageCompile), "user_endpoint", Rarity{}, 66.5, "medium", []string{"T1027.004", "T1218.005"}},
		// prior log2(0.002/0.998) = -8.963: y = -1.378.
		{"mshta compile on dev workstation", chain(lineage.StageCompile), "developer_workstation", Rarity{}, 37.19, "low", []string{"T1027.004", "T1218.005"}},
		// +1 bit of impact: y = 2.970.
		{"mshta compile on domain controller", chain(lineage.StageCompile), "domain_controller", Rarity{}, 71.31, "high", []string{"T1027.004", "T1218.005"}},
		// msbuild under wmic, executed, on a server: -5.615 + log2(8*12*6) + log2(1.5) = 4.756.
		{"msbuild under wmic on server", &lineage.Record{CompilerName: "msbuild.exe", ParentName: "wmic.exe", ParentClass: "lolbin", Stage: lineage.StageExecuted, Reasons: []string{"msbuild_inline_project"}}, "server", Rarity{}, 75.43, "high", []string{"T1027.004", "T1127.001", "T1047"}},
		// fallback row: cscript is a script host (16), implied parent_elastic_list (4), fallback (1.5): -5.615 + 6.585 = 0.970.
		{"fallback elastic parent on unknown host", &lineage.Record{CompilerName: "csc.exe", ParentName: "cscript.exe", Stage: lineage.StageCompile, Fallback: "elastic_dotnet_parent"}, "unknown", Rarity{}, 59.76, "medium", []string{"T1027.004", "T1059.005"}},
		// not_a_compile: -5.615 + log2(1.5*0.02) = -10.674.
		{"not a compile", &lineage.Record{CompilerName: "csc.exe", ParentName: "x.exe", Stage: lineage.StageCompile, Reasons: []string{"not_a_compile"}}, "user_endpoint", Rarity{}, 13.63, "informational", []string{"T1027.004"}},
		// Visual Studio build, executed, first in the fleet, developer workstation:
		// -8.963 + log2(8*0.25*0.1*1.5*2) = -8.963 - 0.737 = -9.700.
		{"devenv build on dev workstation", &lineage.Record{CompilerName: "csc.exe", ParentName: "devenv.exe", ParentClass: "dev_tool", Stage: lineage.StageExecuted, Executions: 1}, "developer_workstation", Rarity{HostFirst: true, FleetFirst: true}, 14.6, "informational", []string{"T1027.004"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := Evaluate(p, tt.rec, Role{Name: tt.role}, tt.rar)
			if res.Score != tt.score || res.Severity != tt.severity {
				t.Errorf("score %.2f %s, want %.2f %s (reasons %+v)", res.Score, res.Severity, tt.score, tt.severity, res.Reasons)
			}
			if !slices.Equal(res.Techniques, tt.techniques) {
				t.Errorf("techniques = %v, want %v", res.Techniques, tt.techniques)
			}
		})
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	tests := []struct{ y, h, want float64 }{
		{0, 4, 50}, {4, 4, 75}, {-4, 4, 25}, {12, 4, 87.5}, {-12, 4, 12.5}, {1000, 4, 99.80}, {-1000, 4, 0.20},
	}
	for _, tt := range tests {
		if got := round2(Scale(tt.y, tt.h)); got != tt.want {
			t.Errorf("Scale(%v, %v) = %v, want %v", tt.y, tt.h, got, tt.want)
		}
	}
	if !(Scale(1e6, 4) < 100) || !(Scale(-1e6, 4) > 0) {
		t.Error("Scale reaches the ends")
	}
}

func TestQuickMatchesEvaluate(t *testing.T) {
	t.Parallel()
	p := defaultPolicy(t)
	for i, g := range generate(p, 2000) {
		full := Evaluate(p, g.rec, Role{Name: g.role, Label: "x.csv:1"}, g.rarity)
		quick := Quick(p, g.rec, Role{Name: g.role, Label: "x.csv:1"}, g.rarity)
		if quick.Reasons != nil || quick.Techniques != nil || quick.Tactics != nil {
			t.Fatalf("Quick explained: %+v", quick)
		}
		if quick.Score != full.Score || quick.LogOdds != full.LogOdds || quick.Severity != full.Severity || quick.Alert != full.Alert ||
			quick.Evidence != full.Evidence || quick.Probability != full.Probability ||
			!slices.Equal(Techniques(p, g.rec), full.Techniques) || !slices.Equal(Tactics(g.rec), full.Tactics) {
			t.Fatalf("input %d: Quick %+v, Evaluate %+v", i, quick, full)
		}
	}
}

// TestQuickDoesNotAllocate guards the hot path: scoring a row that does
// not alert builds no words.
func TestQuickDoesNotAllocate(t *testing.T) {
	p := defaultPolicy(t)
	rec := chain(lineage.StageNetwork)
	rec.Reasons = append(rec.Reasons, "made_up_code")
	n := testing.AllocsPerRun(100, func() {
		_ = Quick(p, rec, Role{Name: "developer_workstation", Label: "roles.csv:7"}, Rarity{HostFirst: true, FleetFirst: true})
	})
	if n != 0 {
		t.Errorf("Quick allocates %.0f times per call", n)
	}
}
