package replay

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkHarnessQuery is the baseline for later benchmarks: a simple filtered query over 100k
// process_events rows through the harness's SQLite.
func BenchmarkHarnessQuery(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"process_events":[`)
	for i := 0; i < 100000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"pid":"%d","parent":"%d","path":"/usr/bin/p%d","cmdline":"p%d --flag","time":"%d"}`,
			i+2, i+1, i%500, i, 1700000000+i)
	}
	sb.WriteString(`]}`)
	h := startHarness(b, sb.String(), &recorder{})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := h.Query(ctx, "SELECT pid, path, cmdline FROM process_events WHERE path = '/usr/bin/p7' AND time >= 1700050000")
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != 100 {
			b.Fatalf("%d rows, want 100", len(rows))
		}
	}
}
