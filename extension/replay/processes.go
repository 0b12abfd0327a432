package replay

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// When the harness plays the daemon over a recording and the fixtures give no `processes` rows, `processes`
// at the replay time holds what was running then: every process start recorded by an event table that had
// started and had not yet ended. Ends come from es_process_events exit, process_etw_events ProcessStop,
// Sysmon event 5 and Security event 4689; a new start of the same pid (an exec, or pid reuse) ends the
// previous one. Linux audit records no exits in process_events, so a Linux process runs until its pid
// starts something else.

// procLife is one process's life as the recording shows it.
type procLife struct {
	pid        int64
	start, end int64 // end 0 = still running at the end of the recording
	row        map[string]string
}

// processLives reads process starts and ends from the fixture's event tables, sorted by start.
func processLives(fx *Fixtures) []procLife {
	var lives []procLife
	type stop struct{ pid, time int64 }
	var stops []stop
	num := func(s string) int64 {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
			v, _ := strconv.ParseInt(s[2:], 16, 64)
			return v
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	}
	start := func(t int64, pid, parent int64, path, cmdline, cwd string, ids map[string]string) {
		row := map[string]string{"pid": strconv.FormatInt(pid, 10), "parent": strconv.FormatInt(parent, 10),
			"path": path, "name": vocab.BaseName(path), "cmdline": cmdline, "cwd": cwd, "state": "R",
			"start_time": strconv.FormatInt(t, 10), "on_disk": "1"}
		for k, v := range ids {
			row[k] = v
		}
		lives = append(lives, procLife{pid: pid, start: t, row: row})
	}
	ids := func(r map[string]string, cols ...string) map[string]string {
		out := map[string]string{}
		for _, c := range cols {
			if v, ok := r[c]; ok {
				out[c] = v
			}
		}
		return out
	}
	for _, r := range fx.rowsOf("process_events") {
		if s := r["syscall"]; s != "" && s != "execve" && s != "execveat" {
			continue
		}
		start(num(r["time"]), num(r["pid"]), num(r["parent"]), r["path"], r["cmdline"], r["cwd"],
			ids(r, "uid", "gid", "euid", "egid", "suid", "sgid"))
	}
	for _, r := range fx.rowsOf("es_process_events") {
		switch r["event_type"] {
		case "exec":
			start(num(r["time"]), num(r["pid"]), num(r["parent"]), r["path"], r["cmdline"], r["cwd"],
				ids(r, "uid", "gid", "euid", "egid"))
		case "exit":
			stops = append(stops, stop{num(r["pid"]), num(r["time"])})
		}
	}
	for _, r := range fx.rowsOf("process_etw_events") {
		switch r["type"] {
		case "ProcessStart":
			start(num(r["time"]), num(r["pid"]), num(r["ppid"]), r["path"], r["cmdline"], "", nil)
		case "ProcessStop":
			stops = append(stops, stop{num(r["pid"]), num(r["time"])})
		}
	}
	for _, r := range fx.rowsOf("windows_events") {
		var d struct {
			EventData map[string]string `json:"EventData"`
		}
		if json.Unmarshal([]byte(r["data"]), &d) != nil || d.EventData == nil {
			continue
		}
		e, t := d.EventData, num(r["time"])
		switch {
		case r["source"] == "Microsoft-Windows-Sysmon/Operational" && r["eventid"] == "1":
			start(t, num(e["ProcessId"]), num(e["ParentProcessId"]), e["Image"], e["CommandLine"], e["CurrentDirectory"], nil)
		case r["source"] == "Microsoft-Windows-Sysmon/Operational" && r["eventid"] == "5":
			stops = append(stops, stop{num(e["ProcessId"]), t})
		case r["source"] == "Security" && r["eventid"] == "4688":
			start(t, num(e["NewProcessId"]), num(e["ProcessId"]), e["NewProcessName"], e["CommandLine"], "", nil)
		case r["source"] == "Security" && r["eventid"] == "4689":
			stops = append(stops, stop{num(e["ProcessId"]), t})
		}
	}
	sort.SliceStable(lives, func(i, j int) bool { return lives[i].start < lives[j].start })
	// A later start of the same pid ends the earlier one.
	last := map[int64]int{}
	for i := range lives {
		if j, ok := last[lives[i].pid]; ok && lives[j].end == 0 {
			lives[j].end = lives[i].start
		}
		last[lives[i].pid] = i
	}
	// A stop ends the latest start of its pid at or before it.
	byPID := map[int64][]int{}
	for i, l := range lives {
		byPID[l.pid] = append(byPID[l.pid], i)
	}
	for _, s := range stops {
		idx := byPID[s.pid]
		for k := len(idx) - 1; k >= 0; k-- {
			l := &lives[idx[k]]
			if l.start <= s.time {
				if l.end == 0 || s.time < l.end {
					l.end = s.time
				}
				break
			}
		}
	}
	return lives
}

// runningAt returns the rows of the processes running at time t: started at or before t, not ended by t.
func runningAt(lives []procLife, t int64) []map[string]string {
	var out []map[string]string
	for _, l := range lives {
		if l.start > t {
			break
		}
		if l.end == 0 || l.end > t {
			out = append(out, l.row)
		}
	}
	return out
}
