package tables_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/tables"
)

// faultyQuerier answers like osquery, except that queries on one table fail or panic.
type faultyQuerier struct {
	q     tables.Querier
	table string
	panic bool
	mu    sync.Mutex
	hits  int
}

func (f *faultyQuerier) QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error) {
	f.mu.Lock()
	table := f.table
	hit := strings.Contains(sql, "FROM "+table)
	if hit {
		f.hits++
	}
	f.mu.Unlock()
	if hit {
		if f.panic {
			panic("unexpected row shape from " + table) // as a parser bug on odd telemetry would
		}
		return nil, errors.New("query returned error: database disk image is malformed")
	}
	return f.q.QueryRowsContext(ctx, sql)
}

// syncBuffer collects log output written from the extension's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// faultyHarness runs the real tables over Thrift with a querier that fails on one table.
func faultyHarness(t *testing.T, f *faultyQuerier, fixture string) (*replay.Harness, *syncBuffer) {
	t.Helper()
	fx, err := replay.LoadFixtures(fixture)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn})
	h, err := replay.Start(context.Background(), replay.Options{Fixtures: fx, Logger: logger,
		Plugins: func(logger hclog.Logger, q tables.Querier, opts tables.Options) []osquery.OsqueryPlugin {
			f.q = q
			return tables.All(logger, f, opts)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, logs
}

// TestFailingSourceDegrades: socket_events fails; compile_lineage still returns every row,
// says which source is missing, and logs a warning; compile_telemetry marks it failed.
func TestFailingSourceDegrades(t *testing.T) {
	fixture := filepath.Join("..", "extension", "examples", "web_server_audit.json")
	f := &faultyQuerier{table: "socket_events"}
	h, logs := faultyHarness(t, f, fixture)
	rows, err := h.Query(context.Background(), "SELECT compiler_name, stage, connections, telemetry_gaps FROM compile_lineage ORDER BY time, compiler_pid")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows = %v, want the 3 compiles of the fixture", rows)
	}
	for _, r := range rows {
		if r["telemetry_gaps"] != "source_failed:socket_events" || r["connections"] != "0" || r["stage"] == "network" {
			t.Errorf("row %v: want gap source_failed:socket_events and no network", r)
		}
	}
	if rows[0]["compiler_name"] != "x86_64-linux-gnu-gcc-12" || rows[0]["stage"] != "executed" {
		t.Errorf("first row %v: want the webshell's gcc, executed (its network is what failed)", rows[0])
	}
	f.mu.Lock()
	hits := f.hits
	f.mu.Unlock()
	if hits == 0 || !strings.Contains(logs.String(), "source failed; rows are built without it") ||
		!strings.Contains(logs.String(), "source=socket_events") {
		t.Errorf("hits %d, logs %q: want a warning naming socket_events", hits, logs.String())
	}
	tel, err := h.Query(context.Background(), "SELECT source_table, status FROM compile_telemetry WHERE signal = 'network' AND source_table = 'socket_events'")
	if err != nil {
		t.Fatal(err)
	}
	if len(tel) != 1 || tel[0]["source_table"] != "socket_events" || tel[0]["status"] != "failed" {
		t.Fatalf("telemetry = %v, want socket_events failed", tel)
	}
}

// TestPanicBecomesAnError: a panic while generating is an error for that query, and the
// extension keeps serving.
func TestPanicBecomesAnError(t *testing.T) {
	fixture := filepath.Join("..", "extension", "examples", "web_server_audit.json")
	f := &faultyQuerier{table: "system_info", panic: true}
	h, logs := faultyHarness(t, f, fixture)
	for range 2 {
		_, err := h.Query(context.Background(), "SELECT * FROM compile_lineage")
		if err == nil || !strings.Contains(err.Error(), "compile_lineage: internal error (recovered panic): unexpected row shape from system_info") {
			t.Fatalf("err = %v", err)
		}
	}
	if !strings.Contains(logs.String(), "recovered from a panic") {
		t.Errorf("logs %q lack the panic", logs.String())
	}
	f.mu.Lock()
	f.table = "no_such_table_queried"
	f.mu.Unlock()
	rows, err := h.Query(context.Background(), "SELECT compiler_name FROM compile_lineage")
	if err != nil || len(rows) != 3 {
		t.Fatalf("after the panics: rows %v, err %v", rows, err)
	}
}
