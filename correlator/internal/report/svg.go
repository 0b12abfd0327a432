package report

import (
	"fmt"
	"html"
	"strings"
)

// SVG draws a laid-out graph. prefix makes the element ids unique within a
// page (ids from telemetry never reach an id attribute). Every text from
// telemetry is escaped; the full detail of each node is in its <title>
// (shown on hover, and under the drawing on click by the page's script).
func SVG(g Graph, prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="lineage" id="%s" width="%d" height="%d" style="max-width:%dpx" viewBox="0 0 %d %d" role="img">`+"\n",
		prefix, g.Width, g.Height, g.Width, g.Width, g.Height)
	fmt.Fprintf(&b, `<defs><marker id="%s-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`+"\n", prefix)
	pos := map[string]Node{}
	for _, n := range g.Nodes {
		pos[n.ID] = n
	}
	for _, e := range g.Edges {
		a, b2 := pos[e.From], pos[e.To]
		x1, y1 := a.X+nodeW, a.Y+nodeH/2
		x2, y2 := b2.X, b2.Y+nodeH/2
		if b2.Col == a.Col { // below in the same column
			x1, y1 = a.X+nodeW/2, a.Y+nodeH
			x2, y2 = b2.X+nodeW/2, b2.Y
		}
		mx := (x1 + x2) / 2
		cls := "edge"
		if e.Missing {
			cls += " missing"
		}
		fmt.Fprintf(&b, `<g class="%s" data-from="%s" data-to="%s"><path d="M%d,%d C%d,%d %d,%d %d,%d" marker-end="url(#%s-arrow)"/>`,
			cls, e.From, e.To, x1, y1, mx, y1, mx, y2, x2, y2, prefix)
		if e.Label != "" {
			// The gap between columns holds about 20 characters; the whole label is the edge's title.
			lx, ly := (x1+x2)/2, (y1+y2)/2-6
			fmt.Fprintf(&b, `<title>%s</title><text class="elabel" x="%d" y="%d" text-anchor="middle">%s</text>`, esc(e.Label), lx, ly, esc(short(e.Label, 20)))
		}
		b.WriteString("</g>\n")
	}
	for _, n := range g.Nodes {
		cls := "node kind-" + n.Kind
		if n.Missing {
			cls += " missing"
		}
		fmt.Fprintf(&b, `<g class="%s" data-node="%s" data-kind="%s" tabindex="0" transform="translate(%d,%d)">`,
			cls, n.ID, n.Kind, n.X, n.Y)
		fmt.Fprintf(&b, `<title>%s</title><rect width="%d" height="%d" rx="6"/>`, esc(n.Detail), nodeW, nodeH)
		fmt.Fprintf(&b, `<text class="name" x="10" y="20">%s</text>`, esc(short(n.Label, 24)))
		for i, l := range n.Lines {
			if i >= 2 {
				break
			}
			fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`, 38+i*16, esc(short(l, 27)))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// esc escapes text for the SVG (HTML and XML alike): markup characters
// become entities, and characters XML forbids even escaped (C0 and C1
// controls other than tab and newline, U+FFFE, U+FFFF, invalid UTF-8)
// become U+FFFD, so the drawing stays well-formed whatever the telemetry.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0xfffe || r == 0xffff:
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
	return html.EscapeString(s)
}
