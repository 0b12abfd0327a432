package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"
	osquerygen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/compilelineage/compile-lineage/extension/serve"
	"github.com/compilelineage/compile-lineage/tables"
)

const linuxFixture = `{
  "process_events": [
    {"pid": "100", "parent": "1", "path": "/usr/bin/bash", "cmdline": "bash", "time": "1700000000", "syscall": "execve"},
    {"pid": "101", "parent": "100", "path": "/usr/bin/gcc", "cmdline": "gcc -o /tmp/x /tmp/x.c", "time": "1700000010"},
    {"pid": 102, "parent": 101, "path": "/tmp/x", "cmdline": "/tmp/x", "time": 1700000020}
  ],
  "processes": [
    {"pid": "100", "name": "bash", "path": "/usr/bin/bash"}
  ],
  "socket_events": []
}`

// recorder keeps what the test tables saw.
type recorder struct {
	mu       sync.Mutex
	contexts []table.QueryContext
	raw      []string // context JSON as sent by the core
	now      time.Time
}

// rawContext records the context JSON of every generate call before the table plugin parses it.
type rawContext struct {
	osquery.OsqueryPlugin
	rec *recorder
}

func (p rawContext) Call(ctx context.Context, req osquerygen.ExtensionPluginRequest) osquerygen.ExtensionResponse {
	if req["action"] == "generate" {
		p.rec.mu.Lock()
		p.rec.raw = append(p.rec.raw, req["context"])
		p.rec.mu.Unlock()
	}
	return p.OsqueryPlugin.Call(ctx, req)
}

// testPlugins builds test-only tables: test_exec runs a query back into the core through the querier and
// returns process_events rows newer than its time constraint; test_fail always fails.
func testPlugins(rec *recorder) func(hclog.Logger, tables.Querier, tables.Options) []osquery.OsqueryPlugin {
	return func(_ hclog.Logger, q tables.Querier, opts tables.Options) []osquery.OsqueryPlugin {
		rec.now = opts.Now()
		exec := table.NewPlugin("test_exec", []table.ColumnDefinition{
			table.BigIntColumn("time", table.AdditionalColumn()),
			table.BigIntColumn("pid"),
			table.TextColumn("path", table.IndexColumn()),
			table.TextColumn("secret", table.HiddenColumn()),
		}, func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
			rec.mu.Lock()
			rec.contexts = append(rec.contexts, qc)
			rec.mu.Unlock()
			since := "0"
			if cl, ok := qc.Constraints["time"]; ok {
				for _, c := range cl.Constraints {
					if c.Operator == table.OperatorGreaterThanOrEquals || c.Operator == table.OperatorGreaterThan {
						since = c.Expression
					}
				}
			}
			rows, err := q.QueryRowsContext(ctx, "SELECT time, pid, path FROM process_events WHERE time >= "+since)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				r["secret"] = "s" + r["pid"]
			}
			return rows, nil
		})
		fail := table.NewPlugin("test_fail", []table.ColumnDefinition{table.TextColumn("x")},
			func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
				return nil, errors.New("boom")
			})
		req := table.NewPlugin("test_required", []table.ColumnDefinition{
			table.TextColumn("id", table.RequiredColumn()), table.TextColumn("v"),
		}, func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
			var out []map[string]string
			for _, c := range qc.Constraints["id"].Constraints {
				out = append(out, map[string]string{"id": c.Expression, "v": "seen"})
			}
			return out, nil
		})
		return []osquery.OsqueryPlugin{rawContext{exec, rec}, fail, req}
	}
}

func startHarness(t testing.TB, fixture string, rec *recorder) *Harness {
	t.Helper()
	return startWith(t, fixture, testPlugins(rec))
}

// startWith starts the harness over an inline fixture with plugins as the extension's tables.
func startWith(t testing.TB, fixture string, plugins serve.PluginsFunc) *Harness {
	t.Helper()
	fx, err := ParseFixture("inline.json", strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := Start(ctx, Options{Fixtures: fx, Plugins: plugins})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return h
}

func TestHarnessEndToEnd(t *testing.T) {
	rec := &recorder{}
	h := startHarness(t, linuxFixture, rec)
	ctx := context.Background()
	if h.Platform() != "linux" || h.Now() != 1700000020 || rec.now.Unix() != 1700000020 {
		t.Fatalf("platform %s now %d tables.Now %v", h.Platform(), h.Now(), rec.now)
	}

	// Join an extension table with a fixture table; the time constraint reaches the extension. CROSS JOIN keeps
	// the extension table in the outer loop (as the inner table it would be generated once per outer row).
	h.ResetStats()
	rows, err := h.Query(ctx, `SELECT e.pid, e.path, e.secret, p.cmdline FROM test_exec e
		CROSS JOIN process_events p ON p.pid = e.pid WHERE e.time >= 1700000010 ORDER BY e.pid`)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"pid": "101", "path": "/usr/bin/gcc", "secret": "s101", "cmdline": "gcc -o /tmp/x /tmp/x.c"},
		{"pid": "102", "path": "/tmp/x", "secret": "s102", "cmdline": "/tmp/x"},
	}
	assertRows(t, rows, want)
	st := h.Stats()
	if st.Queries != 1 || st.RowsServed != 2 {
		t.Fatalf("stats = %+v, want 1 query, 2 rows served", st)
	}

	rec.mu.Lock()
	qc := rec.contexts[len(rec.contexts)-1]
	rec.mu.Unlock()
	cl, ok := qc.Constraints["time"]
	if !ok || cl.Affinity != table.ColumnTypeBigInt || len(cl.Constraints) != 1 ||
		cl.Constraints[0].Operator != table.OperatorGreaterThanOrEquals || cl.Constraints[0].Expression != "1700000010" {
		t.Fatalf("time constraint = %+v", cl)
	}

	// Only required/index/additional columns get constraints, as in osquery's xBestIndex; range comparisons
	// on TEXT columns never do. With --extensions_default_index (osquery's default) the default-option pid
	// column is an index column, so its constraint reaches the extension too. The raw context JSON lists
	// every column sorted by name.
	if _, err := h.Query(ctx, `SELECT pid FROM test_exec WHERE time > 1700000015 AND path LIKE '/tmp/%'
		AND path > 'a' AND pid = 102`); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	raw := rec.raw[len(rec.raw)-1]
	rec.mu.Unlock()
	wantRaw := `{"constraints":[{"name":"path","list":[{"op":65,"expr":"/tmp/%"}],"affinity":"TEXT"},` +
		`{"name":"pid","list":[{"op":2,"expr":"102"}],"affinity":"BIGINT"},{"name":"secret","list":[],"affinity":"TEXT"},` +
		`{"name":"time","list":[{"op":4,"expr":"1700000015"}],"affinity":"BIGINT"}],` +
		`"colsUsed":["time","pid","path"],"colsUsedBitset":7}`
	if raw != wantRaw {
		t.Fatalf("context\n got %s\nwant %s", raw, wantRaw)
	}

	// A required column must be constrained.
	if _, err := h.Query(ctx, "SELECT * FROM test_required"); err == nil ||
		!strings.Contains(err.Error(), "test_required was queried without a required column") {
		t.Fatalf("err = %v", err)
	}
	rows, err = h.Query(ctx, "SELECT id, v FROM test_required WHERE id IN ('a', 'b') ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, rows, []map[string]string{{"id": "a", "v": "seen"}, {"id": "b", "v": "seen"}})

	// SELECT * leaves the hidden column out.
	cols, _, err := h.QueryOrdered(ctx, "SELECT * FROM test_exec")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cols, ",") != "time,pid,path" {
		t.Fatalf("SELECT * columns = %v", cols)
	}

	// Errors of generate come back as SQL errors naming the table.
	if _, err := h.Query(ctx, "SELECT * FROM test_fail"); err == nil || !strings.Contains(err.Error(), "test_fail: error generating table: boom") {
		t.Fatalf("err = %v", err)
	}
	// Columns and tables osquery does not have fail.
	if _, err := h.Query(ctx, "SELECT nosuch FROM process_events"); err == nil || !strings.Contains(err.Error(), "no such column: nosuch") {
		t.Fatalf("err = %v", err)
	}
	if _, err := h.Query(ctx, "SELECT * FROM windows_events"); err == nil || !strings.Contains(err.Error(), "no such table: windows_events") {
		t.Fatalf("err = %v", err)
	}
	// Tables with required columns need them constrained.
	if _, err := h.Query(ctx, "SELECT sha256 FROM hash"); err == nil ||
		!strings.Contains(err.Error(), "hash was queried without a required column") {
		t.Fatalf("err = %v", err)
	}
	if rows, err := h.Query(ctx, "SELECT sha256 FROM hash WHERE path = '/tmp/x'"); err != nil || len(rows) != 0 {
		t.Fatalf("hash with path: %v %v", rows, err)
	}
	// Darwin-only columns do not exist on Linux.
	if _, err := h.Query(ctx, "SELECT status FROM process_events"); err == nil {
		t.Fatal("process_events.status exists on linux")
	}
}

func TestHarnessOsqueryTables(t *testing.T) {
	h := startHarness(t, linuxFixture, &recorder{})
	ctx := context.Background()
	tests := []struct {
		sql  string
		want []map[string]string
	}{
		{"SELECT name, internal, active FROM osquery_registry WHERE registry = 'table' AND internal = 0 ORDER BY name",
			[]map[string]string{{"name": "test_exec", "internal": "0", "active": "1"}, {"name": "test_fail", "internal": "0", "active": "1"},
				{"name": "test_required", "internal": "0", "active": "1"}}},
		{"SELECT name, type FROM osquery_extensions ORDER BY uuid",
			[]map[string]string{{"name": "core", "type": "core"}, {"name": "compile_lineage", "type": "extension"}}},
		{"SELECT version, build_platform, extensions FROM osquery_info",
			[]map[string]string{{"version": "5.23.1", "build_platform": "linux", "extensions": "active"}}},
		{"SELECT name, publisher, type, events, active FROM osquery_events WHERE name IN ('process_events', 'socket_events', 'file_events', 'auditeventpublisher') ORDER BY name",
			[]map[string]string{
				{"name": "auditeventpublisher", "publisher": "auditeventpublisher", "type": "publisher", "events": "3", "active": "1"},
				{"name": "file_events", "publisher": "inotify", "type": "subscriber", "events": "0", "active": "0"},
				{"name": "process_events", "publisher": "auditeventpublisher", "type": "subscriber", "events": "3", "active": "1"},
				{"name": "socket_events", "publisher": "auditeventpublisher", "type": "subscriber", "events": "0", "active": "1"},
			}},
		{"SELECT value FROM osquery_flags WHERE name = 'disable_audit'", []map[string]string{{"value": "true"}}},
		{"SELECT eid, pid FROM process_events WHERE pid = 102", []map[string]string{{"eid": "0000000003", "pid": "102"}}},
	}
	for _, tt := range tests {
		rows, err := h.Query(ctx, tt.sql)
		if err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		assertRows(t, rows, tt.want)
	}
}

// The extension's generate queries the core while the outer query is still stepping: run many of those
// concurrently to prove nothing waits on anything else.
func TestHarnessNestedQueriesDoNotDeadlock(t *testing.T) {
	h := startHarness(t, linuxFixture, &recorder{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, err := h.Query(ctx, `SELECT a.pid FROM test_exec a JOIN test_exec b ON a.pid = b.pid
				JOIN process_events p ON p.pid = a.pid`)
			if err == nil && len(rows) != 3 {
				err = fmt.Errorf("%d rows, want 3", len(rows))
			}
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestHarnessRejectsTablesOfAnotherPlatform(t *testing.T) {
	fx, err := ParseFixture("mixed.json", strings.NewReader(`{"process_events":[{"pid":"1"}],"process_etw_events":[{"pid":"2"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), Options{Fixtures: fx})
	if err == nil || err.Error() != "mixed.json: table process_events row 0: table process_events does not exist on windows (platform chosen from the fixture tables)" {
		t.Fatalf("err = %v", err)
	}
}

func assertRows(t *testing.T, got, want []map[string]string) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("rows\n got %s\nwant %s", g, w)
	}
}

// serve.Run returns when osquery goes away: stop the fake core under a running extension.
func TestExtensionStopsWhenCoreGoesAway(t *testing.T) {
	h := startHarness(t, linuxFixture, &recorder{})
	go func() { _ = h.server.Stop() }()
	select {
	case err := <-h.extDone:
		if err == nil || !strings.Contains(err.Error(), "extension stopped") {
			t.Fatalf("serve.Run returned %v", err)
		}
		h.extDone <- nil // Close reads it again
	case <-time.After(10 * time.Second):
		t.Fatal("serve.Run still running 10s after the core stopped")
	}
}

// The fake core answers the other calls of osquery's extension manager API the way osquery does.
func TestCoreThriftAPI(t *testing.T) {
	h := startHarness(t, linuxFixture, &recorder{})
	c, err := osquery.NewClient(h.sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := c.PingContext(ctx)
	if err != nil || st.Code != 0 {
		t.Fatalf("ping: %v %+v", err, st)
	}
	exts, err := c.ExtensionsContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(exts) != 2 || exts[0].Name != "core" || exts[1].Name != "compile_lineage" || exts[1].Version != "replay" {
		t.Fatalf("extensions = %v", exts)
	}
	opts, err := c.OptionsContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o := opts["events_expiry"]; o == nil || o.Value != "3600" {
		t.Fatalf("events_expiry option = %+v", o)
	}
	resp, err := c.GetQueryColumnsContext(ctx, "SELECT pid, path FROM process_events")
	if err != nil || resp.Status.Code != 0 {
		t.Fatalf("columns: %v %+v", err, resp)
	}
	assertRows(t, resp.Response, []map[string]string{{"pid": "BIGINT"}, {"path": "TEXT"}})
	resp, err = c.QueryContext(ctx, "SELECT nope FROM processes")
	if err != nil || resp.Status.Code != 1 || !strings.Contains(resp.Status.Message, "no such column: nope") {
		t.Fatalf("query error: %v %+v", err, resp.Status)
	}
	st, err = c.RegisterExtensionContext(ctx, &osquerygen.InternalExtensionInfo{Name: "compile_lineage"}, osquerygen.ExtensionRegistry{})
	if err != nil || st.Code != 1 || st.Message != "Duplicate extension registered" {
		t.Fatalf("duplicate registration: %v %+v", err, st)
	}
}

// TestEventTimeConstraints checks that time constraints on event tables, which the harness
// answers from rows sorted by time as osquery's event store does, return exactly the rows
// in range.
func TestEventTimeConstraints(t *testing.T) {
	fx, err := ParseFixture("events.json", strings.NewReader(`{"socket_events": [
		{"action": "connect", "pid": "5", "time": "50"}, {"action": "connect", "pid": "1", "time": "10"},
		{"action": "connect", "pid": "3", "time": "30"}, {"action": "connect", "pid": "2", "time": "20"},
		{"action": "connect", "pid": "4", "time": "40"}, {"action": "connect", "pid": "6"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Start(context.Background(), Options{Fixtures: fx, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for where, want := range map[string]string{
		"time > 20":                  "3,4,5",
		"time >= 20 AND time < 40":   "2,3",
		"time = 30":                  "3",
		"time <= 10":                 "1",
		"time > 50":                  "",
		"time > 20 AND time > 35":    "4,5",
		"time >= '30'":               "3,4,5",
		"time BETWEEN 15 AND 45":     "2,3,4",
		"time IS NULL OR time >= 50": "5,6",
	} {
		rows, err := h.Query(context.Background(), "SELECT pid FROM socket_events WHERE "+where+" ORDER BY pid")
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r["pid"])
		}
		if strings.Join(got, ",") != want {
			t.Errorf("WHERE %s: pids %v, want %s", where, got, want)
		}
	}
}
