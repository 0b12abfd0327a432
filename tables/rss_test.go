package tables_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/extension/replay"
)

// TestReplayChild is the child process of BenchmarkReplayPeakRSS: it loads the fixture named by
// COMPILE_LINEAGE_RSS_FIXTURE into the harness and runs one compile_lineage query, as
// `compile_lineage.ext replay` does.
func TestReplayChild(t *testing.T) {
	path := os.Getenv("COMPILE_LINEAGE_RSS_FIXTURE")
	if path == "" {
		t.Skip("child of BenchmarkReplayPeakRSS")
	}
	fx, err := replay.LoadFixtures(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := replay.Start(context.Background(), replay.Options{Fixtures: fx})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rows, err := h.Query(context.Background(), "SELECT lineage_id, stage FROM compile_lineage")
	if err != nil || len(rows) == 0 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
}

// BenchmarkReplayPeakRSS measures the peak resident set of a replay over the 350,000-event buffer of
// BenchmarkCompileLineage written as an indented JSON export (the shape `osqueryi --json` prints): a child
// process loads it and runs one compile_lineage query; the parent reads the child's peak RSS (getrusage).
func BenchmarkReplayPeakRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("peak RSS is read from Linux getrusage")
	}
	compact, _ := syntheticLinux(b, 100_000, 200_000, 50_000, 0.005)
	data, err := os.ReadFile(compact)
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string][]map[string]string
	if err := json.Unmarshal(data, &doc); err != nil {
		b.Fatal(err)
	}
	indented, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	doc, data = nil, nil
	path := compact + ".indented.json"
	if err := os.WriteFile(path, indented, 0o600); err != nil {
		b.Fatal(err)
	}
	size := float64(len(indented))
	indented = nil
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReplayChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "COMPILE_LINEAGE_RSS_FIXTURE="+path)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		rss := float64(ru.Maxrss) * 1024 // kilobytes on Linux
		b.ReportMetric(rss/1e6, "peak_rss_MB")
		b.ReportMetric(size/1e6, "file_MB")
		b.ReportMetric(rss/size, "rss/file")
		b.ReportMetric(time.Since(start).Seconds(), "child_s")
	}
}
