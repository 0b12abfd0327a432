package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := engine.NewState(true)
	st.SetLineage("L1", engine.Prior{Stage: 3, Band: 4, Score: 99, Alerted: true, AlertStage: 3, AlertBand: 4})
	st.SeePair("h1", "mshta.exe", "csc.exe")
	a := &alert.Alert{LineageID: "L1", Score: 99, Severity: "critical"}
	err = db.CommitBatch(Batch{
		Changes: st.Drain(),
		Offsets: map[string]Offset{"results": {Path: "/var/log/osquery/osqueryd.results.log", Offset: 1234, Line: 7, FileID: "abc"}},
		Explain: []*alert.Alert{a},
		Outbox:  []*alert.Alert{a, {LineageID: "L2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o750 {
		t.Errorf("state dir mode = %v (%v), want 0750", di.Mode().Perm(), err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st2 := engine.NewState(true)
	if err := db.LoadInto(st2); err != nil {
		t.Fatal(err)
	}
	if p, ok := st2.Lineage("L1"); !ok || p.AlertBand != 4 || p.Score != 99 {
		t.Errorf("lineage after reload = %+v %v", p, ok)
	}
	if hf, ff := st2.SeePair("h1", "mshta.exe", "csc.exe"); hf || ff {
		t.Errorf("pair not remembered: host first %v fleet first %v", hf, ff)
	}
	if hf, ff := st2.SeePair("h2", "mshta.exe", "csc.exe"); !hf || ff {
		t.Errorf("new host: host first %v fleet first %v, want true false", hf, ff)
	}
	o, ok, err := db.Offset("results")
	if err != nil || !ok || o.Offset != 1234 || o.Line != 7 || o.FileID != "abc" {
		t.Errorf("offset = %+v %v %v", o, ok, err)
	}
	if _, ok, _ := db.Offset("nope"); ok {
		t.Error("missing offset reported present")
	}
	got, err := db.Explain("L1")
	if err != nil || got.Severity != "critical" {
		t.Errorf("explain = %+v, %v", got, err)
	}
	if _, err := db.Explain("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("explain missing: %v", err)
	}
	box, err := db.Outbox()
	if err != nil || len(box) != 2 || box[0].Alert.LineageID != "L1" || box[1].Alert.LineageID != "L2" {
		t.Fatalf("outbox = %+v, %v", box, err)
	}
	if err := db.Delivered(box[0].Key); err != nil {
		t.Fatal(err)
	}
	if box, _ = db.Outbox(); len(box) != 1 || box[0].Alert.LineageID != "L2" {
		t.Errorf("outbox after delivery = %+v", box)
	}
}

func TestCommitDeletesPrunedLineages(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := engine.NewState(true)
	st.SetLineage("L1", engine.Prior{Seen: 1})
	st.SetLineage("L2", engine.Prior{Seen: 100})
	if err := db.CommitBatch(Batch{Changes: st.Drain(), Explain: []*alert.Alert{{LineageID: "L1"}, {LineageID: "L2"}}}); err != nil {
		t.Fatal(err)
	}
	if n := st.Prune(50); n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	if err := db.CommitBatch(Batch{Changes: st.Drain()}); err != nil {
		t.Fatal(err)
	}
	re := engine.NewState(false)
	if err := db.LoadInto(re); err != nil {
		t.Fatal(err)
	}
	if _, ok := re.Lineage("L1"); ok {
		t.Error("pruned lineage still stored")
	}
	if _, ok := re.Lineage("L2"); !ok {
		t.Error("kept lineage lost")
	}
	if _, err := db.Explain("L1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("explanation of a pruned lineage: %v", err)
	}
}

func TestExceptionHitsAccumulate(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := engine.NewState(true)
	for range 3 {
		st.HitException("ansible")
	}
	if err := db.CommitBatch(Batch{Changes: st.Drain()}); err != nil {
		t.Fatal(err)
	}
	st.HitException("ansible")
	st.HitException("old (expired)")
	if err := db.CommitBatch(Batch{Changes: st.Drain()}); err != nil {
		t.Fatal(err)
	}
	hits, err := db.ExceptionHits()
	if err != nil || hits["ansible"] != 4 || hits["old (expired)"] != 1 {
		t.Errorf("hits = %v, %v; want ansible 4, old (expired) 1", hits, err)
	}
}

func TestHostRiskRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := engine.NewState(true)
	h := engine.HostRisk{AlertBand: 1, Episode: 1764000000, Entries: []engine.RiskEntry{
		{LineageID: "l1", Score: 45, Severity: "low", Stage: "written", Time: 1764000000, Techniques: []string{"T1027.004"}},
		{LineageID: "l2", Score: 33.17, Severity: "low", Stage: "written", Time: 1764003600},
	}}
	st.SetHostRisk("uuid-ws-1", h)
	st.SetHostRisk("uuid-ws-2", engine.HostRisk{AlertBand: -1})
	if err := db.CommitBatch(Batch{Changes: st.Drain()}); err != nil {
		t.Fatal(err)
	}
	// A later commit drops ws-2 (pruned).
	if err := db.CommitBatch(Batch{Changes: engine.Changes{DeletedHosts: []string{"uuid-ws-2"}}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st2 := engine.NewState(true)
	if err := db.LoadInto(st2); err != nil {
		t.Fatal(err)
	}
	got, ok := st2.HostRisk("uuid-ws-1")
	if !ok || got.AlertBand != 1 || got.Episode != 1764000000 || len(got.Entries) != 2 || got.Entries[0].Techniques[0] != "T1027.004" || got.Entries[1].Score != 33.17 {
		t.Errorf("host risk after reload = %+v %v", got, ok)
	}
	if _, ok := st2.HostRisk("uuid-ws-2"); ok {
		t.Error("pruned host risk came back")
	}
}
