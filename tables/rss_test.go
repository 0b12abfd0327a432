package tables_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
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
	// The peak resident set of this process's own memory since exec. (getrusage's ru_maxrss would do, but
	// Linux carries the parent's peak into a child started with vfork, as os/exec does.)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			fmt.Println("peak_rss_kb", strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmHWM:"), "kB")))
		}
	}
}

// BenchmarkReplayPeakRSS measures the peak resident set of a replay over the 350,000-event buffer of
// BenchmarkCompileLineage written as an indented JSON export of every column (the shape `osqueryi --json`
// prints for SELECT *): a child
// process loads it and runs one compile_lineage query and reports its peak RSS (VmHWM).
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
	// osqueryi --json prints every column of SELECT *, "" for NULL.
	schema := replay.Schema()
	for table, rows := range doc {
		for _, r := range rows {
			for _, c := range schema[table].ColumnsFor("linux") {
				if _, ok := r[c.Name]; !ok && !c.Hidden {
					r[c.Name] = ""
				}
			}
		}
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
	if dst := os.Getenv("COMPILE_LINEAGE_RSS_KEEP"); dst != "" {
		if err := os.Rename(path, dst); err != nil {
			b.Fatal(err)
		}
		b.Skip("fixture written to " + dst)
	}
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReplayChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "COMPILE_LINEAGE_RSS_FIXTURE="+path)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var kb float64
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "peak_rss_kb "); ok {
				kb, _ = strconv.ParseFloat(v, 64)
			}
		}
		if kb == 0 {
			b.Fatalf("child printed no peak RSS:\n%s", out)
		}
		rss := kb * 1024
		b.ReportMetric(rss/1e6, "peak_rss_MB")
		b.ReportMetric(size/1e6, "file_MB")
		b.ReportMetric(rss/size, "rss/file")
		b.ReportMetric(time.Since(start).Seconds(), "child_s")
	}
}
