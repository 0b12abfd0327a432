package report

import (
	"fmt"
	"strconv"
	"strings"
)

// Tree prints the graph as a text tree, the way `correlator explain` shows
// it: each node under the one it came from, the edge's link evidence in
// brackets, telemetry gaps marked "missing". Telemetry text is printed with
// control characters escaped, so it cannot drive the terminal.
func Tree(g Graph) string {
	children := map[string][]Edge{}
	incoming := map[string]bool{}
	for _, e := range g.Edges {
		children[e.From] = append(children[e.From], e)
		incoming[e.To] = true
	}
	nodes := map[string]Node{}
	for _, n := range g.Nodes {
		nodes[n.ID] = n
	}
	var b strings.Builder
	var walk func(id, indent string, seen map[string]bool)
	walk = func(id, indent string, seen map[string]bool) {
		kids := children[id]
		for i, e := range kids {
			if seen[e.To] {
				continue
			}
			seen[e.To] = true
			branch, next := "├─", "│  "
			if i == len(kids)-1 {
				branch, next = "└─", "   "
			}
			arrow := "─> "
			if e.Missing {
				arrow = " ╌> missing: "
			}
			label := ""
			if e.Label != "" {
				label = "[" + Clean(e.Label) + "]"
			}
			fmt.Fprintf(&b, "%s%s%s%s%s\n", indent, branch, label, arrow, nodeText(nodes[e.To]))
			walk(e.To, indent+next, seen)
		}
	}
	for _, n := range g.Nodes {
		if incoming[n.ID] {
			continue
		}
		b.WriteString(nodeText(n) + "\n")
		walk(n.ID, "", map[string]bool{n.ID: true})
	}
	return b.String()
}

func nodeText(n Node) string {
	s := n.Kind + " " + Clean(n.Label)
	if len(n.Lines) > 0 {
		parts := make([]string, len(n.Lines))
		for i, l := range n.Lines {
			parts[i] = Clean(l)
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	switch n.Kind {
	case KindParent, KindCompiler:
		if _, cmd, ok := strings.Cut(n.Detail, "command line: "); ok {
			s += ": " + Clean(cmd)
		}
	case KindArtifact:
		if p, _, ok := strings.Cut(strings.TrimPrefix(n.Detail, "artifact: "), "\n"); ok {
			s += " " + Clean(p)
		}
	}
	return s
}

// PlaybookText prints a playbook for the terminal.
func PlaybookText(p Playbook) string {
	var b strings.Builder
	b.WriteString("triage:\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, Clean(s))
	}
	b.WriteString("queries:\n")
	for _, q := range p.Queries {
		fmt.Fprintf(&b, "  -- %s (%s)\n  %s\n  %s\n", q.Name, q.Table, Clean(q.SQL), Clean(q.Command))
	}
	return b.String()
}

// Clean escapes control characters and invalid UTF-8 for a terminal; other
// text is returned as it is.
func Clean(s string) string {
	if printable(s) {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
