package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Node kinds of a lineage graph.
const (
	KindAncestor = "ancestor"
	KindParent   = "parent"
	KindCompiler = "compiler"
	KindFollowup = "followup"
	KindArtifact = "artifact"
	KindExec     = "execution"
	KindConn     = "connection"
	KindGap      = "gap"
)

// Node is one box of the drawing. Col and Row place it on the grid; X and Y
// are its top-left corner in pixels.
type Node struct {
	ID      string
	Kind    string
	Label   string   // first line, bold
	Lines   []string // further short lines
	Detail  string   // everything known, shown on hover and click
	Missing bool     // telemetry gap: drawn dashed
	Col     int
	Row     int
	X, Y    int
}

// Edge joins two nodes; Missing edges are telemetry gaps, drawn dashed.
type Edge struct {
	From, To string
	Label    string
	Missing  bool
}

// Graph is a laid-out lineage.
type Graph struct {
	Nodes         []Node
	Edges         []Edge
	Width, Height int
}

// Layout sizes in pixels.
const (
	nodeW   = 186
	nodeH   = 70
	colStep = 296
	rowStep = 96
	margin  = 16
)

// Build lays out the lineage of an alert left to right: ancestry, parent,
// compiler, then the artifact it wrote with the compiler's follow-ups below
// it, the artifact's execution, and the connection made by whichever part
// of the chain connected out. Gaps in the telemetry become dashed nodes and
// edges where the missing link would be.
func Build(v *Alert) Graph {
	var g Graph
	add := func(n Node) string {
		n.X = margin + n.Col*colStep
		n.Y = margin + n.Row*rowStep
		g.Nodes = append(g.Nodes, n)
		return n.ID
	}
	link := func(from, to, label string, missing bool) {
		g.Edges = append(g.Edges, Edge{From: from, To: to, Label: label, Missing: missing})
	}
	gaps := map[string]bool{}
	for _, gp := range v.Gaps {
		gaps[gp] = true
	}

	col := 0
	prev := ""
	for i, name := range v.Ancestors {
		id := add(Node{ID: fmt.Sprintf("anc%d", i), Kind: KindAncestor, Label: name, Lines: []string{"ancestor"},
			Detail: "ancestor: " + name, Col: col})
		if prev != "" {
			link(prev, id, "started", false)
		}
		prev, col = id, col+1
	}

	parentMissing := v.Parent.Name == "" && v.Parent.PID == 0
	if parentMissing {
		why := gapWords(v.Gaps, vocab.GapNoParent, vocab.GapNoProcessEvents)
		if why == "" {
			why = "not in the telemetry"
		}
		add(Node{ID: "parent", Kind: KindGap, Label: "parent unknown", Lines: []string{why}, Missing: true,
			Detail: "parent: not observed (" + why + ")", Col: col})
	} else {
		add(Node{ID: "parent", Kind: KindParent, Label: v.Parent.Name, Lines: procLines(v.Parent, "parent "+v.Parent.Class),
			Detail: procDetail("parent", v.Parent), Col: col})
	}
	if prev != "" {
		link(prev, "parent", "started", parentMissing)
	}
	col++
	cc := col
	add(Node{ID: "compiler", Kind: KindCompiler, Label: v.Compiler.Name, Lines: procLines(v.Compiler, "compiler"),
		Detail: procDetail("compiler", v.Compiler), Col: cc})
	link("parent", "compiler", "started", parentMissing)

	last := "compiler"
	lastCol := cc
	switch {
	case v.ArtifactPath != "":
		written := "not seen written"
		if v.ArtifactWritten {
			written = "written " + clock(v.WrittenTime)
		}
		lines := []string{written}
		if v.ArtifactSHA256 != "" {
			lines = append(lines, "sha256 "+short(v.ArtifactSHA256, 12))
		}
		add(Node{ID: "artifact", Kind: KindArtifact, Label: baseName(v.ArtifactPath), Lines: lines,
			Detail: artifactDetail(v), Col: cc + 1})
		label := evidenceLabel(v.Evidence, "write:", "output:", "response_file:")
		missing := !v.ArtifactWritten
		if missing {
			label = joinNonEmpty(label, "write not observed", gapWords(v.Gaps, vocab.GapNoFileEvents, vocab.GapFileEventsWithoutID))
		}
		link("compiler", "artifact", label, missing)
		last, lastCol = "artifact", cc+1
	case gaps[vocab.GapNoFileEvents]:
		add(Node{ID: "artifact", Kind: KindGap, Label: "artifact unknown", Lines: []string{vocab.GapNoFileEvents}, Missing: true,
			Detail: "artifact: not observed (no_file_events)", Col: cc + 1})
		link("compiler", "artifact", vocab.GapNoFileEvents, true)
	}

	for i, f := range v.Followups {
		id := add(Node{ID: fmt.Sprintf("fu%d", i), Kind: KindFollowup, Label: f, Lines: []string{"follow-up process"},
			Detail: "follow-up process (started by the compiler or its parent after the compile): " + f, Col: cc + 1, Row: i + 1})
		link("compiler", id, "follow-up", false)
	}

	if v.Executions > 0 && v.ArtifactPath != "" {
		lines := []string{}
		if v.ExecPID > 0 {
			lines = append(lines, fmt.Sprintf("pid %d", v.ExecPID))
		}
		lines = append(lines, fmt.Sprintf("%s, %d run(s)", clock(v.ExecTime), v.Executions))
		how := execHow(v.Evidence)
		if how != "" {
			lines = append(lines, how)
		}
		add(Node{ID: "exec", Kind: KindExec, Label: baseName(v.ArtifactPath), Lines: lines,
			Detail: fmt.Sprintf("execution of %s\npid: %s\nfirst run: %s\nruns: %d%s", v.ArtifactPath, pidText(v.ExecPID), stamp(v.ExecTime), v.Executions, prefixed("\nhow: ", how)),
			Col:    cc + 2})
		link("artifact", "exec", evidenceLabel(v.Evidence, "exec:"), false)
		last, lastCol = "exec", cc+2
	}

	if v.Connections > 0 {
		from, at, row := last, lastCol+1, 0
		switch v.ConnOrigin {
		case vocab.OriginCompiler:
			from, at, row = "compiler", cc+2, len(v.Followups)+1
		case vocab.OriginParent:
			from, at, row = "parent", cc+2, len(v.Followups)+1
		}
		if row > 0 && at <= lastCol {
			at = lastCol + 1
		}
		addr := v.RemoteAddress
		if v.RemotePort > 0 {
			addr = fmt.Sprintf("%s:%d", hostPort(v.RemoteAddress), v.RemotePort)
		}
		add(Node{ID: "conn", Kind: KindConn, Label: dash(addr), Lines: []string{fmt.Sprintf("%d connection(s)", v.Connections), "from " + dash(v.ConnOrigin)},
			Detail: fmt.Sprintf("outbound connection\nremote: %s\nconnections: %d\nmade by: %s", dash(addr), v.Connections, connWho(v)),
			Col:    at, Row: row})
		label := evidenceLabel(v.Evidence, "net:"+v.ConnOrigin)
		if label == "" {
			label = evidenceLabel(v.Evidence, "net:")
		}
		link(from, "conn", label, false)
	} else if why := gapWords(v.Gaps, vocab.GapNoNetworkEvents, vocab.GapNetworkSnapshot); why != "" {
		add(Node{ID: "conn", Kind: KindGap, Label: "network unknown", Lines: []string{why}, Missing: true,
			Detail: "connections: not observed (" + why + ")", Col: lastCol + 1})
		link(last, "conn", why, true)
	}

	// Gap nodes of the whole lineage hang below the compiler, under its follow-ups and connection.
	row := 1 + len(v.Followups)
	if v.Connections > 0 && v.ConnOrigin != vocab.OriginArtifact {
		row++
	}
	if gaps[vocab.GapLineageTruncated] {
		add(Node{ID: "truncated", Kind: KindGap, Label: "more not followed", Lines: []string{vocab.GapLineageTruncated}, Missing: true,
			Detail: "the process tree was cut to bound the work (lineage_truncated): executions, follow-ups or connections may be missing",
			Col:    cc + 1, Row: row})
		link("compiler", "truncated", vocab.GapLineageTruncated, true)
		row++
	}
	for i, gp := range v.Gaps { // ids are ours, never telemetry text: they go into attributes unescaped
		table, ok := strings.CutPrefix(gp, vocab.GapSourceFailedPrefix)
		if !ok {
			continue
		}
		id := add(Node{ID: fmt.Sprintf("failed%d", i), Kind: KindGap, Label: "source failed", Lines: []string{table}, Missing: true,
			Detail: "the query on " + table + " failed: the links it would give are missing (" + gp + ")", Col: cc + 1, Row: row})
		link("compiler", id, gp, true)
		row++
	}

	for _, n := range g.Nodes {
		g.Width = max(g.Width, n.X+nodeW+margin)
		g.Height = max(g.Height, n.Y+nodeH+margin)
	}
	return g
}

// Node returns the node with that id.
func (g *Graph) Node(id string) (Node, bool) {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

func procLines(p Proc, what string) []string {
	var l []string
	var who []string
	if p.PID > 0 {
		who = append(who, fmt.Sprintf("pid %d", p.PID))
	}
	if p.User != "" {
		who = append(who, "user "+p.User)
	}
	if len(who) > 0 {
		l = append(l, strings.Join(who, " · "))
	}
	if p.Time > 0 {
		l = append(l, stamp(p.Time))
	} else {
		l = append(l, strings.TrimSpace(what))
	}
	return l
}

func procDetail(what string, p Proc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", what, dash(p.Name))
	fmt.Fprintf(&b, "path: %s\n", dash(p.Path))
	fmt.Fprintf(&b, "pid: %s\n", pidText(p.PID))
	if p.User != "" {
		fmt.Fprintf(&b, "user: %s\n", p.User)
	}
	if p.Time > 0 {
		fmt.Fprintf(&b, "started: %s\n", stamp(p.Time))
	}
	if p.Class != "" {
		fmt.Fprintf(&b, "class: %s\n", p.Class)
	}
	if p.GUID != "" {
		fmt.Fprintf(&b, "process key: %s\n", p.GUID)
	}
	fmt.Fprintf(&b, "command line: %s", dash(p.Cmdline))
	return b.String()
}

func artifactDetail(v *Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "artifact: %s\n", v.ArtifactPath)
	fmt.Fprintf(&b, "output named by: %s\n", dash(v.OutputSource))
	if v.ArtifactWritten {
		fmt.Fprintf(&b, "written: %s\n", stamp(v.WrittenTime))
	} else {
		b.WriteString("written: not observed\n")
	}
	fmt.Fprintf(&b, "sha256: %s", dash(v.ArtifactSHA256))
	return b.String()
}

func connWho(v *Alert) string {
	switch v.ConnOrigin {
	case vocab.OriginArtifact:
		return "the executed artifact or its children"
	case vocab.OriginCompiler:
		return "the compiler, its helpers or what it started (in-memory compile host)"
	case vocab.OriginParent:
		return "the compiling parent after the compile (in-memory: the parent ran the compiled code)"
	}
	return dash(v.ConnOrigin)
}

// evidenceLabel joins the link evidence entries with one of the prefixes.
func evidenceLabel(ev []string, prefixes ...string) string {
	var out []string
	for _, e := range ev {
		for _, p := range prefixes {
			if strings.HasPrefix(e, p) {
				out = append(out, e)
				break
			}
		}
	}
	return strings.Join(out, ", ")
}

// execHow says how the artifact was run when it was not started from its own path: through a proxy
// (exec:proxy:rundll32) or loaded as a module (exec:image_load).
func execHow(ev []string) string {
	for _, e := range ev {
		if proxy, ok := strings.CutPrefix(e, vocab.EvidenceExecProxyPrefix); ok {
			return "via " + proxy
		}
		if e == vocab.EvidenceExecImageLoad {
			return "loaded as a module"
		}
	}
	return ""
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// gapWords lists which of the named gaps the row has.
func gapWords(gaps []string, names ...string) string {
	var out []string
	for _, g := range gaps {
		for _, n := range names {
			if g == n {
				out = append(out, g)
			}
		}
	}
	return strings.Join(out, ", ")
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

func stamp(sec int64) string {
	if sec <= 0 {
		return "-"
	}
	return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05Z")
}

func clock(sec int64) string {
	if sec <= 0 {
		return "time unknown"
	}
	return time.Unix(sec, 0).UTC().Format("15:04:05Z")
}

func pidText(pid int64) string {
	if pid <= 0 {
		return "-"
	}
	return fmt.Sprint(pid)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// hostPort brackets an IPv6 address for address:port display.
func hostPort(addr string) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]"
	}
	return addr
}

// baseName is the last element of a Windows or POSIX path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}

// dirName is everything before the last separator ("" when none).
func dirName(p string) string {
	i := strings.LastIndexAny(p, `/\`)
	switch {
	case i < 0:
		return ""
	case i == 0:
		return p[:1]
	case i == 2 && p[1] == ':':
		return p[:3] // C:\
	}
	return p[:i]
}

// short cuts s to n runes, marking the cut with an ellipsis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
