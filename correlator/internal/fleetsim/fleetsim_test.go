package fleetsim

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildCorrelator builds the correlator binary the members run.
func buildCorrelator(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "correlator")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/compilelineage/compile-lineage/correlator").CombinedOutput()
	if err != nil {
		t.Fatalf("build correlator: %v\n%s", err, out)
	}
	return bin
}

// Three members score 1,200 hosts over 12 partitions; one is killed with
// SIGKILL mid-stream and a fourth joins later. The alerts topic must hold
// exactly the batch run's alerts (each lineage's highest alert has the batch
// alert's id and score), every alert id once, and per host the same
// sequence of alerts and re-alerts as a sequential run.
func TestGroupKillAndJoinMatchesBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four correlator processes")
	}
	var progress strings.Builder
	res, err := Run(context.Background(), Options{Bin: buildCorrelator(t), Dir: t.TempDir(), Hosts: 1200, Partitions: 12, Members: 3, Kill: true, Join: true, Progress: &progress, Timeout: 4 * time.Minute})
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("%s\n%s", progress.String(), res.Summary())
	if res.Hosts != 1200 || res.Members != 4 || res.Killed != 1 {
		t.Errorf("scenario ran %d hosts, %d members, %d killed; want 1200, 4, 1", res.Hosts, res.Members, res.Killed)
	}
	if res.RestoredEntries == 0 {
		t.Error("no member restored any changelog entry: the kill and the join moved no state")
	}
	if res.Lines < 10000 {
		t.Errorf("only %d lines", res.Lines)
	}
	if res.Expected < 1000 {
		t.Errorf("the batch run alerted only %d lineages; the scenario is too thin", res.Expected)
	}
	if res.Alerts != res.Expected || res.Lost != 0 || res.Duplicates != 0 {
		t.Errorf("alerts %d, expected %d, lost %d, duplicates %d", res.Alerts, res.Expected, res.Lost, res.Duplicates)
	}
	if res.Emitted != res.SequentialIDs {
		t.Errorf("%d distinct alert ids delivered, the sequential run emitted %d", res.Emitted, res.SequentialIDs)
	}
	for _, s := range append(append(res.Mismatched, res.Extra...), res.OrderViolations...) {
		t.Error(s)
	}
}
