package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/report"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
)

func cmdExplain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) == 0 {
		fmt.Fprint(stderr, "explain: name a lineage id\n", usage)
		return errUsage
	}
	id, files := pos[0], pos[1:]
	if c.state == "" && len(files) == 0 {
		fmt.Fprint(stderr, "explain: give --state DB or result-log files\n", usage)
		return errUsage
	}
	var a *alert.Alert
	if len(files) > 0 {
		a, err = explainFromFiles(ctx, &c, id, files, stdin, stderr)
	} else {
		var db *state.DB
		if db, err = state.Open(c.state); err != nil {
			return err
		}
		defer db.Close()
		a, err = db.Explain(id)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	}
	_, err = io.WriteString(stdout, renderExplanation(a)+lineageText(a))
	return err
}

func explainFromFiles(ctx context.Context, c *common, id string, files []string, stdin io.Reader, stderr io.Writer) (*alert.Alert, error) {
	as, err := evaluateFiles(ctx, c, files, stdin, stderr)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.LineageID == id {
			return a, nil
		}
	}
	return nil, fmt.Errorf("explain %s: %w in %s", id, errors.New("lineage not found"), strings.Join(files, ", "))
}

// renderExplanation formats an alert for a person.
func renderExplanation(a *alert.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lineage %s\n", a.LineageID)
	fmt.Fprintf(&b, "host:       %s (uuid %s, identifier %s)\n", a.Host, dash(a.HostUUID), dash(a.HostIdentifier))
	fmt.Fprintf(&b, "role:       %s, from %s; all roles: %s\n", a.Role, a.RoleLabel, strings.Join(a.Roles, ", "))
	fmt.Fprintf(&b, "score:      %.2f (%s), stage %s, log-odds %+.2f bits (evidence %+.2f bits, prior %g, impact x%g), probability %.4f\n", a.Score, a.Severity, a.Stage, a.LogOdds, a.Evidence, a.Prior, a.Impact, a.Probability)
	switch {
	case a.Suppressed:
		b.WriteString("decision:   suppressed by an exception (counted, not alerted)\n")
	case a.BelowThreshold:
		b.WriteString("decision:   below the alert threshold (not alerted)\n")
	default:
		b.WriteString("decision:   alert\n")
	}
	b.WriteString("reasons:\n")
	for _, r := range a.Reasons {
		fmt.Fprintf(&b, "  %+7.2f  %+6.2f bits  x%-7.4g %-28s %s\n", r.Points, r.Bits, r.LR, r.Code, r.Detail)
	}
	fmt.Fprintf(&b, "techniques: %s\n", strings.Join(a.Techniques, ", "))
	fmt.Fprintf(&b, "tactics:    %s\n", strings.Join(a.Tactics, ", "))
	fmt.Fprintf(&b, "compiler:   %s pid %d: %s\n", dash(a.CompilerPath), a.CompilerPID, dash(a.CompilerCmdline))
	fmt.Fprintf(&b, "parent:     %s (%s): %s\n", dash(a.ParentName), dash(a.ParentClass), dash(a.ParentCmdline))
	if a.OutputPath != "" {
		fmt.Fprintf(&b, "output:     %s sha256 %s, executions %d, connections %d %s\n", a.OutputPath, dash(a.ArtifactSHA256), a.Executions, a.Connections, a.FirstRemoteAddress)
	}
	if x := a.Exception; x != nil {
		fmt.Fprintf(&b, "exception:  %s (%s) owner %s, expires %s, %s: %s\n", x.ID, x.Source, x.Owner, x.Expires, x.Status, x.Reason)
	} else {
		b.WriteString("exception:  none matched\n")
	}
	fmt.Fprintf(&b, "time:       %s, query %s, input %s\n", a.Time, dash(a.Query), dash(a.Input))
	return b.String()
}

// lineageText is the lineage as a text tree and the alert's triage
// playbook.
func lineageText(a *alert.Alert) string {
	v := report.FromAlert(a)
	g := report.Build(&v)
	return "lineage:\n" + report.Tree(g) + report.PlaybookText(report.Triage(&v))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
