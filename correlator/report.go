package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/batch"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/report"
	"github.com/compilelineage/compile-lineage/correlator/internal/server"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
)

// cmdReport writes the analyst's HTML report.
func cmdReport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	out := fs.String("html", "", "write the report to this HTML file (created 0600)")
	since := fs.Duration("since", 0, "only lineages whose compile started within this long before now (e.g. 72h; 0: all)")
	files, err := parseArgs(fs, args)
	if err != nil {
		return errUsage
	}
	if *out == "" || (c.state == "") == (len(files) == 0) {
		fmt.Fprint(stderr, "report: give --html OUT.html and either --state DB or result-log files\n", usage)
		return errUsage
	}
	var as []*alert.Alert
	source := strings.Join(files, ", ")
	if c.state != "" {
		source = "state " + c.state
		db, err := state.OpenReadOnly(c.state, 5*time.Second)
		if err != nil {
			return err
		}
		as, err = db.Explanations()
		db.Close()
		if err != nil {
			return err
		}
	} else if as, err = evaluateFiles(ctx, &c, files, stdin, stderr); err != nil {
		return err
	}
	now, err := c.clock()
	if err != nil {
		return err
	}
	vs := report.Within(report.FromAlerts(as), now(), *since)
	page := report.Page{Title: "Compile lineage report", Source: source, Generated: now(), Alerts: vs}
	if err := writeReport(*out, page); err != nil {
		return err
	}
	hosts := 0
	for _, v := range vs {
		if v.HostRisk != nil {
			hosts++
		}
	}
	fmt.Fprintf(stdout, "wrote %s (%d lineages, %d host risk alerts)\n", *out, len(vs)-hosts, hosts)
	return nil
}

// writeReport writes the page to a temporary file next to path and renames
// it into place, so a reader never sees half a report.
func writeReport(path string, page report.Page) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(f.Name())
	if err := report.WriteHTML(f, page); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// evaluateFiles scores result-log files and returns the highest-ranking
// evaluation of every lineage (alerts, suppressed and below threshold) and
// of every host whose risk alerted.
func evaluateFiles(ctx context.Context, c *common, files []string, stdin io.Reader, stderr io.Writer) ([]*alert.Alert, error) {
	logger := c.logger(stderr)
	s, err := c.load(logger)
	if err != nil {
		return nil, err
	}
	if err := s.resolver.RefreshFleet(ctx); err != nil {
		return nil, err
	}
	dl, err := openDeadLetters(c.deadLetter, logger)
	if err != nil {
		return nil, err
	}
	defer dl.Close()
	eng := s.engine(engine.NewState(false))
	eng.KeepBelow = true
	latest := map[string]*alert.Alert{}
	rd := engine.NewReader(eng, dl, func(a *alert.Alert) error {
		if p, ok := latest[batch.Key(a)]; !ok || rankAbove(a, p) {
			latest[batch.Key(a)] = a
		}
		return nil
	})
	rd.MaxLine = c.maxLine
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := readInput(rd, f, stdin); err != nil {
			return nil, err
		}
	}
	out := make([]*alert.Alert, 0, len(latest))
	for _, a := range latest {
		out = append(out, a)
	}
	sortAlerts(out)
	return out, nil
}

// clock is the --now time, or the wall clock.
func (c *common) clock() (func() time.Time, error) {
	if c.now == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339, c.now)
	if err != nil {
		return nil, fmt.Errorf("--now: %w", err)
	}
	return func() time.Time { return t }, nil
}

// cmdServe serves the report live from the state store.
func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	listen := fs.String("listen", "127.0.0.1:8090", "HTTP address; any non-loopback address needs a bearer token")
	tokenEnv := fs.String("token-env", "CORRELATOR_REPORT_TOKEN", "environment variable holding the bearer token every request must carry (required beyond loopback)")
	since := fs.Duration("since", 0, "only lineages whose compile started within this long before now (0: all)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return errUsage
	}
	if c.state == "" || len(pos) > 0 {
		fmt.Fprint(stderr, "serve: --state DB is required, and it reads nothing else\n", usage)
		return errUsage
	}
	now, err := c.clock()
	if err != nil {
		return err
	}
	load := func() (report.Page, error) {
		db, err := state.OpenReadOnly(c.state, 2*time.Second)
		if err != nil {
			return report.Page{}, err
		}
		defer db.Close()
		as, err := db.Explanations()
		if err != nil {
			return report.Page{}, err
		}
		vs := report.Within(report.FromAlerts(as), now(), *since)
		return report.Page{Title: "Compile lineage report", Source: "state " + c.state, Generated: now(), Alerts: vs}, nil
	}
	srv, err := report.NewServer(report.ServerConfig{Addr: *listen, Token: os.Getenv(*tokenEnv), Logger: c.logger(stderr).Named("serve"),
		IsLoopback: server.IsLoopback}, load)
	if err != nil {
		return err
	}
	err = srv.Serve(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
