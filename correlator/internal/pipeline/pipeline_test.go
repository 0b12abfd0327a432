package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/roles"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
)

// recorder is a sink that records alerts and can cancel the run after a
// number of deliveries (a stop in the middle of the stream).
type recorder struct {
	mu       sync.Mutex
	ids      []string
	cancelAt int
	cancel   context.CancelFunc
}

func (r *recorder) Send(_ context.Context, a *alert.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, deliveredID(a))
	if r.cancel != nil && len(r.ids) >= r.cancelAt {
		r.cancel()
	}
	return nil
}

// synthetic builds a result log: n lineages, each reported at the compile,
// written and network stages, interleaved with other queries' rows and
// malformed lines.
func synthetic(n int) []string {
	var lines []string
	for stage, name := range []string{"compile", "written", "network"} {
		for i := range n {
			host := fmt.Sprintf("ws-%03d", i%17)
			parent := []string{"mshta.exe", "wscript.exe", "winword.exe"}[i%3]
			lines = append(lines, fmt.Sprintf(`{"name":"pack/Global/compile_lineage","hostIdentifier":"%s","unixTime":%d,"counter":%d,"decorations":{"host_uuid":"u-%s","hostname":"%s"},"columns":{"lineage_id":"L%04d","compiler_name":"csc.exe","parent_name":"%s","parent_class":"script_host","stage":"%s","executions":"%d","connection_origin":"%s","reasons":"temp_output"},"action":"added"}`,
				host, 1764000000+stage*60+i, stage+1, host, host, i, parent, name, min(stage, 1), map[bool]string{true: "artifact"}[stage == 2]))
			if i%10 == 0 {
				lines = append(lines, fmt.Sprintf(`{"name":"pack/Global/osquery_info","hostIdentifier":"%s","columns":{"version":"5.14.1"},"action":"added"}`, host))
			}
			if i%50 == 0 {
				lines = append(lines, `{"name":"broken","columns":{"lineage_id":`)
			}
		}
	}
	return lines
}

func newEngine(t *testing.T) *engine.Engine {
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
	if err := res.LoadCSV("roles.csv", strings.NewReader("host,role\nws-001,developer_workstation\nws-002,domain_controller\n")); err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{Policy: p, Roles: res, State: engine.NewState(true), Now: func() time.Time { return time.Unix(1764000000, 0) }}
	e.KeepBelow = true
	return e
}

// deliveredID names a delivered alert: lineage alerts by lineage, stage
// and alert id, host risk alerts by alert id.
func deliveredID(a *alert.Alert) string {
	return a.Kind + "/" + a.LineageID + "/" + a.Stage + "/" + a.AlertID
}

// expected runs the whole input through one engine without stops.
func expected(t *testing.T, lines []string) []string {
	t.Helper()
	e := newEngine(t)
	var ids []string
	rd := engine.NewReader(e, nil, func(a *alert.Alert) error {
		if a.Raised() {
			ids = append(ids, deliveredID(a))
		}
		return nil
	})
	if err := rd.ReadAll("all", strings.NewReader(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	return ids
}

func appendLines(t *testing.T, path string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// runOnce starts a pipeline on the state file and follows path until the
// recorder cancels it or, with once, until the end of the data.
func runOnce(t *testing.T, dbPath, path string, rec *recorder, cancelAfter int, once bool) {
	t.Helper()
	db, err := state.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := newEngine(t)
	if err := db.LoadInto(e.State); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec.mu.Lock()
	rec.cancel, rec.cancelAt = nil, 0
	if cancelAfter > 0 {
		rec.cancel, rec.cancelAt = cancel, len(rec.ids)+cancelAfter
	}
	rec.mu.Unlock()
	p := New(e, db, rec, &resultlog.DeadLetterMemory{}, 0, nil)
	p.CheckpointEvery = 7
	if err := p.Deliver(); err != nil {
		t.Fatal(err)
	}
	if err := p.Follow(ctx, path, 5*time.Millisecond, once); err != nil {
		t.Fatal(err)
	}
}

func TestStopRestartLosesNoAlertAndDuplicatesNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "osqueryd.results.log")
	dbPath := filepath.Join(dir, "state.db")
	lines := synthetic(120)
	want := expected(t, lines)
	if len(want) < 200 {
		t.Fatalf("synthetic input gives only %d alerts", len(want))
	}

	half := len(lines) / 2
	appendLines(t, path, lines[:half])
	rec := &recorder{}
	stops := 0
	// Stop every 23 alerts while the first half is read.
	for {
		before := len(rec.ids)
		runOnce(t, dbPath, path, rec, 23, true)
		stops++
		if len(rec.ids)-before < 23 {
			break // reached the end of the data before the next stop
		}
	}
	// osquery rotates the log while the correlator is stopped; the rest of
	// the data goes to the new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, lines[half:half+100])
	runOnce(t, dbPath, path, rec, 5, true)
	stops++
	appendLines(t, path, lines[half+100:])
	for {
		before := len(rec.ids)
		runOnce(t, dbPath, path, rec, 31, true)
		stops++
		if len(rec.ids)-before < 31 {
			break
		}
	}
	if stops < 5 {
		t.Fatalf("only %d stops; the test did not interrupt the stream", stops)
	}
	got := slices.Clone(rec.ids)
	t.Logf("%d alerts delivered over %d stops and one rotation", len(got), stops)
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("alert %s delivered twice", id)
		}
		seen[id] = true
	}
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("delivered %d alerts over %d stops, want %d; missing %v", len(got), stops, len(w), missing(w, got))
	}
}

func missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

func TestFollowPicksUpAppendsAndRotationWhileRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "osqueryd.results.log")
	db, err := state.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lines := synthetic(30)
	want := expected(t, lines)
	appendLines(t, path, lines[:20])
	rec := &recorder{}
	p := New(newEngine(t), db, rec, &resultlog.DeadLetterMemory{}, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Follow(ctx, path, 2*time.Millisecond, false) }()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			rec.mu.Lock()
			got := len(rec.ids)
			rec.mu.Unlock()
			if got >= n {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %d alerts", n)
	}
	waitFor(1)
	appendLines(t, path, lines[20:50])
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, lines[50:])
	waitFor(len(want))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := slices.Clone(rec.ids)
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("delivered %v, want %v", got, w)
	}
}

// packRow is one compile_lineage result line as a pack query logs it: the
// query's name and only the columns that query selects (the shipped pack's
// queries select different columns of the same lineage).
func packRow(query, stage, reasons string, cols ...string) string {
	all := map[string]string{
		"lineage_id": "L-same", "time": "1764000000", "compiler_name": "csc.exe", "compiler_path": `C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe`,
		"parent_name": "winword.exe", "parent_class": "office", "output_path": `C:\\Users\\a\\AppData\\Local\\Temp\\x.dll`,
		"ancestry": "explorer.exe > winword.exe > csc.exe", "executions": map[bool]string{true: "1", false: "0"}[stage != "compile" && stage != "written"],
		"connections": map[bool]string{true: "1", false: "0"}[stage == "network"], "connection_origin": map[bool]string{true: "artifact", false: ""}[stage == "network"],
		"stage": stage, "reasons": reasons,
	}
	var b strings.Builder
	for i, c := range append([]string{"lineage_id", "time", "compiler_name", "stage", "reasons"}, cols...) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", c, all[c])
	}
	return fmt.Sprintf(`{"name":"pack_compile_after_delivery_%s","hostIdentifier":"ws-100","unixTime":1764000000,"decorations":{"host_uuid":"u-ws-100","hostname":"ws-100"},"columns":{%s},"action":"added"}`, query, strings.ReplaceAll(b.String(), `\\\\`, `\\`))
}

// TestOneAlertPerEscalationWhateverTheQuery logs one lineage through three
// pack queries with different columns: the pipeline (the `run` path)
// delivers one alert per stage or band, not one per query.
func TestOneAlertPerEscalationWhateverTheQuery(t *testing.T) {
	t.Parallel()
	executed := []string{"parent_name", "parent_class", "output_path", "executions"}
	network := []string{"parent_name", "parent_class", "output_path", "executions", "connections", "connection_origin"}
	baseline := []string{"compiler_path", "parent_name", "parent_class", "ancestry", "output_path"}
	three := func(stage, reasons string) []string {
		return []string{
			packRow("compile_artifact_executed", stage, reasons, executed...),
			packRow("compile_artifact_network", stage, reasons, network...),
			packRow("compile_baseline", stage, reasons, baseline...),
		}
	}
	cases := []struct {
		name      string
		lines     []string
		want      []string // delivered stages, in order
		notRaised int64    // rows re-scored (other columns) but not raised
	}{
		{"three queries, same columns that matter", three("written", "parent_office;temp_output"), []string{"written"}, 0},
		{"three queries, different columns", three("network", "parent_office;temp_output"), []string{"network"}, 2},
		{"then a stage escalation", append(three("written", "parent_office;temp_output"), three("network", "parent_office;temp_output")...),
			[]string{"written", "network"}, 2},
		{"then a band escalation", append(three("compile", ""), three("compile", "parent_office;temp_output")...),
			[]string{"compile", "compile"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rec := &recorder{}
			e := newEngine(t)
			p := New(e, db, rec, &resultlog.DeadLetterMemory{}, 0, nil)
			for i, l := range tc.lines { // one post per line, as osqueryd's logger writes them over time
				if err := p.Lines("tls", [][]byte{[]byte(l)}); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
			}
			var got []string
			for _, id := range rec.ids {
				f := strings.Split(id, "/")
				if f[0] != alert.KindLineage || f[1] != "L-same" {
					t.Errorf("delivered %s, want only lineage L-same", id)
					continue
				}
				got = append(got, f[2])
			}
			if !slices.Equal(got, tc.want) || len(slices.Compact(slices.Clone(rec.ids))) != len(rec.ids) {
				t.Errorf("delivered %v, want one alert per escalation: %v", rec.ids, tc.want)
			}
			st := e.Stats
			if st.NotRaised != tc.notRaised || st.Alerts != 1 || st.Realerts != int64(len(tc.want)-1) || st.Unchanged+st.NotRaised+st.Alerts+st.Realerts != int64(len(tc.lines)) {
				t.Errorf("stats %+v, want %d not raised, 1 alert, %d re-alerts", st, tc.notRaised, len(tc.want)-1)
			}
		})
	}
}
