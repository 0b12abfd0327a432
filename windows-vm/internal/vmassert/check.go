package vmassert

import (
	"context"
	"fmt"
	"strings"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// TelemetrySQL is the compile_telemetry query the checks read.
const TelemetrySQL = "SELECT signal, source_table, table_exists, publisher_active, events, status, used FROM compile_telemetry"

// LineageSQL selects every compile_lineage row the extension can build from the daemon's buffer.
const LineageSQL = "SELECT * FROM compile_lineage"

// Snapshot is what the daemon said once, shared by every scenario's check.
type Snapshot struct {
	Tree      *Tree
	Lineage   []map[string]string
	Telemetry []map[string]string
}

// TakeSnapshot queries the process tree since a unix time, compile_lineage and compile_telemetry.
func TakeSnapshot(ctx context.Context, q Querier, since int64) (*Snapshot, error) {
	tree, err := LoadTree(ctx, q, since)
	if err != nil {
		return nil, err
	}
	lineage, err := q.QueryRowsContext(ctx, LineageSQL)
	if err != nil {
		return nil, fmt.Errorf("query compile_lineage: %w", err)
	}
	tel, err := q.QueryRowsContext(ctx, TelemetrySQL)
	if err != nil {
		return nil, fmt.Errorf("query compile_telemetry: %w", err)
	}
	return &Snapshot{Tree: tree, Lineage: lineage, Telemetry: tel}, nil
}

// Verdict is one scenario's outcome, written as verdict.json for the host report.
type Verdict struct {
	Scenario string   `json:"scenario"`
	Passed   bool     `json:"passed"`
	Rows     []string `json:"rows"`
	Failures []string `json:"failures"`
	Known    []string `json:"known"`
	// Processes is how many processes the runner's tree holds (0: the runner was not seen).
	Processes int `json:"processes"`
}

// Outcome is a verdict with the rows it was judged on.
type Outcome struct {
	Verdict Verdict
	Lineage []map[string]string
	Results []expect.ResultRow
	// Lines are the scenario's result-log lines as osqueryd wrote them, for the correlator on the host.
	Lines [][]byte
}

// Check judges one scenario: its compile_lineage rows, compile_telemetry, and the result-log lines it
// produced, against its expectation. runErr is the scenario run's own failure ("" when it ran).
func Check(e *expect.Expected, s *Snapshot, log []LogLine, runErr string) Outcome {
	a := NewAttribution(s.Tree, e)
	var fails []string
	if runErr != "" {
		fails = append(fails, "run failed: "+runErr)
	}
	if a.Processes() == 0 {
		fails = append(fails, fmt.Sprintf("no Sysmon process start of the runner (%s) in windows_events", RunnerMarker(e.Scenario)))
	}
	rows := a.Lineage(s.Lineage)
	claimed := map[int]bool{}
	for i, want := range e.Lineage {
		idx, why := want.Match(unclaimed(rows, claimed))
		if idx < 0 {
			fails = append(fails, fmt.Sprintf("lineage[%d] %s: no matching row: %s", i, want, strings.Join(why, "; ")))
			continue
		}
		claimed[originalIndex(rows, claimed, idx)] = true
	}
	fails = append(fails, expect.CheckTelemetry(e, s.Telemetry)...)
	var results []expect.ResultRow
	var lines [][]byte
	for _, l := range log {
		mine := false
		for _, r := range l.Rows {
			if a.Result(r) {
				results = append(results, r)
				mine = true
			}
		}
		if mine {
			lines = append(lines, l.Raw)
		}
	}
	fails = append(fails, expect.CheckPack(e, results)...)
	unexpected, known, stale := expect.Triage(fails, e.KnownFailures)
	for _, k := range stale {
		// Correlator known failures are judged on the host.
		if !strings.Contains(k.Match, "alert") {
			unexpected = append(unexpected, fmt.Sprintf("known failure %q no longer happens: remove it from expected.json", k.Match))
		}
	}
	v := Verdict{Scenario: e.Scenario, Passed: len(unexpected) == 0, Failures: unexpected, Known: known,
		Processes: a.Processes(), Rows: []string{}}
	for _, r := range rows {
		v.Rows = append(v.Rows, expect.Describe(r))
	}
	if v.Failures == nil {
		v.Failures = []string{}
	}
	if v.Known == nil {
		v.Known = []string{}
	}
	return Outcome{Verdict: v, Lineage: rows, Results: results, Lines: lines}
}

// unclaimed returns the rows not yet matched by an earlier expected row, so two expected rows never
// pass on the same row.
func unclaimed(rows []map[string]string, claimed map[int]bool) []map[string]string {
	var out []map[string]string
	for i, r := range rows {
		if !claimed[i] {
			out = append(out, r)
		}
	}
	return out
}

func originalIndex(rows []map[string]string, claimed map[int]bool, idx int) int {
	n := -1
	for i := range rows {
		if claimed[i] {
			continue
		}
		n++
		if n == idx {
			return i
		}
	}
	return -1
}

// PackPending lists the expected pack queries of e that no result row attributed to the scenario
// satisfies yet: the scheduled queries fire on their interval, so the caller waits while this is not empty.
func PackPending(e *expect.Expected, s *Snapshot, log []LogLine) []string {
	out := Check(e, s, log, "")
	var pending []string
	for _, q := range e.PackQueries {
		found := false
		for _, r := range out.Results {
			if r.Action != "removed" && q.Matches(r.Name, r.Columns) {
				found = true
				break
			}
		}
		if !found {
			pending = append(pending, e.Scenario+": "+q.Name)
		}
	}
	return pending
}
