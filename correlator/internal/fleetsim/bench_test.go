package fleetsim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchHosts sizes the benchmark stream: 3,000 hosts give 30,000 lines.
const benchHosts = 3000

// BenchmarkGroup measures lines/s of a consumer group of 1, 2 and 4 member
// processes (12 partitions, the rekey hop, transactions, changelog). The
// baseline is BenchmarkSequentialRun: one `correlator run --once` following
// a file of the same lines with its bbolt state.
//
//	go test -run '^$' -bench . -benchtime 1x ./correlator/internal/fleetsim/
func BenchmarkGroup(b *testing.B) {
	bin := buildCorrelator(b)
	for _, members := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			var lines int
			var took, cpu time.Duration
			for range b.N {
				sp, err := Throughput(context.Background(), Options{Bin: bin, Dir: b.TempDir(), Hosts: benchHosts, Partitions: 12, Members: members})
				if err != nil {
					b.Fatal(err)
				}
				lines += sp.Lines
				took += sp.Took
				cpu += sp.MemberCPU
			}
			b.ReportMetric(float64(lines)/took.Seconds(), "lines/s")
			b.ReportMetric(float64(lines)/cpu.Seconds(), "lines/member-cpu-s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkSequentialRun is the single-process baseline over the same
// lines: `run --once` following the file (bbolt state, one commit per
// 1,000 lines and per delivered alert) and the batch `score`.
func BenchmarkSequentialRun(b *testing.B) {
	bin := buildCorrelator(b)
	seed, stream := Generate(benchHosts)
	var buf bytes.Buffer
	for _, l := range append(seed, stream...) {
		buf.Write(l.Data)
		buf.WriteByte('\n')
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "lines.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"run", "score"} {
		b.Run(mode, func(b *testing.B) {
			var took, cpu time.Duration
			for i := range b.N {
				args := []string{"score", "--quiet", path}
				if mode == "run" {
					args = []string{"run", "--state", filepath.Join(dir, fmt.Sprintf("s%d.db", i)), "--follow", path, "--once"}
				}
				cmd := exec.Command(bin, args...)
				t0 := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out[:min(len(out), 2000)])
				}
				took += time.Since(t0)
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			n := float64(b.N * (len(seed) + len(stream)))
			b.ReportMetric(n/took.Seconds(), "lines/s")
			b.ReportMetric(n/cpu.Seconds(), "lines/cpu-s")
			b.ReportMetric(0, "ns/op")
		})
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkKill measures how long three members (one SIGKILLed at 40 % of
// the stream) need from the kill until every line is scored and committed,
// and the largest backlog in between.
func BenchmarkKill(b *testing.B) {
	bin := buildCorrelator(b)
	for range b.N {
		res, err := Run(context.Background(), Options{Bin: bin, Dir: b.TempDir(), Hosts: benchHosts, Partitions: 12, Members: 3, Kill: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Lost+res.Duplicates > 0 {
			b.Fatalf("lost %d, duplicates %d", res.Lost, res.Duplicates)
		}
		b.ReportMetric(res.DrainAfterKill.Seconds(), "drain-after-kill-s")
		b.ReportMetric(float64(res.MaxLagAfterKill), "max-lag-lines")
	}
	b.ReportMetric(0, "ns/op")
}
