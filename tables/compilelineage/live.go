package compilelineage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// fillFromLive completes what the event buffer cannot say, from osquery's live tables, in
// one indexed query each: the parents that started before the buffer (processes, by pid,
// accepted only when the live process started no later than its child, so a reused pid is
// never taken; such a parent's own parent is not followed), and user names for the numeric
// uids of audit and EndpointSecurity rows.
func fillFromLive(ctx context.Context, q Querier, procs []Proc, unseen []Proc, skew time.Duration) error {
	// The parents no fetched process answers for: the compilers' stand-ins, and the
	// oldest fetched ancestors of each chain.
	fetched := map[int64]bool{}
	for _, p := range procs {
		fetched[p.PID] = true
	}
	var pids []int64
	// Sources with a parent image of their own (Sysmon) need no lookup.
	askable := func(parentKey string) bool { return parentKey == "" || strings.HasPrefix(parentKey, "etw:") }
	for _, s := range unseen {
		if s.PID > 0 && askable(s.Key) {
			pids = append(pids, s.PID)
		}
	}
	for _, p := range procs {
		if p.PPID > 1 && !fetched[p.PPID] && p.ParentPath == "" && askable(p.ParentKey) {
			pids = append(pids, p.PPID)
		}
	}
	if list, ok := intList(dedupeInts(pids)); ok {
		rows, err := query(ctx, q, "SELECT pid, path, cmdline, start_time FROM processes WHERE pid IN "+list)
		if err != nil {
			return fmt.Errorf("resolve parents older than the buffer: %w", err)
		}
		live := map[int64]map[string]string{}
		for _, r := range rows {
			live[atoi(r["pid"])] = r
		}
		for i := range procs {
			c := &procs[i]
			r, ok := live[c.PPID]
			if !ok || c.ParentPath != "" || !askable(c.ParentKey) {
				continue
			}
			if st := atoi(r["start_time"]); st <= 0 || time.Unix(st, 0).After(c.Time.Add(skew)) {
				continue // a later process with the same pid
			}
			c.ParentPath, c.ParentCmdline = r["path"], r["cmdline"]
		}
	}
	var uids []int64
	for _, p := range procs {
		if u, err := strconv.ParseInt(p.User, 10, 64); err == nil && u >= 0 {
			uids = append(uids, u)
		}
	}
	list, ok := intList(dedupeInts(uids))
	if !ok {
		return nil
	}
	rows, err := query(ctx, q, "SELECT uid, username FROM users WHERE uid IN "+list)
	if err != nil {
		return fmt.Errorf("resolve user names: %w", err)
	}
	names := map[string]string{}
	for _, r := range rows {
		if r["username"] != "" {
			names[r["uid"]] = r["username"]
		}
	}
	for i := range procs {
		if n, ok := names[procs[i].User]; ok {
			procs[i].User = n
		}
	}
	return nil
}

func dedupeInts(v []int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, x := range v {
		if x >= 0 && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
