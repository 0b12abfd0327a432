package packs

import (
	"context"
	"testing"
)

// BenchmarkLabelQueries runs each composed role label query on its fixture host in the replay harness, next
// to the cheapest query Fleet's label run could send (SELECT 1 FROM os_version) on the same host.
func BenchmarkLabelQueries(b *testing.B) {
	ls := mustLabels(b)
	for _, l := range ls {
		h := startHarness(b, roleFixture(l.Role, l.Platform))
		for _, q := range []struct{ name, sql string }{
			{"baseline", "SELECT 1 FROM os_version;"},
			{"label", LabelQuery(l, ls)},
		} {
			b.Run(l.Name+"/"+q.name, func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					if _, err := h.Query(context.Background(), q.sql); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
