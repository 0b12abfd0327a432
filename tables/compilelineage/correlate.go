package compilelineage

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Namespace is the UUID namespace of lineage ids.
var Namespace = uuid.MustParse("6f1c3f4e-9b7a-5d2e-8c41-2a9e0b7d5c13")

// Params tunes the correlation. Zero values take the defaults below.
type Params struct {
	// Skew tolerates clocks and event order: a child may appear up to Skew before its parent.
	Skew time.Duration // default 2s
	// CompileWindow is how long after its start a compiler's writes count (default 5m).
	CompileWindow time.Duration
	// FollowWindow is how long after the compile the parent's activity is attributed to it,
	// for in-memory compiles (default 10m).
	FollowWindow time.Duration
}

func (p Params) withDefaults() Params {
	if p.Skew == 0 {
		p.Skew = 2 * time.Second
	}
	if p.CompileWindow == 0 {
		p.CompileWindow = 5 * time.Minute
	}
	if p.FollowWindow == 0 {
		p.FollowWindow = 10 * time.Minute
	}
	return p
}

// index answers lineage questions over one set of events.
type index struct {
	p        Params
	ev       *Events
	byKey    map[string]*Proc
	byPID    map[int64][]*Proc // sorted by start time
	parent   map[*Proc]*Proc
	children map[*Proc][]*Proc
	byBase   map[string][]*Proc // image base name -> starts, for executions of artifacts
	connsBy  map[string][]int   // conn indexes by process key ("k:") or pid ("p:")
	filesBy  map[string][]int   // file event indexes by writer key or pid, same keys
	pathFile []int              // file events without a writer (pid-less monitors)
	proxies  []*Proc            // starts of programs that run artifacts named on their command line
	loadsBy  map[string][]int   // image loads by the loaded module's base name
	standIns map[string]*Proc   // parents outside the buffer, by key or pid
	// builds are the build starts (msbuild, dotnet build) by start time, with their project
	// folders; sharedRule marks the file events a shared compiler server wrote, sharedOwner
	// holds the build each of them belongs to (nil: none, or ambiguous) and sharedBy the
	// reverse.
	builds      []buildScope
	sharedRule  map[int]*SharedCompilerRule
	sharedFiles []int // the indexes of sharedRule, ascending
	sharedOwner map[int]*Proc
	sharedBy    map[*Proc][]int
}

func keyRef(k string) string { return "k:" + k }
func pidRef(p int64) string  { return "p:" + strconv.FormatInt(p, 10) }

func newIndex(ev *Events, p Params) *index {
	ix := &index{p: p, ev: ev, byKey: make(map[string]*Proc, len(ev.Procs)), byPID: map[int64][]*Proc{},
		parent: map[*Proc]*Proc{}, children: map[*Proc][]*Proc{}}
	for i := range ev.Procs {
		pr := &ev.Procs[i]
		if _, dup := ix.byKey[pr.Key]; dup {
			continue
		}
		ix.byKey[pr.Key] = pr
		if pr.PID > 0 {
			ix.byPID[pr.PID] = append(ix.byPID[pr.PID], pr)
		}
	}
	for _, l := range ix.byPID {
		sort.SliceStable(l, func(i, j int) bool { return startsBefore(l[i], l[j]) })
	}
	for _, pr := range ix.byKey {
		if par := ix.findParent(pr); par != nil {
			ix.parent[pr] = par
			ix.children[par] = append(ix.children[par], pr)
		}
	}
	for _, c := range ix.children {
		sort.SliceStable(c, func(i, j int) bool { return c[i].Time.Before(c[j].Time) })
	}
	ix.standIns = map[string]*Proc{}
	ix.byBase = map[string][]*Proc{}
	for _, pr := range ix.byKey {
		b := BaseName(pr.Path)
		ix.byBase[b] = append(ix.byBase[b], pr)
		if proxyRuleFor(pr) != nil {
			ix.proxies = append(ix.proxies, pr)
		}
		if i := strings.Index(strings.ToLower(pr.Path), ".app/"); i >= 0 {
			b := BaseName(pr.Path[:i+4])
			ix.byBase[b] = append(ix.byBase[b], pr)
		}
	}
	sort.SliceStable(ix.proxies, func(i, j int) bool { return ix.proxies[i].Time.Before(ix.proxies[j].Time) })
	ix.loadsBy = map[string][]int{}
	for i, ld := range ev.Loads {
		b := BaseName(ld.Path)
		ix.loadsBy[b] = append(ix.loadsBy[b], i)
	}
	ix.connsBy = map[string][]int{}
	for i, cn := range ev.Conns {
		if cn.ProcKey != "" {
			ix.connsBy[keyRef(cn.ProcKey)] = append(ix.connsBy[keyRef(cn.ProcKey)], i)
		} else if cn.PID > 0 {
			ix.connsBy[pidRef(cn.PID)] = append(ix.connsBy[pidRef(cn.PID)], i)
		}
	}
	ix.indexSharedWrites()
	ix.filesBy = map[string][]int{}
	for i, f := range ev.Files {
		switch {
		case f.ProcKey != "":
			ix.filesBy[keyRef(f.ProcKey)] = append(ix.filesBy[keyRef(f.ProcKey)], i)
		case f.PID > 0:
			ix.filesBy[pidRef(f.PID)] = append(ix.filesBy[pidRef(f.PID)], i)
		default:
			ix.pathFile = append(ix.pathFile, i)
		}
	}
	return ix
}

// indexSharedWrites finds the builds and the writes of shared compiler servers, and gives
// each such write to the build it belongs to.
func (ix *index) indexSharedWrites() {
	ix.sharedRule, ix.sharedOwner, ix.sharedBy = map[int]*SharedCompilerRule{}, map[int]*Proc{}, map[*Proc][]int{}
	served := false
	for i := range ix.ev.Procs {
		pr := &ix.ev.Procs[i]
		if !servedByServer(pr) || ix.byKey[pr.Key] != pr {
			continue
		}
		served = true
		if !isBuild(pr) {
			continue
		}
		b := buildScope{p: pr, until: minTime(pr.Time.Add(ix.p.CompileWindow), ix.nextStart(pr).Add(-time.Nanosecond))}
		for _, d := range buildFolders(pr) {
			f, sep := folderForm(d)
			b.dirs = append(b.dirs, strings.TrimRight(f, sep)+sep)
		}
		if len(b.dirs) > 0 {
			ix.builds = append(ix.builds, b)
		}
	}
	if !served {
		return
	}
	sort.SliceStable(ix.builds, func(i, j int) bool { return ix.builds[i].p.Time.Before(ix.builds[j].p.Time) })
	for i := range ix.ev.Files {
		f := &ix.ev.Files[i]
		r := ix.serverRule(f)
		if r == nil {
			continue
		}
		ix.sharedRule[i] = r
		ix.sharedFiles = append(ix.sharedFiles, i)
		if b := ix.ownerBuild(f, r); b != nil {
			ix.sharedOwner[i] = b
			ix.sharedBy[b] = append(ix.sharedBy[b], i)
		}
	}
}

// buildScope is a build with its project folders (in folderForm, each ending with its
// separator) and the end of the time it is taken as running: CompileWindow after its start,
// or just before its pid is reused.
type buildScope struct {
	p     *Proc
	dirs  []string
	until time.Time
}

// serverRule returns the shared-compiler rule of a write's writer: from the image the file
// event names, else from the writer's start (key, or pid at that time).
func (ix *index) serverRule(f *FileEvent) *SharedCompilerRule {
	if f.Image != "" {
		if r := sharedCompilerRule(f.Image, ""); r != nil {
			return r
		}
	}
	var w *Proc
	switch {
	case f.ProcKey != "":
		w = ix.byKey[f.ProcKey]
	case f.PID > 0:
		if w = ix.procAt(f.PID, 0, f.Time, nil); w != nil && !ix.ownsPIDEvent(w, f.Time) {
			w = nil
		}
	}
	if w == nil {
		return nil
	}
	return sharedCompilerRule(w.Path, w.Cmdline)
}

// ownerBuild returns the one build a server's write belongs to: a build running at that
// time (from its start, for CompileWindow, until its pid is reused) whose project folder
// holds the write beneath obj\ or bin\; the deepest such folder wins, and a build started
// by another on the same folder is that build. nil when there is none or the choice is
// ambiguous.
func (ix *index) ownerBuild(f *FileEvent, r *SharedCompilerRule) *Proc {
	first := sort.Search(len(ix.builds), func(i int) bool {
		return !ix.builds[i].p.Time.Before(f.Time.Add(-ix.p.CompileWindow - ix.p.Skew))
	})
	path, sep := folderForm(f.Path)
	var best []*Proc
	depth := -1
	for _, b := range ix.builds[first:] {
		if b.p.Time.After(f.Time.Add(ix.p.Skew)) {
			break
		}
		if f.Time.After(b.until) {
			continue
		}
		for _, dir := range b.dirs {
			switch d := r.outputDepth(dir, path, sep); {
			case d > depth:
				best, depth = []*Proc{b.p}, d
			case d == depth && d >= 0 && !slices.Contains(best, b.p):
				best = append(best, b.p)
			}
		}
	}
	outer := slices.DeleteFunc(slices.Clone(best), func(b *Proc) bool { return ix.hasAncestorIn(b, best) })
	if len(outer) != 1 {
		return nil
	}
	return outer[0]
}

// hasAncestorIn reports whether one of p's ancestors (a few levels up) is in set.
func (ix *index) hasAncestorIn(p *Proc, set []*Proc) bool {
	q := p
	for range 6 {
		if q = ix.parent[q]; q == nil {
			return false
		}
		if slices.Contains(set, q) {
			return true
		}
	}
	return false
}

// related returns the indexes, in ascending order, of the events attributed to procs: by
// process key, or by pid when the event has no key.
func related(by map[string][]int, procs []*Proc) []int {
	var out []int
	for _, p := range procs {
		if p.Key != "" {
			out = append(out, by[keyRef(p.Key)]...)
		}
		if p.PID > 0 {
			out = append(out, by[pidRef(p.PID)]...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// startsBefore orders the starts of one pid: by time, then (same second) by pidversion and
// exec sequence where the source has them.
func startsBefore(a, b *Proc) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.PIDVersion != b.PIDVersion {
		return a.PIDVersion < b.PIDVersion
	}
	return a.Seq < b.Seq
}

// findParent resolves a parent by its key when the source gives one, else by pid: the
// latest start of that pid no later than the child (plus skew), so reused pids do not
// join unrelated processes. With a parent pidversion (EndpointSecurity) only a start of
// that very process qualifies, however close the reuse.
func (ix *index) findParent(c *Proc) *Proc {
	if c.ParentKey != "" {
		if par, ok := ix.byKey[c.ParentKey]; ok && par != c {
			return par
		}
		return nil
	}
	return ix.procAt(c.PPID, c.ParentPIDVersion, c.Time, c)
}

// procAt returns the process that had pid at time t; with pidversion > 0, the latest exec
// of the process with that pid and pidversion.
func (ix *index) procAt(pid, pidversion int64, t time.Time, not *Proc) *Proc {
	if pid <= 0 {
		return nil
	}
	var best *Proc
	for _, cand := range ix.byPID[pid] {
		if cand == not || cand.Time.After(t.Add(ix.p.Skew)) || (pidversion > 0 && cand.PIDVersion != pidversion) {
			continue
		}
		best = cand
	}
	return best
}

// standIn returns one shared stand-in for a parent outside the buffer, linked to the
// processes that name it as their parent.
func (ix *index) standIn(par Proc) *Proc {
	id := par.Key
	if id == "" {
		id = pidRef(par.PID) + ":" + strconv.FormatInt(par.PIDVersion, 10)
	}
	if s, ok := ix.standIns[id]; ok {
		return s
	}
	s := &par
	ix.standIns[id] = s
	for i := range ix.ev.Procs {
		q := &ix.ev.Procs[i]
		if ix.byKey[q.Key] != q || ix.parent[q] != nil {
			continue
		}
		if (par.Key != "" && q.ParentKey == par.Key) ||
			(par.Key == "" && q.ParentKey == "" && q.PPID == par.PID && q.ParentPIDVersion == par.PIDVersion) {
			ix.children[s] = append(ix.children[s], q)
		}
	}
	return s
}

// nextStart is when p's pid was next reused: events by that pid after it belong to another
// process. Far in the future when the pid was not seen again. A start with a higher
// pidversion is another process whatever the skew: the pid was reused at that second.
func (ix *index) nextStart(p *Proc) time.Time {
	for _, q := range ix.byPID[p.PID] {
		if q == p {
			continue
		}
		if p.PIDVersion > 0 && q.PIDVersion > 0 && q.PIDVersion != p.PIDVersion {
			if q.PIDVersion > p.PIDVersion && !q.Time.Before(p.Time) {
				return q.Time
			}
			continue
		}
		if q.Time.After(p.Time.Add(ix.p.Skew)) {
			return q.Time
		}
	}
	return time.Unix(1<<40, 0)
}

// lifeStart is the earliest time an event by p's pid can be p's: its start less the skew,
// or its start itself when an earlier process (lower pidversion) held the pid.
func (ix *index) lifeStart(p *Proc) time.Time {
	if p.PIDVersion > 0 {
		for _, q := range ix.byPID[p.PID] {
			if q != p && q.PIDVersion > 0 && q.PIDVersion < p.PIDVersion {
				return p.Time
			}
		}
	}
	return p.Time.Add(-ix.p.Skew)
}

// ownsPIDEvent reports whether an event that names only p's pid, at t, is p's: between its
// start (less the skew) and the next start of that pid.
func (ix *index) ownsPIDEvent(p *Proc, t time.Time) bool {
	return !t.Before(ix.lifeStart(p)) && t.Before(ix.nextStart(p))
}

// descendants returns the processes below p, depth-first, at most depth levels down.
func (ix *index) descendants(p *Proc, depth int) []*Proc {
	var out []*Proc
	var walk func(*Proc, int)
	walk = func(q *Proc, d int) {
		if d == 0 {
			return
		}
		for _, c := range ix.children[q] {
			out = append(out, c)
			walk(c, d-1)
		}
	}
	walk(p, depth)
	return out
}

// Correlate builds one lineage per compile found in the events. It is pure: the same events
// always give the same lineages, in start-time order.
func Correlate(ev *Events, p Params) []Lineage {
	p = p.withDefaults()
	ix := newIndex(ev, p)
	var out []Lineage
	for i := range ev.Procs {
		c := &ev.Procs[i]
		if ix.byKey[c.Key] != c {
			continue // duplicate event of a process already indexed
		}
		kind := compilerKind(BaseName(c.Path), c.OriginalName, c.Cmdline)
		if kind == kindNone || kind == kindHelper || ix.isHelper(c) {
			continue
		}
		out = append(out, ix.lineage(c, kind))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Compiler.Time.Equal(out[j].Compiler.Time) {
			return out[i].Compiler.Time.Before(out[j].Compiler.Time)
		}
		return out[i].Compiler.Key < out[j].Compiler.Key
	})
	return out
}

// isHelper reports whether a compiler process belongs to another compile: it was started,
// directly or through a few levels, by a compiler driver. cvtres and ld started on their own
// are compiles of their own.
func (ix *index) isHelper(c *Proc) bool {
	q := c
	for range 3 {
		par := ix.parent[q]
		if par == nil {
			if q == c && c.ParentPath != "" {
				return isDriverKind(compilerKind(BaseName(c.ParentPath), "", c.ParentCmdline))
			}
			return false
		}
		if isDriverKind(compilerKind(BaseName(par.Path), par.OriginalName, par.Cmdline)) {
			return true
		}
		q = par
	}
	return false
}

func (ix *index) lineage(c *Proc, kind string) Lineage {
	l := Lineage{
		ID:       uuid.NewSHA1(Namespace, []byte(ix.ev.Host+"|"+ix.ev.Platform+"|"+c.Key)).String(),
		Platform: ix.ev.Platform,
		Source:   c.Source,
		Compiler: *c,
	}
	par := ix.parent[c]
	if par != nil {
		l.Parent = *par
	} else {
		// The parent started before the buffer: keep what the compiler's own event says of it,
		// and still follow its writes, children and connections by key or pid.
		l.Parent = Proc{Key: c.ParentKey, PID: c.PPID, PIDVersion: c.ParentPIDVersion, Path: c.ParentPath, Cmdline: c.ParentCmdline}
		if c.ParentKey != "" || c.PPID > 0 {
			par = ix.standIn(l.Parent)
		}
	}
	if placeholderName(l.Parent.Path) {
		l.Parent.Path = ""
	}
	l.ParentClass = ClassifyParent(BaseName(l.Parent.Path))
	l.Ancestry = ix.ancestry(c)

	// Command line and response files.
	inv := ParseInvocation(kind, c.Cmdline, c.Cwd)
	refused := false
	for _, rf := range inv.ResponseFiles {
		f, ok := ix.ev.ResponseFiles[rf]
		if !ok {
			continue
		}
		if f.Refused != "" {
			refused = true
			l.Evidence = append(l.Evidence, vocab.EvidenceResponseRefused)
			continue
		}
		rinv := ParseResponseFile(kind, f.Data, c.Cwd)
		if rinv.Output != "" {
			inv.Output = rinv.Output
		}
		inv.Sources = append(inv.Sources, rinv.Sources...)
		l.Evidence = append(l.Evidence, "output:response_file")
	}

	// The compile's own processes: the compiler and its helpers.
	group := append([]*Proc{c}, ix.descendants(c, 4)...)
	var helpers, compilerChildren []*Proc
	for _, g := range group[1:] {
		if k := compilerKind(BaseName(g.Path), g.OriginalName, g.Cmdline); k != kindNone {
			helpers = append(helpers, g)
		} else if ix.parent[g] == c {
			compilerChildren = append(compilerChildren, g)
		}
	}

	// Artifact: what the compile wrote.
	ix.findArtifact(&l, c, kind, inv, group, par)

	// Executions of the artifact: from its own path, inside its bundle, through a proxy
	// program, or loaded as a module.
	execs := ix.findExecutions(&l, c)

	// Follow-up processes: what the compiling parent (in-memory compiles) and the compiler
	// itself started after the compile, other than compilers.
	var followups []*Proc
	if par != nil {
		for _, ch := range ix.children[par] {
			if ch == c || ch.Time.Before(c.Time) || (ch.Time.After(c.Time.Add(ix.p.FollowWindow)) && !inMemoryHost(par)) {
				continue
			}
			if compilerKind(BaseName(ch.Path), ch.OriginalName, ch.Cmdline) != kindNone {
				continue
			}
			followups = append(followups, ch)
		}
	}
	for _, f := range append(slices.Clone(compilerChildren), followups...) {
		if n := BaseName(f.Path); n != "conhost.exe" {
			l.Followups = append(l.Followups, n)
		}
	}

	// Network.
	ix.findConnections(&l, c, par, group, execs, compilerChildren, followups)

	switch {
	case l.Connections > 0:
		l.Stage = "network"
	case l.Executions > 0:
		l.Stage = "executed"
	case l.Written:
		l.Stage = "written"
	default:
		l.Stage = "compile"
	}
	l.Reasons = ix.reasons(&l, c, kind, inv, helpers)
	l.Gaps = slices.Clone(ix.ev.Gaps)
	if strings.TrimSpace(c.Cmdline) == "" {
		l.Gaps = append(l.Gaps, "no_cmdline")
	}
	if l.Parent.Path == "" {
		l.Gaps = append(l.Gaps, "no_parent")
	}
	if refused {
		l.Gaps = append(l.Gaps, vocab.GapResponseFileRefused)
	}
	l.Evidence = dedupe(l.Evidence)
	return l
}

// findExecutions returns the processes that ran the artifact after it was written, sorted
// by start, and records how each was linked.
func (ix *index) findExecutions(l *Lineage, c *Proc) []*Proc {
	if l.OutputPath == "" {
		return nil
	}
	since := c.Time.Add(-ix.p.Skew)
	if l.Written {
		since = l.WrittenTime.Add(-ix.skewFor(l.writtenSource))
	}
	var execs []*Proc
	seen := map[*Proc]bool{}
	add := func(e *Proc, evidence string) {
		if !seen[e] {
			seen[e] = true
			execs = append(execs, e)
		}
		l.Evidence = append(l.Evidence, evidence)
	}
	for _, e := range ix.byBase[BaseName(l.OutputPath)] {
		if e == c || e.Time.Before(since) {
			continue
		}
		switch {
		case SamePath(e.Path, l.OutputPath):
			add(e, "exec:path")
		case insideBundle(e.Path, l.OutputPath):
			add(e, "exec:bundle")
		}
	}
	for _, e := range ix.proxies {
		if e.Time.Before(since) {
			continue
		}
		if r := proxyRuleFor(e); r != nil && proxyRuns(r, e, l.OutputPath) {
			add(e, "exec:proxy:"+r.Name)
		}
	}
	for _, i := range ix.loadsBy[BaseName(l.OutputPath)] {
		ld := &ix.ev.Loads[i]
		if ld.Time.Before(since) || !SamePath(ld.Path, l.OutputPath) {
			continue
		}
		host := ix.byKey[ld.ProcKey]
		if host == nil {
			host = ix.loadHost(ld)
		}
		add(host, "exec:image_load")
	}
	sort.SliceStable(execs, func(i, j int) bool { return execs[i].Time.Before(execs[j].Time) })
	if len(execs) > 0 {
		l.Executions = len(execs)
		l.FirstExecPID = execs[0].PID
		l.FirstExecTime = execs[0].Time
	}
	return execs
}

// loadHost is a stand-in for a process that loaded the artifact but whose start is outside
// the buffer: its key and pid still find its connections.
func (ix *index) loadHost(ld *ImageLoad) *Proc {
	id := "load:" + ld.ProcKey
	if s, ok := ix.standIns[id]; ok {
		return s
	}
	s := &Proc{Key: ld.ProcKey, PID: ld.PID, Path: ld.Image, Time: ld.Time, Source: ld.Source}
	ix.standIns[id] = s
	return s
}

// ancestry lists process names from the oldest known ancestor down to p.
func (ix *index) ancestry(p *Proc) []string {
	names := []string{BaseName(p.Path)}
	seen := map[*Proc]bool{p: true}
	q := p
	for range 12 {
		par := ix.parent[q]
		if par == nil || seen[par] {
			if !placeholderName(q.ParentPath) {
				names = append(names, BaseName(q.ParentPath))
			}
			break
		}
		seen[par] = true
		names = append(names, BaseName(par.Path))
		q = par
	}
	slices.Reverse(names)
	return names
}

// artifactExts are the file types a compile produces that can run or load.
var artifactExts = []string{".exe", ".dll", ".so", ".dylib", ".sys", ".scr", ".cpl", ".ocx", ".com", ".bin", ".out", ".elf", ".scpt", ".app", ".ko"}

// scratchExts are a compile's temporary files, never its artifact.
var scratchExts = []string{".tmp", ".pdb", ".obj", ".o", ".res", ".cs", ".vb", ".js", ".il", ".cmdline", ".err",
	".out.txt", ".rsp", ".c", ".s", ".d", ".a", ".ilk", ".exp", ".lib", ".cache", ".log", ".manifest"}

func looksLikeArtifact(p string, posix bool) bool {
	n := strings.ToLower(BaseName(p))
	for _, e := range scratchExts {
		if strings.HasSuffix(n, e) {
			return false
		}
	}
	for _, e := range artifactExts {
		if strings.HasSuffix(n, e) {
			return true
		}
	}
	// POSIX executables usually have no extension.
	return posix && !strings.Contains(n, ".")
}

func (ix *index) findArtifact(l *Lineage, c *Proc, kind string, inv Invocation, group []*Proc, par *Proc) {
	posix := !windowsPath(c.Path)
	start, end := c.Time.Add(-ix.p.Skew), c.Time.Add(ix.p.CompileWindow)
	inGroup := func(f *FileEvent) (bool, string) {
		if f.Time.Before(start) || f.Time.After(end) {
			return false, ""
		}
		for _, g := range group {
			if f.ProcKey != "" && f.ProcKey == g.Key {
				return true, "write:process_guid"
			}
			if f.ProcKey == "" && f.PID > 0 && f.PID == g.PID && ix.ownsPIDEvent(g, f.Time) {
				return true, "write:pid"
			}
		}
		return false, ""
	}
	var best *FileEvent
	bestEvidence := ""
	candidates := append(related(ix.filesBy, group), ix.pathFile...)
	client := inv.Output != "" && sharedClient(c)
	switch {
	case kind == kindMSBuild:
		candidates = append(candidates, ix.sharedBy[c]...)
	case client:
		candidates = append(candidates, ix.sharedFiles...)
	}
	slices.Sort(candidates) // keep event order: the last matching write wins
	candidates = slices.Compact(candidates)
	// A build whose project folder is unknown (no working folder in the source) keeps the
	// writes of a server it started, as any compile keeps its children's.
	scoped := kind == kindMSBuild && len(buildFolders(c)) > 0
	for _, i := range candidates {
		f := &ix.ev.Files[i]
		var ok bool
		var evidence string
		if r, shared := ix.sharedRule[i]; shared && !(kind == kindMSBuild && !scoped) {
			// A shared compiler server's write is the build's it belongs to, or the output of
			// the /shared client that names it, never another's for having started the server.
			switch {
			case scoped && ix.sharedOwner[i] == c,
				client && SamePath(f.Path, inv.Output) && !f.Time.Before(start) && !f.Time.After(end) && f.Time.Before(ix.nextStart(c)):
				ok, evidence = true, vocab.EvidenceWriteSharedPrefix+r.Name
			default:
				continue
			}
		} else {
			ok, evidence = inGroup(f)
		}
		if !ok && f.ProcKey == "" && f.PID == 0 && inv.Output != "" && SamePath(f.Path, inv.Output) &&
			!f.Time.Before(start) && !f.Time.After(end) {
			ok, evidence = true, "write:path_time"
		}
		if !ok {
			continue
		}
		if inv.Output != "" && (SamePath(f.Path, inv.Output) || insideBundle(f.Path, inv.Output)) {
			best, bestEvidence = f, evidence // the named output wins; keep its last write
			continue
		}
		if (best == nil || inv.Output == "" || !(SamePath(best.Path, inv.Output) || insideBundle(best.Path, inv.Output))) && looksLikeArtifact(f.Path, posix) {
			best, bestEvidence = f, evidence
		}
	}
	// In-process compile hosts (ASP.NET in w3wp, where only cvtres runs): the host writes the
	// assembly itself around the compile.
	if best == nil && kind == kindCvtres && par != nil {
		for _, i := range related(ix.filesBy, []*Proc{par}) {
			f := &ix.ev.Files[i]
			if f.ProcKey == par.Key && f.ProcKey != "" && !f.Time.Before(start) && !f.Time.After(c.Time.Add(time.Minute)) &&
				looksLikeArtifact(f.Path, false) {
				best, bestEvidence = f, "write:parent_guid"
			}
		}
	}
	switch {
	case best != nil:
		l.OutputPath = best.Path
		if insideBundle(best.Path, inv.Output) {
			// A write inside the named .app bundle (osacompile applets): the bundle is the artifact.
			l.OutputPath = inv.Output
		}
		l.writtenSource = best.Source
		l.Written = true
		l.WrittenTime = best.Time
		l.ArtifactSHA = best.SHA256
		l.OutputSource = "file_event"
		if inv.Output != "" && SamePath(l.OutputPath, inv.Output) {
			l.OutputSource = "both"
		}
		l.Evidence = append(l.Evidence, bestEvidence)
	case inv.Output != "":
		l.OutputPath = inv.Output
		l.OutputSource = "cmdline"
	default:
		l.OutputSource = "none"
	}
}

func (ix *index) findConnections(l *Lineage, c, par *Proc, group, execs, compilerChildren, followups []*Proc) {
	type origin struct {
		name     string
		procs    []*Proc
		from, to time.Time
		evidence string
	}
	var artifactProcs []*Proc
	for _, e := range execs {
		artifactProcs = append(artifactProcs, e)
		artifactProcs = append(artifactProcs, ix.descendants(e, 3)...)
	}
	var childProcs []*Proc
	for _, ch := range compilerChildren {
		childProcs = append(childProcs, ch)
		childProcs = append(childProcs, ix.descendants(ch, 3)...)
	}
	far := time.Unix(1<<40, 0)
	origins := []origin{
		{"artifact", artifactProcs, time.Time{}, far, "net:artifact"},
		{"compiler", group, time.Time{}, far, "net:compiler"},
		// What an in-memory compile host (MSBuild inline task) started after compiling.
		{"compiler", childProcs, time.Time{}, far, "net:compiler_child"},
	}
	if par != nil {
		parentProcs := []*Proc{par}
		for _, f := range followups {
			parentProcs = append(parentProcs, f)
			parentProcs = append(parentProcs, ix.descendants(f, 3)...)
		}
		until := c.Time.Add(ix.p.FollowWindow)
		if inMemoryHost(par) {
			until = far // the host keeps the compiled code for its whole life
		}
		origins = append(origins, origin{"parent", parentProcs, c.Time.Add(-ix.p.Skew), until, "net:parent"})
	}
	counted := map[int]bool{}
	for _, o := range origins {
		n := 0
		var first *Conn
		for _, i := range related(ix.connsBy, o.procs) {
			cn := &ix.ev.Conns[i]
			if counted[i] {
				continue
			}
			if !cn.Time.IsZero() && (cn.Time.Before(o.from) || cn.Time.After(o.to)) {
				continue
			}
			for _, p := range o.procs {
				match := (cn.ProcKey != "" && cn.ProcKey == p.Key) ||
					(cn.ProcKey == "" && cn.PID > 0 && cn.PID == p.PID &&
						(cn.Time.IsZero() || ix.ownsPIDEvent(p, cn.Time)))
				if !match {
					continue
				}
				// A process's connection may be logged a moment before its start event.
				counted[i] = true
				if o.name != "artifact" && isBuildFetch(p, cn.Port) {
					l.Evidence = append(l.Evidence, "net:build_tool_fetch")
					break
				}
				n++
				if first == nil || cn.Time.Before(first.Time) {
					first = cn
				}
				break
			}
		}
		if n == 0 {
			continue
		}
		l.Connections += n
		if l.ConnectionFrom == "" {
			l.ConnectionFrom = o.name
			l.FirstRemote = first.Remote
			l.FirstPort = first.Port
		}
		ev := o.evidence
		if first.ProcKey != "" {
			ev += "_guid"
		} else if first.Time.IsZero() {
			ev += "_open_socket"
		} else {
			ev += "_pid"
		}
		l.Evidence = append(l.Evidence, ev)
	}
}

func (ix *index) reasons(l *Lineage, c *Proc, kind string, inv Invocation, helpers []*Proc) []string {
	var r []string
	add := func(code string) {
		if !slices.Contains(r, code) {
			r = append(r, code)
		}
	}
	win := windowsKind(kind)
	parent := stem(l.Parent.Path)
	name := stem(c.Path)

	if kind == kindDotNet && (name == "csc" || name == "vbc" || stem(c.OriginalName) == "csc" || stem(c.OriginalName) == "vbc") && vocab.Has(vocab.ListElasticDotNetParents, parent) {
		add("parent_elastic_list")
	}
	// Office and web servers usually start compilers through a shell (cmd /c, sh -c): judge
	// the first ancestor above up to two shells, but stop at explorer, the user's own shell.
	anc := l.Ancestry[:max(0, len(l.Ancestry)-1)]
	effective := l.ParentClass
	for i, steps := len(anc)-1, 0; i >= 0 && steps < 3; i, steps = i-1, steps+1 {
		effective = ClassifyParent(anc[i])
		if effective != ClassShell || stem(anc[i]) == "explorer" {
			break
		}
	}
	for _, cl := range []string{l.ParentClass, effective} {
		switch cl {
		case ClassOffice:
			add("parent_office")
		case ClassWebServer:
			add("parent_web_server")
		}
	}
	if parent == "powershell" || parent == "pwsh" {
		pc := " " + strings.ToLower(l.Parent.Cmdline) + " "
		if vocab.ContainsAny(vocab.ListEncodedPowerShell, pc) {
			add("parent_encoded_powershell")
		}
	}
	devAncestry := false
	for i, a := range anc {
		s := strings.TrimSuffix(a, ".exe")
		if vocab.Has(vocab.ListRemoteExecHosts, s) && i >= len(anc)-3 {
			add("parent_remote_admin")
		}
		if cl := ClassifyParent(a); cl == ClassDevTool || cl == ClassBuildSystem {
			devAncestry = true
		}
		if vocab.Has(vocab.ListNetworkTools, s) || vocab.Has(vocab.ListNetworkTools, versionless(s)) {
			add("network_tool_ancestry")
		}
	}
	// A project or solution outside temp folders built from a terminal is how developers
	// build by hand: that is a development environment too.
	terminalBuild := false
	if kind == kindMSBuild && (l.ParentClass == ClassShell || l.ParentClass == ClassScriptHost) {
		for _, s := range inv.Sources {
			ls := strings.ToLower(s)
			if (strings.HasSuffix(ls, "proj") || strings.HasSuffix(ls, ".sln")) && !UserWritable(s) &&
				!strings.Contains(NormalizePath(s), `\windows\`) {
				terminalBuild = true
			}
		}
		// `dotnet build` / `msbuild` with no project argument builds the project in the working
		// folder: a developer's folder (not temp, not Windows) is a development build too.
		if len(inv.Sources) == 0 && c.Cwd != "" && !UserWritable(c.Cwd+`\`) && !strings.Contains(NormalizePath(c.Cwd), `\windows\`) &&
			!placeholderName(c.Cwd) {
			terminalBuild = true
		}
	}
	if win && kind != kindCvtres && !devAncestry && !terminalBuild && !devInstall(c.Path) {
		switch l.ParentClass {
		case ClassScriptHost, ClassOffice, ClassLOLBin, ClassShell, ClassUnknown, ClassRemoteAdmin:
			add("user_space_parent_non_dev")
		}
	}
	if l.OutputPath != "" && UserWritable(l.OutputPath) {
		if sr := scratchRule(l.OutputPath, l.Ancestry); sr != nil {
			l.Evidence = append(l.Evidence, "scratch:"+sr.Name)
		} else {
			add("temp_output")
		}
	}
	if l.OutputPath != "" && hiddenPath(l.OutputPath) {
		add("hidden_path")
	}
	if l.OutputPath != "" && webRoot(l.OutputPath) {
		add("web_root_output")
	}
	for _, s := range inv.Sources {
		if !UserWritable(s) || BuildScratch(s) {
			continue
		}
		if sr := scratchRule(s, l.Ancestry); sr != nil {
			l.Evidence = append(l.Evidence, "scratch:"+sr.Name)
			continue
		}
		add("temp_source")
	}
	for _, rf := range inv.ResponseFiles {
		if strings.HasSuffix(strings.ToLower(rf), ".cmdline") {
			add("cmdline_tempfile")
		}
	}
	if o := stem(c.OriginalName); o != "" && o != name && windowsCompiler(o) != kindNone && kind != kindRoslyn {
		add("renamed_compiler")
	}
	// cvtres started by something that is no compiler or compile host: a renamed csc or vbc,
	// seen even where no PE original name is collected (process_etw_events, Security 4688).
	if kind == kindCvtres && parent != "" && !vocab.Has(vocab.ListCvtresParents, parent) {
		add("renamed_compiler")
	}
	if win && c.Path != "" && windowsPath(c.Path) && !expectedWindowsCompilerDir(c.Path) {
		add("unusual_compiler_path")
	}
	if kind == kindMSBuild {
		proj := ""
		for _, s := range inv.Sources {
			proj = strings.ToLower(s)
		}
		if proj != "" && !(strings.HasSuffix(proj, "proj") || strings.HasSuffix(proj, ".sln") || strings.HasSuffix(proj, ".targets")) {
			add("msbuild_inline_project")
		}
	}
	compileEvidence := len(inv.Sources) > 0 || len(helpers) > 0 || l.Written
	if win && kind != kindMSBuild && len(inv.Args) <= 1 && len(inv.Sources) == 0 {
		add("single_argument")
	}
	if inv.NotCompile || (kind == kindDotNet && !compileEvidence && inv.Output == "") {
		add("not_a_compile")
	}
	for _, e := range l.Evidence {
		if strings.HasPrefix(e, "net:compiler_") && !strings.HasPrefix(e, "net:compiler_child") {
			add("compiler_network")
		}
	}
	if user := webServerUser(c.User); user && !slices.Contains(r, "parent_web_server") {
		add("parent_web_server")
	}
	if parent == "w3wp" && (kind == kindDotNet || kind == kindCvtres) && aspNetCompile(l, inv) {
		switch {
		case ix.pageWrittenBy(l.Parent, c):
			add("web_page_written_by_server")
		case len(l.Followups) == 0 && l.Connections == 0 && l.Executions == 0:
			// A page compile after an app-pool recycle: routine.
			r = slices.DeleteFunc(r, func(code string) bool {
				return code == "parent_web_server" || code == "cmdline_tempfile" || code == "unusual_compiler_path" ||
					code == "user_space_parent_non_dev"
			})
			l.Evidence = append(l.Evidence, "quiet:aspnet_recycle")
		}
	}
	return r
}

// aspNetCompile reports whether a compile writes into ASP.NET's Temporary ASP.NET Files.
func aspNetCompile(l *Lineage, inv Invocation) bool {
	for _, p := range append([]string{l.OutputPath}, inv.ResponseFiles...) {
		if strings.Contains(NormalizePath(p), aspNetTempDir) {
			return true
		}
	}
	return false
}

// pageWrittenBy reports whether the web server process wrote a page (.aspx, ...) in the
// follow window before the compile: a webshell it then compiles.
func (ix *index) pageWrittenBy(server Proc, c *Proc) bool {
	if server.Key == "" && server.PID == 0 {
		return false
	}
	for _, i := range related(ix.filesBy, []*Proc{&server}) {
		f := &ix.ev.Files[i]
		if f.Time.After(c.Time.Add(ix.p.Skew)) || f.Time.Before(c.Time.Add(-ix.p.FollowWindow)) {
			continue
		}
		lp := strings.ToLower(f.Path)
		if vocab.Any(vocab.ListWebPageExts, func(e string) bool { return strings.HasSuffix(lp, e) }) &&
			!strings.Contains(NormalizePath(f.Path), aspNetTempDir) {
			return true
		}
	}
	return false
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// String is a one-line summary, handy in test failures.
func (l Lineage) String() string {
	return fmt.Sprintf("%s %s<-%s stage=%s out=%q reasons=%v", l.ID[:8], BaseName(l.Compiler.Path), BaseName(l.Parent.Path),
		l.Stage, l.OutputPath, l.Reasons)
}
