package engine

import (
	"slices"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// fleetAnswer answers every fleet-rarity question the same way and records
// what was asked.
type fleetAnswer struct {
	first bool
	asked []string
}

func (f *fleetAnswer) FirstInFleet(parent, compiler, lineageID string) bool {
	f.asked = append(f.asked, parent+">"+compiler+" "+lineageID)
	return f.first
}

// With Fleet set, the fleet-wide first sighting is what Fleet says, asked
// once per lineage whose pair this State has not seen.
func TestFleetRarityDecidesFleetFirst(t *testing.T) {
	for _, first := range []bool{true, false} {
		e := newEngine(t, "host,role\nws-0042,user_endpoint\n", nil)
		f := &fleetAnswer{first: first}
		e.Fleet = f
		got := feed(t, e, chainFile)
		if len(got) == 0 {
			t.Fatal("no alert")
		}
		want := []string{"mshta.exe>csc.exe 6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81"}
		if !slices.Equal(f.asked, want) {
			t.Errorf("first=%v: asked %q, want %q", first, f.asked, want)
		}
		for _, a := range got {
			has := slices.ContainsFunc(a.Reasons, func(r score.Reason) bool { return r.Code == "rare_in_fleet" })
			if has != first {
				t.Errorf("first=%v: alert at stage %s has rare_in_fleet %v", first, a.Stage, has)
			}
		}
	}
}
