package compilelineage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EventTables are the osquery tables the lineage can read.
var EventTables = []string{"process_events", "process_file_events", "file_events", "socket_events",
	"es_process_events", "es_process_file_events", "process_etw_events", "windows_events",
	"ntfs_journal_events", "process_open_sockets"}

// Telemetry is what the running osquery offers.
type Telemetry struct {
	Platform string
	Exists   map[string]bool
	// Active is the osquery_events subscriber state: 1 active, 0 inactive; absent = unknown.
	Active   map[string]int
	Events   map[string]int64
	Sysmon   bool // windows_events holds Sysmon events
	Security bool // windows_events holds Security 4688 events
}

// usable reports whether a table exists and its subscriber is not known to be off.
func (t *Telemetry) usable(table string) bool {
	if !t.Exists[table] {
		return false
	}
	a, known := t.Active[table]
	return !known || a == 1
}

// Discover asks osquery which event tables exist and are collecting.
func Discover(ctx context.Context, q Querier, since int64) (*Telemetry, error) {
	t := &Telemetry{Exists: map[string]bool{}, Active: map[string]int{}, Events: map[string]int64{}}
	list, _ := textList(EventTables)
	rows, err := query(ctx, q, "SELECT name FROM osquery_registry WHERE registry = 'table' AND name IN "+list)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		t.Exists[r["name"]] = true
	}
	rows, err = query(ctx, q, "SELECT name, active, events FROM osquery_events WHERE type = 'subscriber'")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		t.Active[r["name"]] = int(atoi(r["active"]))
		t.Events[r["name"]] = atoi(r["events"])
	}
	switch {
	case t.Exists["windows_events"] || t.Exists["process_etw_events"] || t.Exists["ntfs_journal_events"]:
		t.Platform = "windows"
	case t.Exists["es_process_events"]:
		t.Platform = "darwin"
	default:
		t.Platform = "linux"
	}
	if t.usable("windows_events") {
		for _, c := range []struct {
			flag *bool
			sql  string
		}{
			{&t.Sysmon, fmt.Sprintf("SELECT 1 AS present FROM windows_events WHERE source = '%s' AND eventid = 1 AND time >= %d LIMIT 1", sysmonChannel, since)},
			{&t.Security, fmt.Sprintf("SELECT 1 AS present FROM windows_events WHERE source = 'Security' AND eventid = 4688 AND time >= %d LIMIT 1", since)},
		} {
			rows, err := query(ctx, q, c.sql)
			if err != nil {
				return nil, err
			}
			*c.flag = len(rows) > 0
		}
	}
	return t, nil
}

// Plan is the set of sources chosen for one platform.
type Plan struct {
	Procs procSource
	Files fileSource
	Conns connSource
	Gaps  []string
}

// Sources names the chosen sources, for compile_telemetry.
func (p Plan) Sources() (procs, files, conns string) {
	if p.Procs != nil {
		procs = p.Procs.name()
	}
	if p.Files != nil {
		files = p.Files.name()
	}
	if p.Conns != nil {
		conns = p.Conns.name()
	}
	return
}

// Choose picks the best sources the running osquery has.
func Choose(t *Telemetry) Plan {
	var p Plan
	switch t.Platform {
	case "windows":
		switch {
		case t.Sysmon:
			p.Procs = sysmon{}
		case t.usable("process_etw_events") && t.Events["process_etw_events"] != 0:
			p.Procs = etwProcs
		case t.Security:
			p.Procs = security4688{}
		case t.usable("process_etw_events"):
			p.Procs = etwProcs
		}
		switch {
		case t.Sysmon:
			p.Files, p.Conns = sysmon{}, sysmon{}
		default:
			if t.usable("ntfs_journal_events") {
				p.Files = ntfsFiles
			}
			if t.Exists["process_open_sockets"] {
				p.Conns = openSockets{}
			}
		}
	case "darwin":
		if t.usable("es_process_events") {
			p.Procs = esProcs
		} else if t.usable("process_events") {
			p.Procs = darwinAuditProcs
		}
		if t.usable("es_process_file_events") {
			p.Files = esFiles
		} else if t.usable("file_events") {
			p.Files = inotifyFiles
		}
		if t.usable("socket_events") {
			p.Conns = auditSockets{}
		}
	default:
		if t.usable("process_events") {
			p.Procs = linuxProcs
		}
		if t.usable("process_file_events") {
			p.Files = auditFiles
		} else if t.usable("file_events") {
			p.Files = inotifyFiles
		}
		if t.usable("socket_events") {
			p.Conns = auditSockets{}
		}
	}
	if p.Procs == nil {
		p.Gaps = append(p.Gaps, "no_process_events")
	}
	switch p.Files.(type) {
	case nil:
		p.Gaps = append(p.Gaps, "no_file_events")
	case pathFiles:
		p.Gaps = append(p.Gaps, "file_events_without_pid")
	}
	switch p.Conns.(type) {
	case nil:
		p.Gaps = append(p.Gaps, "no_network_events")
	case openSockets:
		p.Gaps = append(p.Gaps, "network_snapshot_only")
	}
	if p.Procs == (security4688{}) {
		p.Gaps = append(p.Gaps, "no_process_guid")
	}
	return p
}

// procSet keeps fetched processes unique by key.
type procSet struct {
	list []Proc
	seen map[string]bool
}

func (s *procSet) add(ps []Proc) []Proc {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	var fresh []Proc
	for _, p := range ps {
		if s.seen[p.Key] {
			continue
		}
		s.seen[p.Key] = true
		s.list = append(s.list, p)
		fresh = append(fresh, p)
	}
	return fresh
}

// Collect fetches what the lineage of compiles started in [from, to] needs, narrowly: the
// compiler starts first, then only the processes, files and connections related to them.
func Collect(ctx context.Context, q Querier, plan Plan, platform string, from, to int64, p Params) (*Events, error) {
	p = p.withDefaults()
	ev := &Events{Platform: platform, Gaps: slices.Clone(plan.Gaps)}
	if plan.Procs == nil {
		return ev, nil
	}
	ps := plan.Procs
	compilers, err := ps.compilers(ctx, q, from, to)
	if err != nil || len(compilers) == 0 {
		return ev, err
	}
	var all procSet
	all.add(compilers)
	minT := compilers[0].Time
	maxT := compilers[0].Time
	for _, c := range compilers {
		minT, maxT = minTime(minT, c.Time), maxTime(maxT, c.Time)
	}
	since := minT.Add(-p.Skew).Unix()

	// Ancestry, up to five generations above the compilers.
	frontier := compilers
	var parents []Proc
	for range 5 {
		got, err := ps.parents(ctx, q, frontier)
		if err != nil {
			return ev, err
		}
		frontier = all.add(got)
		if parents == nil {
			parents = frontier
		}
		if len(frontier) == 0 {
			break
		}
	}
	// Parents whose start is outside the buffer still write files and connect: look them
	// up by the key or pid their children name.
	var unseenParents []Proc
	for _, c := range compilers {
		if c.ParentKey != "" && !all.seen[c.ParentKey] || c.ParentKey == "" && c.PPID > 0 {
			unseenParents = append(unseenParents, Proc{Key: c.ParentKey, PID: c.PPID, Time: c.Time})
		}
	}
	// Descendants of the compilers (helpers, follow-up children) and of their parents.
	frontier = append(append(slices.Clone(compilers), parents...), unseenParents...)
	for range 4 {
		got, err := ps.children(ctx, q, frontier, since)
		if err != nil {
			return ev, err
		}
		if frontier = all.add(got); len(frontier) == 0 {
			break
		}
	}

	// Files written by the compiles, and by their parents for in-process compiles.
	var outputs []string
	for _, c := range compilers {
		kind := compilerKind(baseName(c.Path), c.OriginalName, c.Cmdline)
		if inv := ParseInvocation(kind, c.Cmdline, c.Cwd); inv.Output != "" {
			outputs = append(outputs, inv.Output)
		}
	}
	if plan.Files != nil {
		files, err := plan.Files.files(ctx, q, append(slices.Clone(all.list), unseenParents...), outputs, since, maxT.Add(p.CompileWindow).Unix())
		if err != nil {
			return ev, err
		}
		ev.Files = files
	}
	posix := platform != "windows"
	for _, f := range ev.Files {
		if looksLikeArtifact(f.Path, posix) {
			outputs = append(outputs, f.Path)
		}
	}

	// Executions of anything the compiles produced, and what those started.
	var names []string
	for _, o := range outputs {
		if n := baseName(o); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, part := range chunks(names, 100) {
		got, err := ps.byBaseName(ctx, q, part, since)
		if err != nil {
			return ev, err
		}
		frontier = all.add(got)
		for range 2 {
			if len(frontier) == 0 {
				break
			}
			kids, err := ps.children(ctx, q, frontier, since)
			if err != nil {
				return ev, err
			}
			frontier = all.add(kids)
		}
	}

	// Connections by every related process.
	if plan.Conns != nil {
		for _, part := range chunks(append(slices.Clone(all.list), unseenParents...), 500) {
			conns, err := plan.Conns.conns(ctx, q, part, since)
			if err != nil {
				return ev, err
			}
			ev.Conns = append(ev.Conns, conns...)
		}
	}
	ev.Procs = all.list
	return ev, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// GapString joins gap codes for the telemetry_gaps column.
func GapString(g []string) string { return strings.Join(dedupe(g), ";") }
