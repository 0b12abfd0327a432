package kafka

import (
	"testing"
	"time"
)

// BenchmarkMember measures one in-process member with a trivial engine, so
// the figure is the cost of the Kafka path alone: consume, re-key, consume
// again, changelog, alerts and one transaction per poll (kfake in the same
// process).
func BenchmarkMember(b *testing.B) {
	for range b.N {
		c, cl := newCluster(b)
		produceLines(b, cl, 200, 0, 100) // 20,000 lines
		m, stop := startMember(b, testConfig(c.ListenAddrs(), "bench"), &seqEngine{}, nil)
		start := time.Now()
		waitFor(b, "20,000 lines", 5*time.Minute, func() bool { return m.Metrics.Lines.Load() == 20000 })
		b.ReportMetric(20000/time.Since(start).Seconds(), "lines/s")
		b.ReportMetric(float64(m.Metrics.Committed.Load()), "transactions")
		stop()
	}
}
