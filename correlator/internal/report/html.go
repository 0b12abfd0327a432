package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"points": func(p float64) string { return fmt.Sprintf("%+.1f", p) },
	"score":  func(p float64) string { return fmt.Sprintf("%.1f", p) },
	"ratio":  func(p float64) string { return fmt.Sprintf("x%.3g", p) },
	"stamp":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"pid":    pidText,
	"dash":   dash,
}).Parse(pageHTML))

// Page is what one report shows.
type Page struct {
	Title     string
	Source    string    // where the alerts came from (files, state store)
	Generated time.Time // when the page was made
	Alerts    []Alert
}

type pageAlert struct {
	Alert
	N        int
	SVG      template.HTML
	Playbook Playbook
}

type hostItem struct {
	Alert
	Links []riskLink
}

type riskLink struct {
	RiskLineage
	N int // the lineage's section, -1 when the page does not hold it
}

type pageData struct {
	Page
	Items                            []pageAlert
	HostItems                        []hostItem
	Hosts, Roles, Severities, Stages []string
	Decisions                        []string
	Counts                           map[string]int
}

// severityOrder and stageOrder order the filter choices.
var (
	severityOrder = []string{"critical", "high", "medium", "low", "informational"}
	stageOrder    = []string{"network", "executed", "written", "compile"}
)

// WriteHTML writes the page: one self-contained HTML document with inline
// styles, inline SVG drawings and a small inline script for the filters and
// the node details; it loads nothing from anywhere (its Content Security
// Policy forbids it).
func WriteHTML(w io.Writer, p Page) error {
	d := pageData{Page: p, Counts: map[string]int{}}
	hosts, roles, sev, stages, dec := set{}, set{}, set{}, set{}, set{}
	section := map[string]int{}
	for i := range p.Alerts {
		a := &p.Alerts[i]
		if a.HostRisk != nil {
			continue
		}
		n := len(d.Items)
		section[a.LineageID] = n
		g := Build(a)
		d.Items = append(d.Items, pageAlert{Alert: *a, N: n, SVG: template.HTML(SVG(g, fmt.Sprintf("g%d", n))), Playbook: Triage(a)})
		hosts.add(a.Host)
		roles.add(a.Role)
		sev.add(a.Severity)
		stages.add(a.Stage)
		dec.add(a.Decision)
		d.Counts[a.Decision]++
	}
	for _, a := range p.Alerts {
		if a.HostRisk == nil {
			continue
		}
		h := hostItem{Alert: a}
		for _, l := range a.HostRisk.Lineages {
			n, ok := section[l.LineageID]
			if !ok {
				n = -1
			}
			h.Links = append(h.Links, riskLink{RiskLineage: l, N: n})
		}
		d.HostItems = append(d.HostItems, h)
		hosts.add(a.Host)
		roles.add(a.Role)
		sev.add(a.Severity)
		d.Counts["host risk"]++
	}
	d.Hosts, d.Roles = hosts.sorted(nil), roles.sorted(nil)
	d.Severities, d.Stages = sev.sorted(severityOrder), stages.sorted(stageOrder)
	d.Decisions = dec.sorted([]string{DecisionAlert, DecisionSuppressed, DecisionBelow})
	if err := pageTmpl.Execute(w, d); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

type set map[string]bool

func (s set) add(v string) { s[v] = true }

// sorted lists the values in the given order first, then the others
// alphabetically.
func (s set) sorted(order []string) []string {
	var out, rest []string
	for _, o := range order {
		if s[o] {
			out = append(out, o)
		}
	}
	for v := range s {
		if !slices.Contains(order, v) {
			rest = append(rest, v)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
