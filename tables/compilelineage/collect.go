package compilelineage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// EventTables are the osquery tables the lineage can read.
var EventTables = []string{"process_events", "process_file_events", "file_events", "socket_events",
	"bpf_process_events", "bpf_socket_events",
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
	// Host is system_info.uuid: it makes lineage ids unique across a fleet even where the
	// process key is only pid@start.
	Host string
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
	rows, err = query(ctx, q, "SELECT uuid FROM system_info")
	if err != nil {
		return nil, err
	}
	if len(rows) == 1 {
		t.Host = strings.ToLower(rows[0]["uuid"])
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
			p.Conns = auditSockets
		}
	default:
		// Audit first; the eBPF publisher when audit is off.
		if t.usable("process_events") {
			p.Procs = linuxProcs
		} else if t.usable("bpf_process_events") {
			p.Procs = bpfProcs
		}
		if t.usable("process_file_events") {
			p.Files = auditFiles
		} else if t.usable("file_events") {
			p.Files = inotifyFiles
		}
		if t.usable("socket_events") {
			p.Conns = auditSockets
		} else if t.usable("bpf_socket_events") {
			p.Conns = bpfSockets
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

// ReadFunc reads a file that telemetry names (a response file after @ on a compiler command
// line). An error with a RefusalReason() string method is a refusal: the path or file is one
// the extension must not read, and the lineage records it; any other error (the file is
// gone) leaves the file out. A nil ReadFunc reads nothing.
type ReadFunc func(ctx context.Context, path string) ([]byte, error)

// Collect fetches what the lineage of compiles started in [from, to] needs, narrowly: the
// compiler starts first, then, one scan per round, only the processes, files and
// connections related to them, and the response files their command lines name.
func Collect(ctx context.Context, q Querier, plan Plan, tel *Telemetry, from, to int64, p Params, read ReadFunc) (*Events, error) {
	p = p.withDefaults()
	platform := tel.Platform
	ev := &Events{Platform: platform, Host: tel.Host, Gaps: slices.Clone(plan.Gaps)}
	if plan.Procs == nil {
		return ev, nil
	}
	compilers, err := plan.Procs.compilers(ctx, q, from, to)
	if err != nil || len(compilers) == 0 {
		return ev, err
	}
	w := walker{src: plan.Procs, q: q, depth: map[string]int{}, follow: map[string][2]time.Time{}, p: p, role: map[string]byte{}}
	w.all.add(compilers)
	minT, maxT := compilers[0].Time, compilers[0].Time
	for _, c := range compilers {
		minT, maxT = minTime(minT, c.Time), maxTime(maxT, c.Time)
		w.depth[c.Key] = 0
		w.role[c.Key] = roleCompile
	}
	w.since = minT.Add(-p.Skew).Unix()
	// degrade keeps what was collected when one source fails: the rows say which source is
	// missing (telemetry_gaps) and the table logs the error. Out of time, it gives up.
	degrade := func(source string, err error) error {
		if ctx.Err() != nil {
			return err
		}
		ev.Failed = append(ev.Failed, SourceError{Source: source, Err: err})
		ev.Gaps = append(ev.Gaps, vocab.GapSourceFailedPrefix+source)
		return nil
	}

	// Phase 1: ancestry (five generations), descendants of the compilers (helpers,
	// follow-ups) and of their parents, and starts of the outputs named on command lines.
	var outputs []string
	for _, c := range compilers {
		kind := compilerKind(BaseName(c.Path), c.OriginalName, c.Cmdline)
		inv := ParseInvocation(kind, c.Cmdline, c.Cwd)
		if inv.Output != "" {
			outputs = append(outputs, inv.Output)
		}
		readResponseFiles(ctx, ev, inv.ResponseFiles, read)
	}
	if err := w.rounds(ctx, compilers, compilers, outputs, 5, compilers); err != nil {
		if err := degrade(plan.Procs.name(), err); err != nil {
			return ev, err
		}
	}

	// Files written by the compiles, and by their parents for in-process compiles; parents
	// outside the buffer are looked up by the key or pid their children name.
	if plan.Files != nil {
		// From FollowWindow before the first compile: a page a web server wrote, then compiled.
		files, err := plan.Files.files(ctx, q, w.withRoles("cp"), outputs, w.since-int64(p.FollowWindow/time.Second), maxT.Add(p.CompileWindow).Unix())
		if err != nil {
			if err := degrade(plan.Files.name(), err); err != nil {
				return ev, err
			}
		}
		ev.Files = files
	}
	// Phase 2: executions of what the compiles wrote, and what those started.
	var written []string
	for _, f := range ev.Files {
		if looksLikeArtifact(f.Path, platform != "windows") && !slices.Contains(outputs, f.Path) {
			written = append(written, f.Path)
		}
	}
	if err := w.rounds(ctx, nil, nil, dedupe(written), 3, nil); err != nil {
		if err := degrade(plan.Procs.name(), err); err != nil {
			return ev, err
		}
	}

	// Connections by every related process.
	if plan.Conns != nil {
		for _, part := range chunks(w.withRoles("cpfx"), 50000) {
			conns, err := plan.Conns.conns(ctx, q, part, w.since)
			if err != nil {
				if err := degrade(plan.Conns.name(), err); err != nil {
					return ev, err
				}
				break
			}
			ev.Conns = append(ev.Conns, conns...)
		}
	}
	if err := fillFromLive(ctx, q, w.all.list, w.unseen, p.Skew); err != nil {
		ev.Gaps = append(ev.Gaps, vocab.GapSourceFailedPrefix+"processes")
	}
	ev.Procs = w.all.list
	ev.Loads = w.loads
	if w.truncated {
		ev.Gaps = append(ev.Gaps, vocab.GapLineageTruncated)
	}
	return ev, nil
}

// readResponseFiles hands the response files named on a command line to the core, read once each.
func readResponseFiles(ctx context.Context, ev *Events, paths []string, read ReadFunc) {
	if read == nil {
		return
	}
	for _, path := range paths {
		if _, done := ev.ResponseFiles[path]; done {
			continue
		}
		if ev.ResponseFiles == nil {
			ev.ResponseFiles = map[string]ResponseFile{}
		}
		data, err := read(ctx, path)
		var refusal interface{ RefusalReason() string }
		switch {
		case err == nil:
			ev.ResponseFiles[path] = ResponseFile{Data: data}
		case errors.As(err, &refusal):
			ev.ResponseFiles[path] = ResponseFile{Refused: refusal.RefusalReason()}
		}
	}
}

// walker expands the set of related processes round by round.
type walker struct {
	src    procSource
	q      Querier
	p      Params
	all    procSet
	depth  map[string]int // generations below a compiler; a compiler's parent counts as 2
	since  int64
	unseen []Proc // stand-ins for parents that started before the buffer
	// follow holds, per compiler parent, the window in which its children are follow-ups
	// of a compile: from the first compile it started to FollowWindow after the last.
	follow    map[string][2]time.Time
	truncated bool
	loads     []ImageLoad // artifacts loaded as modules
	// role says why a process was fetched: it decides which of them files and connections
	// are looked up for (ancestors above the parent never matter there).
	role map[string]byte
}

// Process roles in a walk.
const (
	roleCompile  = 'c' // a compiler or a process below it
	roleParent   = 'p' // a compiler's parent
	roleFollowup = 'f' // started by a compiler's parent, or below such a process
	roleExec     = 'x' // an execution of an artifact, or below it
	roleAncestor = 'a' // above a compiler's parent
)

// withRoles returns the fetched processes (and parent stand-ins) that have one of roles.
func (w *walker) withRoles(roles string) []Proc {
	lists := [][]Proc{w.all.list, w.unseen}
	n := 0
	for _, list := range lists {
		for i := range list {
			if strings.IndexByte(roles, w.role[list[i].Key]) >= 0 {
				n++
			}
		}
	}
	out := make([]Proc, 0, n)
	for _, list := range lists {
		for i := range list {
			if strings.IndexByte(roles, w.role[list[i].Key]) >= 0 {
				out = append(out, list[i])
			}
		}
	}
	return out
}

const (
	maxUp       = 5    // generations of ancestry
	maxDown     = 4    // generations below a compiler (a compiler's parent is at 2)
	maxFrontier = 4000 // processes expanded per round; beyond, the busiest trees are cut
)

// parentIdentity is how a compiler names its parent: its key, or its pid.
func parentIdentity(c Proc) string {
	if c.ParentKey != "" {
		return c.ParentKey
	}
	return "pid:" + strconv.FormatInt(c.PPID, 10)
}

func (w *walker) followWindows(compilers []Proc) {
	for _, c := range compilers {
		id := parentIdentity(c)
		win, ok := w.follow[id]
		if !ok {
			win = [2]time.Time{c.Time, c.Time}
		}
		w.follow[id] = [2]time.Time{minTime(win[0], c.Time), maxTime(win[1], c.Time)}
	}
}

// inFollowWindow reports whether f, a child of par, started while par's compiles could
// still be followed up.
func (w *walker) inFollowWindow(par, f Proc) bool {
	win, ok := w.follow[par.Key]
	if !ok && par.PID > 0 {
		win, ok = w.follow["pid:"+strconv.FormatInt(par.PID, 10)]
	}
	if !ok {
		return true
	}
	return !f.Time.Before(win[0].Add(-w.p.Skew)) && !f.Time.After(win[1].Add(w.p.FollowWindow))
}

// rounds asks for parents of up, children of down and starts of paths, then repeats with
// what came back, at most n times. compilers, when given, marks the first round: the
// parents found there are the compilers' own and their children are followed too.
func (w *walker) rounds(ctx context.Context, up, down []Proc, paths []string, n int, compilers []Proc) error {
	upDepth := map[string]int{}
	for _, u := range up {
		upDepth[u.Key] = 0
	}
	if compilers != nil {
		w.followWindows(compilers)
	}
	for i := 0; i < n; i++ {
		r := Related{ParentsOf: up, ChildrenOf: down, Paths: paths, Since: w.since}
		if r.empty() {
			return nil
		}
		got, loads, err := w.src.related(ctx, w.q, r)
		if err != nil {
			return err
		}
		w.loads = append(w.loads, loads...)
		for _, ld := range loads {
			// The loading process: its connections and children are the artifact's.
			host := Proc{Key: ld.ProcKey, PID: ld.PID, Path: ld.Image, Time: ld.Time, Source: ld.Source}
			if !w.all.seen[host.Key] && w.role[host.Key] == 0 {
				w.unseen = append(w.unseen, host)
				w.role[host.Key] = roleExec
			}
		}
		fresh := w.all.add(got)
		ups, downs := indexProcs(up), indexProcs(down)
		var nextUp, nextDown []Proc
		for _, f := range fresh {
			if kid := ups.childOf(f); kid != nil {
				d := upDepth[kid.Key] + 1
				upDepth[f.Key] = d
				if d < maxUp {
					nextUp = append(nextUp, f)
				}
				w.role[f.Key] = roleAncestor
				if i == 0 && compilers != nil {
					// The compilers' parents: their other children are the follow-ups.
					w.role[f.Key] = roleParent
					w.depth[f.Key] = 2
					nextDown = append(nextDown, f)
				}
				continue
			}
			d, role := 1, byte(roleExec) // an execution of a path
			if par := downs.parentOf(f); par != nil {
				d = w.depth[par.Key] + 1
				if w.depth[par.Key] == 2 && !w.inFollowWindow(*par, f) && !inMemoryHost(par) {
					continue // a sibling from long before or after the compiles
				}
				switch w.role[par.Key] {
				case roleParent, roleFollowup:
					role = roleFollowup
				case roleCompile:
					role = roleCompile
				}
			}
			w.role[f.Key] = role
			w.depth[f.Key] = d
			if d < maxDown {
				nextDown = append(nextDown, f)
			}
		}
		if len(nextDown) > maxFrontier {
			sort.SliceStable(nextDown, func(a, b int) bool { return w.depth[nextDown[a].Key] < w.depth[nextDown[b].Key] })
			nextDown = nextDown[:maxFrontier]
			w.truncated = true
		}
		if i == 0 && compilers != nil {
			found := indexProcs(got)
			for _, c := range compilers {
				if (c.ParentKey != "" && !w.all.seen[c.ParentKey]) || (c.ParentKey == "" && c.PPID > 0 && found.parentOf(c) == nil) {
					stand := Proc{Key: c.ParentKey, PID: c.PPID, Time: c.Time}
					w.unseen = append(w.unseen, stand)
					w.depth[stand.Key] = 2
					w.role[stand.Key] = roleParent
					nextDown = append(nextDown, stand)
				}
			}
		}
		up, down, paths = nextUp, nextDown, nil
	}
	return nil
}

// procIndex finds parents and children among a round's processes without a scan per pair.
type procIndex struct {
	byKey       map[string]*Proc
	byPID       map[int64][]*Proc
	byParentKey map[string]*Proc
	byPPID      map[int64][]*Proc
}

func indexProcs(ps []Proc) procIndex {
	ix := procIndex{byKey: map[string]*Proc{}, byPID: map[int64][]*Proc{}, byParentKey: map[string]*Proc{}, byPPID: map[int64][]*Proc{}}
	for i := range ps {
		p := &ps[i]
		ix.byKey[p.Key] = p
		if p.PID > 0 {
			ix.byPID[p.PID] = append(ix.byPID[p.PID], p)
		}
		if p.ParentKey != "" {
			ix.byParentKey[p.ParentKey] = p
		} else if p.PPID > 0 {
			ix.byPPID[p.PPID] = append(ix.byPPID[p.PPID], p)
		}
	}
	return ix
}

// childOf returns an indexed process whose parent par can be.
func (ix procIndex) childOf(par Proc) *Proc {
	if c := ix.byParentKey[par.Key]; c != nil {
		return c
	}
	for _, c := range ix.byPPID[par.PID] {
		if !par.Time.After(c.Time.Add(2 * time.Second)) {
			return c
		}
	}
	return nil
}

// parentOf returns the indexed process that can be c's parent.
func (ix procIndex) parentOf(c Proc) *Proc {
	if c.ParentKey != "" {
		return ix.byKey[c.ParentKey]
	}
	var best *Proc
	for _, p := range ix.byPID[c.PPID] {
		if !p.Time.After(c.Time.Add(2*time.Second)) && (best == nil || p.Time.After(best.Time)) {
			best = p
		}
	}
	return best
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
