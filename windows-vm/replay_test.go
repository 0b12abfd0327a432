package windowsvm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// The host as the VM presents it: osquery.flags sets --host_identifier=uuid, osquery.conf decorates
// every result line with host_uuid and hostname, and the Vagrantfile names the guest cl-win.
const (
	vmHostname = "cl-win"
	vmHostUUID = "8c0f5a11-0000-4000-8000-00000000c1a1"
)

// TestScenarioReplay replays each scenario's Sysmon fixture through the osquery-like harness with the
// real extension and checks, against the same expected.json the VM uses: the compile_lineage rows,
// compile_telemetry, the rows every query of both packs would log, and the correlator's verdict per role.
func TestScenarioReplay(t *testing.T) {
	scenarios := loadScenarios(t)
	queries := loadPackQueries(t, filepath.Join("..", "packs"), "compile_after_delivery.conf", "compile_after_delivery_fallback.conf")
	correlator, correlatorErr := buildCorrelator(t)

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			fixture := filepath.Join(sc.dir, "fixture.jsonl")
			fx, err := replay.LoadFixtures(fixture)
			if err != nil {
				t.Fatalf("load %s: %v", fixture, err)
			}
			h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
			if err != nil {
				t.Fatalf("start replay for %s: %v", fixture, err)
			}
			defer func() {
				if err := h.Close(); err != nil {
					t.Errorf("close replay: %v", err)
				}
			}()

			rows, err := h.Query(ctx, "SELECT * FROM compile_lineage")
			if err != nil && strings.Contains(err.Error(), "no such table") {
				t.Skipf("compile_lineage is not registered by the extension yet (%v): nothing to check", err)
			}
			if err != nil {
				t.Fatalf("query compile_lineage: %v", err)
			}
			var fails []string
			defer func() { report(t, sc.exp, fails) }()
			for i, want := range sc.exp.Lineage {
				if idx, why := want.Match(rows); idx < 0 {
					fails = append(fails, fmt.Sprintf("lineage[%d] %s: no matching row:\n  %s", i, want, strings.Join(why, "\n  ")))
				}
			}
			for _, r := range rows {
				t.Logf("row: %s", expect.Describe(r))
			}

			tel, err := h.Query(ctx, "SELECT signal, source_table, status, used FROM compile_telemetry")
			if err != nil {
				t.Fatalf("query compile_telemetry: %v", err)
			}
			fails = append(fails, expect.CheckTelemetry(sc.exp, tel)...)

			results, lines := runPackQueries(ctx, t, h, queries)
			fails = append(fails, expect.CheckPack(sc.exp, results)...)

			if correlatorErr != nil {
				t.Skipf("correlator not checked: %v", correlatorErr)
			}
			log := filepath.Join(t.TempDir(), "osqueryd.results.log")
			if err := os.WriteFile(log, lines, 0o600); err != nil {
				t.Fatalf("write %s: %v", log, err)
			}
			byRole := map[string][]expect.Alert{}
			for _, role := range expect.Roles {
				alerts, err := scoreAs(ctx, correlator, log, role)
				if err != nil {
					t.Fatalf("correlator as %s: %v", role, err)
				}
				byRole[role] = alerts
				t.Logf("as %-21s top score %5.1f, %d lineage(s) scored", role, expect.TopScore(alerts), len(alerts))
			}
			fails = append(fails, expect.CheckCorrelator(sc.exp, byRole)...)
		})
	}
}

// report fails the test on unexpected failures and on known failures that no longer happen.
func report(t *testing.T, exp *expect.Expected, fails []string) {
	t.Helper()
	unexpected, known, stale := expect.Triage(fails, exp.KnownFailures)
	for _, f := range known {
		t.Logf("KNOWN FAILURE: %s", f)
	}
	for _, f := range unexpected {
		t.Error(f)
	}
	for _, k := range stale {
		t.Errorf("known failure %q no longer happens: remove it from %s/expected.json", k.Match, exp.Scenario)
	}
}

type scenario struct {
	name string
	dir  string
	exp  *expect.Expected
}

func loadScenarios(t *testing.T) []scenario {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("scenarios", "*"))
	if err != nil {
		t.Fatalf("glob scenarios: %v", err)
	}
	var out []scenario
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		path := filepath.Join(d, "expected.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		exp, err := expect.Parse(path, data)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if exp.Scenario != filepath.Base(d) {
			t.Fatalf("%s: scenario %q does not match its folder", path, exp.Scenario)
		}
		out = append(out, scenario{name: exp.Scenario, dir: d, exp: exp})
	}
	if len(out) < 8 {
		t.Fatalf("found %d scenarios under scenarios/, want at least 8", len(out))
	}
	return out
}

// packQuery is one scheduled query with the name osquery gives its result lines.
type packQuery struct {
	name string // pack_<pack>_<query> (default --pack_delimiter "_")
	sql  string
}

func loadPackQueries(t *testing.T, dir string, files ...string) []packQuery {
	t.Helper()
	var out []packQuery
	for _, f := range files {
		path := filepath.Join(dir, f)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read pack %s: %v", path, err)
		}
		var pack struct {
			Queries map[string]struct {
				Query    string `json:"query"`
				Platform string `json:"platform"`
			} `json:"queries"`
		}
		if err := json.Unmarshal(data, &pack); err != nil {
			t.Fatalf("parse pack %s: %v", path, err)
		}
		packName := strings.TrimSuffix(f, filepath.Ext(f))
		for name, q := range pack.Queries {
			if q.Platform != "" && !strings.Contains(q.Platform, "windows") && !strings.Contains(q.Platform, "any") {
				continue
			}
			out = append(out, packQuery{name: "pack_" + packName + "_" + name, sql: q.Query})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// runPackQueries runs every pack query in the harness and returns the rows osqueryd would log,
// both as parsed rows and as result-log lines (event format, as osqueryd.results.log holds them).
func runPackQueries(ctx context.Context, t *testing.T, h *replay.Harness, queries []packQuery) ([]expect.ResultRow, []byte) {
	t.Helper()
	var rows []expect.ResultRow
	var buf bytes.Buffer
	now := h.Now()
	for _, q := range queries {
		got, err := h.Query(ctx, q.sql)
		if err != nil {
			t.Errorf("pack query %s does not run: %v", q.name, err)
			continue
		}
		for _, cols := range got {
			line := map[string]any{
				"name": q.name, "hostIdentifier": vmHostUUID,
				"calendarTime": time.Unix(now, 0).UTC().Format("Mon Jan  2 15:04:05 2006 UTC"),
				"unixTime":     now, "epoch": 0, "counter": 1, "numerics": false,
				"decorations": map[string]string{"host_uuid": vmHostUUID, "hostname": vmHostname},
				"columns":     cols, "action": "added",
			}
			b, err := json.Marshal(line)
			if err != nil {
				t.Fatalf("marshal result line: %v", err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
			rows = append(rows, expect.ResultRow{Name: q.name, HostIdentifier: vmHostUUID, UnixTime: now, Action: "added", Columns: cols})
		}
	}
	return rows, buf.Bytes()
}

// buildCorrelator builds the correlator command once for the test run.
func buildCorrelator(t *testing.T) (string, error) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go not on PATH: %w", err)
	}
	bin := filepath.Join(t.TempDir(), "correlator")
	cmd := exec.Command(goBin, "build", "-o", bin, "./correlator")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./correlator: %w: %s", err, out)
	}
	return bin, nil
}

// scoreAs runs `correlator score --all` over log with a roles file giving the VM role.
func scoreAs(ctx context.Context, bin, log, role string) ([]expect.Alert, error) {
	roles := filepath.Join(filepath.Dir(log), "roles-"+role+".csv")
	if err := os.WriteFile(roles, []byte("host,role\n"+vmHostname+","+role+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", roles, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "score", "--all", "--quiet", "--roles", roles, log)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s score: %w: %s", bin, err, stderr.String())
	}
	alerts, err := expect.ParseAlerts("correlator output", &stdout)
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		if !strings.EqualFold(a.Role, role) && a.Role != "" {
			return nil, fmt.Errorf("alert %s scored as role %q, want %q", a.LineageID, a.Role, role)
		}
	}
	return slices.Clip(alerts), nil
}
