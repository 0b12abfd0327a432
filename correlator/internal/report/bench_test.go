package report

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"
)

// benchAlerts repeats the example lineages to n distinct ones.
func benchAlerts(b *testing.B, n int) []Alert {
	base := loadAlerts(&testing.T{}, "alerts.jsonl", "gaps.jsonl")
	var out []Alert
	for i := 0; len(out) < n; i++ {
		v := base[i%len(base)]
		v.LineageID = fmt.Sprintf("%s-%d", v.LineageID, i)
		v.Host = fmt.Sprintf("%s-%d", v.Host, i%50)
		out = append(out, v)
	}
	return out
}

// BenchmarkWriteHTML renders the page of 1000 lineages (drawings, triage
// queries, filters); BenchmarkJSONBaseline encodes the same view-models as
// JSON, the cost of merely writing them out.
func BenchmarkWriteHTML(b *testing.B) {
	vs := benchAlerts(b, 1000)
	p := Page{Title: "bench", Source: "bench", Generated: time.Unix(0, 0), Alerts: vs}
	var size countWriter
	if err := WriteHTML(&size, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteHTML(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB/page")
}

func BenchmarkJSONBaseline(b *testing.B) {
	vs := benchAlerts(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := json.NewEncoder(io.Discard).Encode(vs); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
