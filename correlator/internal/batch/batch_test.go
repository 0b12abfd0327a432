package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

func lin(id string, score float64, stage string) *alert.Alert {
	return &alert.Alert{Kind: alert.KindLineage, LineageID: id, AlertID: id + "@" + stage, Score: score, Stage: stage, Host: "h"}
}

func TestSetKeepsTheHighestPerLineageInOrder(t *testing.T) {
	t.Parallel()
	below := lin("L3", 95, "compile")
	below.BelowThreshold = true
	host := &alert.Alert{Kind: alert.KindHostRisk, AlertID: "H1", Host: "h", HostUUID: "u", Score: 80}
	host2 := &alert.Alert{Kind: alert.KindHostRisk, AlertID: "H2", Host: "h", HostUUID: "u", Score: 90, Realert: true}
	cases := []struct {
		name string
		add  []*alert.Alert
		all  bool
		want []string // alert ids in output order
	}{
		{"one per lineage, highest score", []*alert.Alert{lin("L1", 50, "compile"), lin("L1", 70, "written"), lin("L1", 60, "written")}, false, []string{"L1@written"}},
		{"same score: the later row", []*alert.Alert{lin("L1", 70, "written"), lin("L1", 70, "executed")}, false, []string{"L1@executed"}},
		{"score descending, then lineage id", []*alert.Alert{lin("L2", 60, "compile"), lin("L1", 60, "compile"), lin("L0", 90, "network")}, false, []string{"L0@network", "L1@compile", "L2@compile"}},
		{"lineage before the host alert at the same score", []*alert.Alert{host, lin("L9", 80, "written")}, false, []string{"L9@written", "H1"}},
		{"a host keeps its highest host alert", []*alert.Alert{host, host2, lin("L1", 85, "network")}, false, []string{"H2", "L1@network"}},
		{"below threshold only with all", []*alert.Alert{below, lin("L1", 60, "compile")}, false, []string{"L1@compile"}},
		{"below threshold printed with all", []*alert.Alert{below, lin("L1", 60, "compile")}, true, []string{"L3@compile", "L1@compile"}},
		{"an alert beats a below-threshold state", []*alert.Alert{below, lin("L3", 70, "written")}, false, []string{"L3@written"}},
	}
	// Every case runs with the documents on disk only, in memory only, and
	// split between both (room for one and a half documents).
	one, err := alert.AppendJSON(nil, lin("L1", 50, "compile"))
	if err != nil {
		t.Fatal(err)
	}
	mixed := len(one) * 3 / 2
	for _, limit := range []int{-1, 0, mixed} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s, memory limit %d", tc.name, limit), func(t *testing.T) {
				t.Parallel()
				checkSet(t, limit, limit == mixed, tc.add, tc.all, tc.want)
			})
		}
	}
}

// checkSet adds the alerts to a set with the memory limit and checks the
// alert ids it writes, in order, and where the documents went (mixed: the
// first in memory, the others on disk).
func checkSet(t *testing.T, limit int, mixed bool, add []*alert.Alert, all bool, want []string) {
	t.Helper()
	s, err := New(Options{Dir: t.TempDir(), MemLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, a := range add {
		if err := s.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err = s.Each(func(e *Entry) bool { return all || (!e.BelowThreshold && !e.Suppressed) }, func(e *Entry, doc, native []byte) error {
		var a alert.Alert
		if err := json.Unmarshal(doc, &a); err != nil {
			return err
		}
		if a.AlertID != e.AlertID || !bytes.Equal(doc, native) {
			t.Errorf("entry %s: document of %s (native differs: %v)", e.AlertID, a.AlertID, !bytes.Equal(doc, native))
		}
		got = append(got, a.AlertID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("output %v, want %v", got, want)
	}
	spooled := 0 // lineage documents; host alerts are held as they are
	for _, a := range add {
		if a.Kind == alert.KindLineage {
			spooled++
		}
	}
	if inMem, onDisk := s.memUsed > 0, s.f != nil; mixed && spooled > 1 && (!inMem || !onDisk) || limit < 0 && inMem || limit == 0 && onDisk {
		t.Errorf("memory limit %d: documents in memory %v, on disk %v", limit, inMem, onDisk)
	}
}

func TestSetOtherFormatKeepsNativeAndRemovesSpool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	upper := func(a *alert.Alert) ([]byte, error) { return []byte(strings.ToUpper(a.AlertID) + "\n"), nil }
	s, err := New(Options{Dir: dir, Encode: upper, Native: true, MemLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*alert.Alert{lin("L1", 50, "compile"), lin("L2", 40, "compile"), lin("L1", 60, "network")} {
		if err := s.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 {
		t.Fatalf("spool files %v, want one", files)
	} else if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spool %v mode %v, want 0600", err, fi.Mode())
	}
	var docs []string
	if err := s.Each(nil, func(_ *Entry, doc, _ []byte) error { docs = append(docs, string(doc)); return nil }); err != nil {
		t.Fatal(err)
	}
	if natives := nativeIDs(t, s); !slices.Equal(docs, []string{"L1@NETWORK\n", "L2@COMPILE\n"}) || !slices.Equal(natives, []string{"L1@network", "L2@compile"}) {
		t.Errorf("docs %q natives %q", docs, natives)
	}
	stop := errors.New("stop")
	if err := s.Each(nil, func(*Entry, []byte, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Each = %v, want the callback's error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("spool left behind: %v", files)
	}
}

func TestSetStaysInMemoryUnderTheLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		if err := s.Add(lin(fmt.Sprintf("L%03d", i), float64(i), "compile")); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 || s.Len() != 100 {
		t.Errorf("spool files %v and %d entries, want none and 100", files, s.Len())
	}
}

func TestSetAddAfterOutput(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Dir: t.TempDir(), MemLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, step := range []struct {
		add  *alert.Alert
		want []string
	}{
		{lin("L1", 50, "compile"), []string{"L1@compile"}},
		{lin("L2", 70, "written"), []string{"L2@written", "L1@compile"}},
		{lin("L1", 90, "network"), []string{"L1@network", "L2@written"}},
	} {
		if err := s.Add(step.add); err != nil {
			t.Fatal(err)
		}
		if got := nativeIDs(t, s); !slices.Equal(got, step.want) {
			t.Errorf("step %d: output %v, want %v", i, got, step.want)
		}
	}
}

// nativeIDs returns the alert ids of the set's native documents, in
// output order.
func nativeIDs(t *testing.T, s *Set) []string {
	t.Helper()
	var ids []string
	if err := s.Each(nil, func(_ *Entry, _, native []byte) error {
		var a alert.Alert
		if err := json.Unmarshal(native, &a); err != nil {
			return err
		}
		ids = append(ids, a.AlertID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}
