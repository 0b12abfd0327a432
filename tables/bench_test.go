package tables_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/tables"
)

// syntheticLinux writes a host buffer as osquery would hold it: nProcs process_events of
// which share are compiler starts (each with its gcc helper chain), nFiles
// process_file_events and nSocks socket_events. A fifth of the compiled artifacts run and
// half of those connect out. The rest is background noise.
func syntheticLinux(tb testing.TB, nProcs, nFiles, nSocks int, share float64) (path string, compiles int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	const start = 1764000000
	span := 3000
	var procs, files, socks []map[string]string
	pid := 1000
	next := func() int { pid++; return pid }
	ts := func() int { return start + rng.IntN(span) }
	proc := func(p, parent, t int, path, cmdline, cwd string) {
		procs = append(procs, map[string]string{"pid": strconv.Itoa(p), "parent": strconv.Itoa(parent), "path": path,
			"cmdline": cmdline, "cwd": cwd, "uid": "1000", "auid": "1000", "time": strconv.Itoa(t), "syscall": "execve"})
	}
	compiles = int(float64(nProcs) * share)
	for i := range compiles {
		t := ts()
		shell, gcc := next(), next()
		out := fmt.Sprintf("/tmp/build%d/a%d", i%50, i)
		proc(shell, 1, t, "/bin/bash", "bash", "/tmp")
		proc(gcc, shell, t, "/usr/bin/gcc", "gcc -o "+out+" x.c", "/tmp")
		cc1, as, collect2, ld := next(), next(), next(), next()
		proc(cc1, gcc, t, "/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "cc1 x.c", "/tmp")
		proc(as, gcc, t, "/usr/bin/as", "as -o x.o", "/tmp")
		proc(collect2, gcc, t+1, "/usr/libexec/gcc/x86_64-linux-gnu/12/collect2", "collect2 -o "+out, "/tmp")
		proc(ld, collect2, t+1, "/usr/bin/ld", "ld -o "+out, "/tmp")
		files = append(files, map[string]string{"operation": "write", "pid": strconv.Itoa(ld), "ppid": strconv.Itoa(collect2),
			"time": strconv.Itoa(t + 1), "executable": "/usr/bin/ld", "path": out, "cwd": "/tmp"})
		if i%5 == 0 {
			run := next()
			proc(run, shell, t+2, out, out, "/tmp")
			if i%10 == 0 {
				socks = append(socks, map[string]string{"action": "connect", "pid": strconv.Itoa(run), "path": out,
					"remote_address": "203.0.113.7", "remote_port": "443", "time": strconv.Itoa(t + 3), "family": "2"})
			}
		}
	}
	chainPIDs := pid
	noise := []string{"/usr/bin/python3", "/usr/bin/ls", "/usr/bin/cat", "/usr/sbin/cron", "/usr/bin/git", "/usr/bin/ssh",
		"/usr/bin/node", "/usr/bin/grep", "/usr/bin/sed", "/usr/lib/systemd/systemd-journald"}
	for len(procs) < nProcs {
		p := noise[rng.IntN(len(noise))]
		// Background processes descend from each other, not from the compile chains.
		proc(next(), chainPIDs+1+rng.IntN(pid-chainPIDs), ts(), p, p+" --flag "+strconv.Itoa(rng.IntN(1000)), "/home/u")
	}
	for len(files) < nFiles {
		files = append(files, map[string]string{"operation": "write", "pid": strconv.Itoa(chainPIDs + 1 + rng.IntN(pid-chainPIDs)),
			"ppid": "1", "time": strconv.Itoa(ts()), "executable": "/usr/bin/python3",
			"path": fmt.Sprintf("/home/u/.cache/f%d", rng.IntN(50000)), "cwd": "/home/u"})
	}
	for len(socks) < nSocks {
		socks = append(socks, map[string]string{"action": "connect", "pid": strconv.Itoa(chainPIDs + 1 + rng.IntN(pid-chainPIDs)),
			"path": "/usr/bin/ssh", "remote_address": "192.0.2." + strconv.Itoa(rng.IntN(250)), "remote_port": "22",
			"time": strconv.Itoa(ts()), "family": "2"})
	}
	data, err := json.Marshal(map[string]any{"process_events": procs, "process_file_events": files, "socket_events": socks})
	if err != nil {
		tb.Fatal(err)
	}
	path = filepath.Join(tb.TempDir(), "synthetic.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, compiles
}

// naiveLineage is what an analyst would write in plain osquery SQL: self-joins of the event
// tables (compiler -> parent -> file written -> execution of that file -> its connections).
const naiveLineage = `
SELECT c.pid, c.path, c.cmdline, p.path AS parent_path, f.path AS output_path, e.pid AS exec_pid,
       s.remote_address
FROM process_events c
LEFT JOIN process_events p ON p.pid = c.parent AND p.time <= c.time
LEFT JOIN process_events h ON h.parent = c.pid AND h.time >= c.time AND h.path LIKE '%/collect2'
LEFT JOIN process_events l ON l.parent = h.pid AND l.time >= h.time
LEFT JOIN process_file_events f ON f.pid = l.pid AND f.time >= c.time
LEFT JOIN process_events e ON e.path = f.path AND e.time >= f.time
LEFT JOIN socket_events s ON s.pid = e.pid AND s.time >= e.time AND s.action = 'connect'
WHERE c.path LIKE '%/gcc'`

func startSynthetic(b *testing.B, nProcs, nFiles, nSocks int) (*replay.Harness, int) {
	b.Helper()
	path, compiles := syntheticLinux(b, nProcs, nFiles, nSocks, 0.005)
	fx, err := replay.LoadFixtures(path)
	if err != nil {
		b.Fatal(err)
	}
	// Uncached: back-to-back generates with the same constraints would otherwise share one computation
	// (statementCache), and each iteration must measure one.
	h, err := replay.Start(context.Background(), replay.Options{Fixtures: fx, Plugins: tables.UncachedPlugins})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h, compiles
}

var naiveFull = flag.Bool("naive-full", false, "also run the naive SQL join on the full 350,000-event buffer (minutes per run)")

// BenchmarkCompileLineage measures one compile_lineage generate through Thrift over a host
// buffer of 100,000 process, 200,000 file and 50,000 socket events (0.5% compiler starts),
// and the naive SQL join an analyst would write over the same data. The naive join is
// quadratic over osquery's index-less event tables, so by default it is measured on the
// 10% buffer (10,000 / 20,000 / 5,000) next to the extension on that same buffer;
// -naive-full adds it on the full buffer. rows_fetched/op counts rows the extension pulled
// from osquery, core_ms/op the time the harness's SQLite spent answering them,
// event_rows_scanned/op and event_column_reads/op the event rows those queries made the event
// tables yield and the column values SQLite read from them (machine-independent).
func BenchmarkCompileLineage(b *testing.B) {
	sizes := []struct {
		name                  string
		procs, files, sockets int
		naive                 bool
	}{
		{"events=35k", 10_000, 20_000, 5_000, true},
		{"events=350k", 100_000, 200_000, 50_000, *naiveFull},
	}
	for _, size := range sizes {
		h, compiles := startSynthetic(b, size.procs, size.files, size.sockets)
		ctx := context.Background()
		b.Run(size.name+"/extension", func(b *testing.B) {
			h.ResetStats()
			b.ReportAllocs()
			for b.Loop() {
				rows, err := h.Query(ctx, "SELECT lineage_id, stage FROM compile_lineage")
				if err != nil {
					b.Fatal(err)
				}
				if len(rows) != compiles {
					b.Fatalf("%d rows, want %d", len(rows), compiles)
				}
			}
			st := h.Stats()
			b.ReportMetric(float64(st.RowsServed)/float64(b.N), "rows_fetched/op")
			b.ReportMetric(float64(st.Queries)/float64(b.N), "queries/op")
			b.ReportMetric(float64(st.CoreTime.Milliseconds())/float64(b.N), "core_ms/op")
			b.ReportMetric(float64(st.EventRowsScanned)/float64(b.N), "event_rows_scanned/op")
			b.ReportMetric(float64(st.EventColumnReads)/float64(b.N), "event_column_reads/op")
		})
		if !size.naive {
			continue
		}
		b.Run(size.name+"/naive_sql", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := h.Query(ctx, naiveLineage)
				if err != nil {
					b.Fatal(err)
				}
				if len(rows) < compiles {
					b.Fatalf("%d rows, want at least %d", len(rows), compiles)
				}
			}
		})
	}
}

// TestSyntheticBufferLineage checks the benchmark's data gives the rows it should, so the
// benchmark measures correct work (small buffer, same shape).
func TestSyntheticBufferLineage(t *testing.T) {
	path, compiles := syntheticLinux(t, 4000, 8000, 2000, 0.01)
	rows, st := replayQuery(t, "SELECT stage, count(*) AS n FROM compile_lineage GROUP BY stage ORDER BY stage", path)
	got := map[string]string{}
	for _, r := range rows {
		got[r["stage"]] = r["n"]
	}
	// 40 compiles: every 5th ran (8), every 10th of those connected (4).
	want := map[string]string{"written": strconv.Itoa(compiles - compiles/5), "executed": strconv.Itoa(compiles/5 - compiles/10), "network": strconv.Itoa(compiles / 10)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stage %s: %s rows, want %s (all: %v)", k, got[k], v, got)
		}
	}
	if st.RowsServed > 14000/2 {
		t.Errorf("fetched %d rows from a 14000-event buffer: not narrow", st.RowsServed)
	}
	// One pass over the process events for the compilers and one per round (two rounds here), one over the
	// file and socket events: a lookup split into branches that each scan the table would read more.
	if max := int64(3*4000 + 8000 + 2000); st.EventRowsScanned > max {
		t.Errorf("event tables yielded %d rows, want at most %d (one scan per lookup)", st.EventRowsScanned, max)
	}
	// A filter that names a column many times makes SQLite read it as many times per row.
	if st.EventColumnReads > 3*st.EventRowsScanned {
		t.Errorf("%d column reads over %d scanned rows: more than 3 per row", st.EventColumnReads, st.EventRowsScanned)
	}
}
