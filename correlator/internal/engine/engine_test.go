package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/exceptions"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/roles"
)

func newEngine(t *testing.T, rolesCSV string, exc *exceptions.Set) *Engine {
	t.Helper()
	p, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	var known []string
	for r := range p.Roles {
		known = append(known, r)
	}
	res := roles.New(known, p.DefaultRole, p.MostImportant)
	if err := res.LoadCSV("roles.csv", strings.NewReader(rolesCSV)); err != nil {
		t.Fatal(err)
	}
	return &Engine{Policy: p, Roles: res, Exceptions: exc, State: NewState(false), Now: func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) }}
}

func feed(t *testing.T, e *Engine, path string) []*alert.Alert {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*alert.Alert
	rd := NewReader(e, nil, func(a *alert.Alert) error { out = append(out, a); return nil })
	if err := rd.ReadAll(path, f); err != nil {
		t.Fatal(err)
	}
	return out
}

const chainFile = "../../testdata/good_mshta_csc_network.jsonl"

func TestDedupAlertsOnlyWhenStageOrBandRises(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "host,role\nws-0042,user_endpoint\n", nil)
	got := feed(t, e, chainFile)
	var stages []string
	var realert []bool
	for _, a := range got {
		stages = append(stages, a.Stage)
		realert = append(realert, a.Realert)
		if a.LineageID != "6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81" {
			t.Errorf("unexpected lineage %s", a.LineageID)
		}
	}
	if want := []string{"compile", "written", "network"}; !slices.Equal(stages, want) {
		t.Errorf("alert stages = %v, want %v", stages, want)
	}
	if want := []bool{false, true, true}; !slices.Equal(realert, want) {
		t.Errorf("realert flags = %v, want %v", realert, want)
	}
	if e.Stats.RemovedRows != 2 || e.Stats.Alerts != 1 || e.Stats.Realerts != 2 {
		t.Errorf("stats = %+v", e.Stats)
	}
	// The same rows again (a differential re-emission, or a re-read) alert nothing.
	if again := feed(t, e, chainFile); len(again) != 0 {
		t.Errorf("re-read produced %d alerts", len(again))
	}
	if e.Stats.Unchanged != 1 || e.Stats.Stale != 2 {
		t.Errorf("unchanged rows = %d, stale rows = %d, want 1 and 2", e.Stats.Unchanged, e.Stats.Stale)
	}
}

func TestLowerStageDoesNotRealert(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "host,role\n", nil)
	line := func(stage, reasons string) []byte {
		return []byte(`{"name":"q","hostIdentifier":"h1","columns":{"lineage_id":"L","compiler_name":"csc.exe","parent_name":"mshta.exe","parent_class":"script_host","stage":"` + stage + `","reasons":"` + reasons + `","executions":"1","connection_origin":"artifact"},"action":"added"}`)
	}
	var n int
	p := resultlog.NewParser()
	for _, l := range [][]byte{line("network", ""), line("executed", ""), line("executed", "temp_output")} {
		if _, err := p.Parse(l, func(r *resultlog.Row) error {
			out, err := e.Process(r, "t")
			if out.Emit {
				n++
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 || e.Stats.Stale != 2 {
		t.Errorf("emitted %d alerts, stale %d; want 1 and 2", n, e.Stats.Stale)
	}
	// A new reason at the same stage re-scores but, with no higher stage or
	// band, does not re-alert.
	p2 := resultlog.NewParser()
	if _, err := p2.Parse(line("network", "temp_output"), func(r *resultlog.Row) error {
		out, err := e.Process(r, "t")
		if out.Emit {
			t.Errorf("re-alerted at the same stage and band: %+v", out.Alert)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if e.Stats.NotRaised != 1 {
		t.Errorf("not raised = %d, want 1", e.Stats.NotRaised)
	}
}

func TestExceptionsSuppressAndExpire(t *testing.T) {
	t.Parallel()
	set, err := exceptions.Parse("exc.yaml", strings.NewReader(`exceptions:
  - id: live
    owner: a@example.com
    reason: known HTA tool on WS-0042
    expires: 2027-01-01
    scope: {hosts: [ws-0042], parents: [mshta.exe]}
  - id: gone
    owner: b@example.com
    reason: old build agent
    expires: 2026-01-01
    scope: {roles: [domain_controller]}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, "host,role\nws-0042,user_endpoint\ndc-01,domain_controller\n", set)
	e.KeepBelow = true
	got := feed(t, e, chainFile)
	got = append(got, feed(t, e, "../../testdata/good_batch_diffresults.jsonl")...)
	var live, expired int
	for _, a := range got {
		switch {
		case a.Exception != nil && a.Exception.ID == "live":
			live++
			if !a.Suppressed || !a.Exception.Applied || a.Exception.Status != "applied" || a.Exception.Source != "exc.yaml:2" {
				t.Errorf("live exception note = %+v suppressed %v", a.Exception, a.Suppressed)
			}
		case a.Exception != nil && a.Exception.ID == "gone":
			expired++
			if a.Suppressed || a.Exception.Applied || a.Exception.Status != "expired" {
				t.Errorf("expired exception applied: %+v", a.Exception)
			}
		default:
			t.Errorf("alert without exception note: %s on %s", a.LineageID, a.Host)
		}
	}
	if live != 3 || expired != 1 || e.Stats.Suppressed != 3 || e.Stats.ExpiredMatched != 1 || e.Stats.Alerts != 1 {
		t.Errorf("live %d expired %d stats %+v; want 3 suppressed, 1 expired match, 1 alert (the DC)", live, expired, e.Stats)
	}
}

func TestRetentionPrunesOldLineages(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "host,role\n", nil)
	e.State = NewState(true)
	e.Retention = time.Hour
	e.PruneEvery = 1
	p := resultlog.NewParser()
	row := func(id string, at int64) {
		line := []byte(`{"name":"q","hostIdentifier":"h1","unixTime":` + strconv.FormatInt(at, 10) + `,"columns":{"lineage_id":"` + id + `","compiler_name":"csc.exe","parent_name":"mshta.exe","parent_class":"script_host","stage":"compile"},"action":"added"}`)
		if _, err := p.Parse(line, func(r *resultlog.Row) error { _, err := e.Process(r, "t"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	row("old", 1764000000)
	row("new", 1764000000+1800)
	if n, _ := e.State.Len(); n != 2 {
		t.Fatalf("lineages = %d, want 2", n)
	}
	row("newer", 1764000000+3*3600)
	if _, ok := e.State.Lineage("old"); ok {
		t.Error("lineage older than the retention kept")
	}
	if _, ok := e.State.Lineage("newer"); !ok {
		t.Error("current lineage pruned")
	}
	ch := e.State.Drain()
	if !slices.Contains(ch.Deleted, "old") || e.Stats.Pruned != 2 {
		t.Errorf("deleted %v, pruned %d; want old and new pruned", ch.Deleted, e.Stats.Pruned)
	}
}

// TestReuseAlertEncodesTheSame runs the test logs through an engine that
// reuses its alert and reasons and one that does not, encoding every alert
// as it is returned (as batch score does): the documents are the same.
func TestReuseAlertEncodesTheSame(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../testdata/*.jsonl")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.Contains(f, ".golden.") })
	if err != nil || len(files) < 3 {
		t.Fatalf("test logs %v: %v", files, err)
	}
	run := func(reuse bool) []string {
		e := newEngine(t, "host,role\nws-0042,user_endpoint\n", nil)
		e.KeepBelow, e.ReuseAlert = true, reuse
		var docs []string
		rd := NewReader(e, nil, func(a *alert.Alert) error {
			b, err := alert.Marshal(a)
			docs = append(docs, string(b))
			return err
		})
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			err = rd.ReadAll(name, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		return docs
	}
	fresh, reused := run(false), run(true)
	if len(fresh) < 10 {
		t.Fatalf("only %d alerts from %v", len(fresh), files)
	}
	if !slices.Equal(fresh, reused) {
		for i := range min(len(fresh), len(reused)) {
			if fresh[i] != reused[i] {
				t.Fatalf("alert %d differs with ReuseAlert:\n%s\n%s", i, reused[i], fresh[i])
			}
		}
		t.Fatalf("%d alerts with ReuseAlert, %d without", len(reused), len(fresh))
	}
}
