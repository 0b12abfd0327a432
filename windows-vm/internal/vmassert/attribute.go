// Package vmassert is the in-VM side of the Windows test bed in Go: it reads what the running osqueryd
// knows (through its extensions socket), tells which compile_lineage rows and result-log lines each
// scenario produced, checks them against the scenario's expected.json, checks the daemon's own health
// (watchdog kills, denylisted queries) and writes the per-scenario verdicts and the report. The osquery
// access is behind Querier, so everything here is tested on Linux against the replay harness.
package vmassert

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// Querier runs SQL in the osquery daemon (osquery-go's ExtensionManagerClient satisfies it).
type Querier interface {
	QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error)
}

// Proc is one process start as Sysmon event 1 records it.
type Proc struct {
	GUID, ParentGUID string // lower case
	PID              int64
	Start            int64 // unix seconds (UtcTime)
	CommandLine      string
}

// Tree is the process tree of the Sysmon process starts the daemon buffered.
type Tree struct {
	procs    map[string]Proc
	children map[string][]string
}

// SysmonStartsSQL selects the Sysmon process starts from windows_events since a unix time. Only the
// integer is formatted into the statement.
func SysmonStartsSQL(since int64) string {
	return "SELECT data FROM windows_events WHERE source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 1 AND time >= " +
		strconv.FormatInt(since, 10)
}

// LoadTree queries the daemon for Sysmon process starts since a unix time and builds the tree.
func LoadTree(ctx context.Context, q Querier, since int64) (*Tree, error) {
	rows, err := q.QueryRowsContext(ctx, SysmonStartsSQL(since))
	if err != nil {
		return nil, fmt.Errorf("query Sysmon process starts: %w", err)
	}
	return BuildTree(rows)
}

// BuildTree parses windows_events rows (their data column, osquery's {"EventData":{...}}) of Sysmon
// event 1. A row that does not parse is an error naming its index.
func BuildTree(rows []map[string]string) (*Tree, error) {
	t := &Tree{procs: map[string]Proc{}, children: map[string][]string{}}
	for i, r := range rows {
		var d struct {
			EventData map[string]string `json:"EventData"`
		}
		if err := json.Unmarshal([]byte(r["data"]), &d); err != nil {
			return nil, fmt.Errorf("windows_events row %d: data: %w", i, err)
		}
		ed := d.EventData
		p := Proc{GUID: strings.ToLower(ed["ProcessGuid"]), ParentGUID: strings.ToLower(ed["ParentProcessGuid"]),
			CommandLine: ed["CommandLine"]}
		if p.GUID == "" {
			return nil, fmt.Errorf("windows_events row %d: Sysmon event 1 without ProcessGuid", i)
		}
		p.PID, _ = strconv.ParseInt(ed["ProcessId"], 10, 64)
		if ts, err := time.Parse("2006-01-02 15:04:05.000", ed["UtcTime"]); err == nil {
			p.Start = ts.Unix()
		}
		if _, dup := t.procs[p.GUID]; dup {
			continue
		}
		t.procs[p.GUID] = p
		t.children[p.ParentGUID] = append(t.children[p.ParentGUID], p.GUID)
	}
	return t, nil
}

// Len is the number of processes in the tree.
func (t *Tree) Len() int { return len(t.procs) }

// RunnerMarker is what the command line of a scenario's runner contains: assert/Invoke-Scenario.ps1
// starts `powershell.exe ... -File C:\lineage\vm\scenarios\<name>\run.ps1` through a scheduled task.
func RunnerMarker(scenario string) string { return `\scenarios\` + scenario + `\run.ps1` }

// Subtree returns the processes started, directly or not, by a scenario's runner (the runner included).
func (t *Tree) Subtree(scenario string) map[string]Proc {
	marker := strings.ToLower(RunnerMarker(scenario))
	out := map[string]Proc{}
	var stack []string
	for g, p := range t.procs {
		if strings.Contains(strings.ToLower(p.CommandLine), marker) {
			stack = append(stack, g)
		}
	}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, seen := out[g]; seen {
			continue
		}
		out[g] = t.procs[g]
		stack = append(stack, t.children[g]...)
	}
	return out
}

// Attribution decides which rows a scenario produced: processes its runner started (by Sysmon
// ProcessGuid, which no other scenario shares) and, for what the runner starts through a service
// (WMI, the task scheduler), the scenario's own paths (expected.json own_paths). Time plays no part,
// so scenarios that run seconds apart do not take each other's rows.
type Attribution struct {
	Scenario string
	procs    map[string]Proc
	starts   map[string]bool // pid@unix of every process in procs
	paths    []string        // lower case
	lineage  map[string]bool // lineage_id of attributed compile_lineage rows
}

// NewAttribution builds the attribution of one scenario from the tree and its expectation.
func NewAttribution(t *Tree, e *expect.Expected) *Attribution {
	a := &Attribution{Scenario: e.Scenario, procs: t.Subtree(e.Scenario), starts: map[string]bool{},
		lineage: map[string]bool{}}
	for _, p := range a.procs {
		a.starts[fmt.Sprintf("%d@%d", p.PID, p.Start)] = true
	}
	for _, p := range e.OwnPaths {
		a.paths = append(a.paths, strings.ToLower(p))
	}
	return a
}

// Processes is the number of processes attributed through the runner's tree.
func (a *Attribution) Processes() int { return len(a.procs) }

func (a *Attribution) ownsPath(values ...string) bool {
	for _, v := range values {
		lv := strings.ToLower(v)
		for _, p := range a.paths {
			if strings.Contains(lv, p) {
				return true
			}
		}
	}
	return false
}

// Lineage keeps the compile_lineage rows the scenario produced and remembers their lineage ids for the
// result-log lines.
func (a *Attribution) Lineage(rows []map[string]string) []map[string]string {
	var out []map[string]string
	for _, r := range rows {
		_, inTree := a.procs[strings.ToLower(r["compiler_guid"])]
		if inTree || a.ownsPath(r["compiler_cmdline"], r["parent_cmdline"], r["output_path"]) {
			out = append(out, r)
			if id := r["lineage_id"]; id != "" {
				a.lineage[id] = true
			}
		}
	}
	return out
}

// Result reports whether a result-log row belongs to the scenario: its lineage_id is one of the
// scenario's compile_lineage rows, its compiler (compiler_pid and time, as the fallback queries log them)
// is a process of the runner's tree, or a command line or path it logs is one of the scenario's own.
// Call Lineage first.
func (a *Attribution) Result(r expect.ResultRow) bool {
	c := r.Columns
	if id := c["lineage_id"]; id != "" {
		return a.lineage[id]
	}
	if a.starts[c["compiler_pid"]+"@"+c["time"]] {
		return true
	}
	return a.ownsPath(c["compiler_cmdline"], c["parent_cmdline"], c["output_path"])
}

// WithTimeout bounds every query of c: without a deadline osquery-go waits only 200 ms for its call lock.
func WithTimeout(c Querier, d time.Duration) Querier { return timeoutQuerier{c, d} }

type timeoutQuerier struct {
	c Querier
	d time.Duration
}

func (q timeoutQuerier) QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, q.d)
	defer cancel()
	return q.c.QueryRowsContext(ctx, sql)
}
