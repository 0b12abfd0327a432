package vmassert

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
)

// ScheduleSQL reads the daemon's schedule state (osquery_schedule: denylisted is 1 for a query the
// watchdog blamed for a worker kill; osquery then skips it for a while).
const ScheduleSQL = "SELECT name, executions, denylisted FROM osquery_schedule"

// CheckSchedule returns one failure per denylisted scheduled query and one when the schedule is empty
// (the packs did not load).
func CheckSchedule(rows []map[string]string) []string {
	if len(rows) == 0 {
		return []string{"osquery_schedule is empty: no pack query is scheduled"}
	}
	var fails []string
	for _, r := range rows {
		if d := r["denylisted"]; d != "" && d != "0" {
			fails = append(fails, fmt.Sprintf("scheduled query %s is denylisted (osquery_schedule.denylisted=%s, %s executions)", r["name"], d, r["executions"]))
		}
	}
	sort.Strings(fails)
	return fails
}

// watchdogMarks are the texts osqueryd's log carries when its watchdog stops a process
// (osquery/core/watcher.cpp: "<process> stopping: Memory limits exceeded: <bytes>" and
// "... Maximum sustainable CPU utilization limit exceeded: <n>") or when a scheduled query was running
// during a worker crash and is denylisted ("Scheduled query may have failed: <name>").
var watchdogMarks = []string{
	"Memory limits exceeded",
	"Maximum sustainable CPU utilization limit exceeded",
	"Scheduled query may have failed",
}

// ScanDaemonLog returns one failure per osqueryd log line that records a watchdog kill or a query
// blamed for a crash; name (the log file) and the line number are in each.
func ScanDaemonLog(name string, data []byte) []string {
	var fails []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		for _, m := range watchdogMarks {
			if strings.Contains(line, m) {
				fails = append(fails, fmt.Sprintf("%s:%d: watchdog: %s", name, n, strings.TrimSpace(line)))
				break
			}
		}
	}
	return fails
}

// DaemonHealth checks the schedule through the daemon and scans its log files (name -> contents). glog
// writes a warning to osqueryd.INFO and osqueryd.WARNING alike: each line is reported once, from the
// first file (by name) that has it.
func DaemonHealth(ctx context.Context, q Querier, logs map[string][]byte) ([]string, error) {
	rows, err := q.QueryRowsContext(ctx, ScheduleSQL)
	if err != nil {
		return nil, fmt.Errorf("query osquery_schedule: %w", err)
	}
	fails := CheckSchedule(rows)
	names := make([]string, 0, len(logs))
	for n := range logs {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, n := range names {
		for _, f := range ScanDaemonLog(n, logs[n]) {
			_, line, _ := strings.Cut(f, ": watchdog: ")
			if !seen[line] {
				seen[line] = true
				fails = append(fails, f)
			}
		}
	}
	return fails, nil
}
