// Command compile_lineage.ext is the compile-lineage osquery extension.
//
// Run by osqueryd (autoload) it gets the flags osquery passes to every extension:
//
//	compile_lineage.ext --socket PATH [--timeout SECONDS] [--interval SECONDS] [--verbose]
//
// Subcommands for development without osquery:
//
//	compile_lineage.ext replay --fixture FILE [--fixture FILE ...] (--query SQL | --query-file FILE) [--now UNIXTIME]
//	compile_lineage.ext replay --fixture FILE [--fixture FILE ...] --schedule PACK.conf [--schedule ...]
//	    --results-log OUT [--events-expiry SECONDS] [--host-identifier NAME] [--from UNIXTIME] [--to UNIXTIME]
//	compile_lineage.ext spec
//	compile_lineage.ext demo [--results-log FILE]
//
// Environment:
//
//	COMPILE_LINEAGE_LOG_LEVEL         trace|debug|info|warn|error (default warn; --verbose means debug)
//	COMPILE_LINEAGE_LOG_JSON          1 = log JSON lines instead of text (default off); logs go to stderr
//	COMPILE_LINEAGE_QUERY_TIMEOUT     deadline of each query the tables send to osquery, Go duration (default 10s)
//	COMPILE_LINEAGE_GENERATE_TIMEOUT  deadline of one table query as a whole, Go duration (default 60s)
//	COMPILE_LINEAGE_WINDOW            how far back compiler starts are searched without a time constraint,
//	                                  Go duration (default 24h)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/compilelineage/compile-lineage/extension/replay"
	"github.com/compilelineage/compile-lineage/extension/serve"
	"github.com/compilelineage/compile-lineage/tables"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "compile_lineage.ext: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "replay":
			return runReplay(args[1:], stdout, stderr)
		case "spec":
			return runSpec(args[1:], stdout, stderr)
		case "demo":
			return runDemo(args[1:], stdout, stderr)
		}
	}
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Logger.Debug("starting", "socket", cfg.Socket, "timeout", cfg.Timeout, "interval", cfg.Interval)
	return serve.Run(ctx, cfg)
}

// defaultSocket is osquery's default extensions socket.
func defaultSocket() string {
	if runtime.GOOS == "windows" {
		return `\\.\pipe\osquery.em`
	}
	return "/var/osquery/osquery.em"
}

// parseServeFlags reads the flags osqueryd passes and the environment.
func parseServeFlags(args []string, stderr io.Writer) (serve.Config, error) {
	fs := flag.NewFlagSet("compile_lineage.ext", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", defaultSocket(), "osquery extensions socket")
	timeout := fs.Int("timeout", 3, "seconds to wait for the socket and for each call")
	interval := fs.Int("interval", 3, "seconds between pings to osquery")
	verbose := fs.Bool("verbose", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return serve.Config{}, err
	}
	if fs.NArg() > 0 {
		return serve.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 || *interval <= 0 {
		return serve.Config{}, errors.New("--timeout and --interval must be positive")
	}
	log, topts, err := setup(stderr, *verbose)
	if err != nil {
		return serve.Config{}, err
	}
	return serve.Config{
		Socket:   *socket,
		Timeout:  time.Duration(*timeout) * time.Second,
		Interval: time.Duration(*interval) * time.Second,
		Logger:   log,
		Tables:   topts,
		Name:     serve.ExtensionName,
	}, nil
}

// setup reads the environment every command shares: the log settings and the tables' limits.
func setup(stderr io.Writer, verbose bool) (hclog.Logger, tables.Options, error) {
	log, err := newLogger(stderr, verbose)
	if err != nil {
		return nil, tables.Options{}, err
	}
	topts, err := tableOptions()
	return log, topts, err
}

func newLogger(stderr io.Writer, verbose bool) (hclog.Logger, error) {
	level := hclog.Warn
	if s := os.Getenv("COMPILE_LINEAGE_LOG_LEVEL"); s != "" {
		level = hclog.LevelFromString(s)
		if level == hclog.NoLevel {
			return nil, fmt.Errorf("COMPILE_LINEAGE_LOG_LEVEL=%q: want trace, debug, info, warn or error", s)
		}
	}
	if verbose && level > hclog.Debug {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       serve.ExtensionName,
		Level:      level,
		Output:     stderr,
		JSONFormat: os.Getenv("COMPILE_LINEAGE_LOG_JSON") == "1",
	}), nil
}

func tableOptions() (tables.Options, error) {
	var opts tables.Options
	for _, e := range []struct {
		name string
		dst  *time.Duration
	}{
		{"COMPILE_LINEAGE_QUERY_TIMEOUT", &opts.QueryTimeout},
		{"COMPILE_LINEAGE_GENERATE_TIMEOUT", &opts.GenerateTimeout},
		{"COMPILE_LINEAGE_WINDOW", &opts.Window},
	} {
		s := os.Getenv(e.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return opts, fmt.Errorf("%s=%q: want a positive Go duration such as 10s or 24h", e.name, s)
		}
		*e.dst = d
	}
	return opts, nil // zero fields take the tables' defaults (tables.Options.WithDefaults)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runReplay(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compile_lineage.ext replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var fixtures stringList
	fs.Var(&fixtures, "fixture", "fixture file (repeatable): osquery table JSON or Windows event JSON lines")
	query := fs.String("query", "", "SQL to run")
	queryFile := fs.String("query-file", "", "file holding the SQL to run")
	now := fs.Int64("now", 0, "replay time in unix seconds (default: newest event)")
	var packs stringList
	fs.Var(&packs, "schedule", "osquery pack to schedule (repeatable): play osqueryd over the recording in event time")
	resultsLog := fs.String("results-log", "", "with --schedule: file the scheduled results are written to (osquery's filesystem logger format)")
	expiry := fs.Int64("events-expiry", 3600, "with --schedule: osquery's --events_expiry in seconds (0 = never)")
	hostID := fs.String("host-identifier", "", "with --schedule: hostIdentifier of the result lines (default system_info.hostname or \"replay\")")
	from := fs.Int64("from", 0, "with --schedule: clock start, unix seconds (default: oldest event)")
	to := fs.Int64("to", 0, "with --schedule: clock end, unix seconds (default: newest event plus one hour)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("replay: unexpected argument %q", fs.Arg(0))
	}
	if len(fixtures) == 0 {
		return errors.New("replay: --fixture is required")
	}
	if len(packs) > 0 {
		return runSchedule(scheduleArgs{fixtures: fixtures, packs: packs, resultsLog: *resultsLog, expiry: *expiry,
			hostID: *hostID, from: *from, to: *to, query: *query + *queryFile}, stderr)
	}
	sqlText := *query
	if *queryFile != "" {
		if sqlText != "" {
			return errors.New("replay: give --query or --query-file, not both")
		}
		b, err := os.ReadFile(*queryFile)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		sqlText = string(b)
	}
	if strings.TrimSpace(sqlText) == "" {
		return errors.New("replay: --query or --query-file is required")
	}
	log, topts, err := setup(stderr, false)
	if err != nil {
		return err
	}
	fx, err := replay.LoadFixtures(fixtures...)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Now: *now, Logger: log, Tables: topts})
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	cols, rows, qerr := h.QueryOrdered(ctx, sqlText)
	if err := h.Close(); err != nil {
		log.Warn("closing the replay harness", "error", err)
	}
	if qerr != nil {
		return fmt.Errorf("query: %w", qerr)
	}
	return writeJSONRows(stdout, cols, rows)
}

type scheduleArgs struct {
	fixtures, packs    []string
	resultsLog, hostID string
	expiry, from, to   int64
	query              string
}

// runSchedule plays osqueryd with the packs over the fixtures and writes the result log.
func runSchedule(a scheduleArgs, stderr io.Writer) error {
	if a.query != "" {
		return errors.New("replay: --schedule runs the packs' queries; leave out --query and --query-file")
	}
	if a.resultsLog == "" {
		return errors.New("replay: --schedule needs --results-log")
	}
	if a.expiry < 0 {
		return fmt.Errorf("replay: --events-expiry %d is negative", a.expiry)
	}
	var packs []*replay.Pack
	for _, p := range a.packs {
		pack, err := replay.LoadPack(p)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		packs = append(packs, pack)
	}
	log, topts, err := setup(stderr, false)
	if err != nil {
		return err
	}
	fx, err := replay.LoadFixtures(a.fixtures...)
	if err != nil {
		return err
	}
	from, to := a.from, a.to
	if from == 0 {
		from = fx.Oldest()
	}
	if to == 0 {
		to = fx.Newest() + 3600
	}
	if from == 0 {
		return errors.New("replay: the fixtures hold no timed events; give --from and --to")
	}
	out, err := os.OpenFile(a.resultsLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx, Now: from, Logger: log, Tables: topts,
		Daemon: &replay.DaemonOptions{EventsExpiry: a.expiry, Packs: packs}})
	if err != nil {
		out.Close()
		return fmt.Errorf("replay: %w", err)
	}
	st, serr := h.RunSchedule(ctx, replay.ScheduleOptions{Packs: packs, From: from, To: to, HostIdentifier: a.hostID, Out: out})
	if err := h.Close(); err != nil {
		log.Warn("closing the replay harness", "error", err)
	}
	if err := out.Close(); err != nil && serr == nil {
		serr = fmt.Errorf("write %s: %w", a.resultsLog, err)
	}
	if serr != nil {
		return fmt.Errorf("replay: %w", serr)
	}
	log.Info("scheduled replay done", "runs", st.Runs, "lines", st.Lines, "errors", st.Errors,
		"optimized_scans", st.Optimized, "from", from, "to", to)
	if st.Errors > 0 {
		return fmt.Errorf("replay: %d scheduled query executions failed (see the log)", st.Errors)
	}
	return nil
}

// writeJSONRows prints rows like `osqueryi --json`: an array of objects with string values, keys in column order.
func writeJSONRows(w io.Writer, cols []string, rows [][]string) error {
	var b strings.Builder
	if len(rows) == 0 {
		b.WriteString("[]\n")
	} else {
		b.WriteString("[\n")
		for i, r := range rows {
			b.WriteString("  {")
			for j, c := range cols {
				if j > 0 {
					b.WriteByte(',')
				}
				k, _ := json.Marshal(c)
				v, _ := json.Marshal(r[j])
				fmt.Fprintf(&b, "\n    %s: %s", k, v)
			}
			if len(cols) > 0 {
				b.WriteString("\n  ")
			}
			b.WriteByte('}')
			if i < len(rows)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("]\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// noQuerier is the querier of `spec`: the tables are built but never queried.
type noQuerier struct{}

func (noQuerier) QueryRowsContext(context.Context, string) ([]map[string]string, error) {
	return nil, errors.New("spec: no osquery")
}

func runSpec(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("spec: unexpected argument %q", args[0])
	}
	log, topts, err := setup(stderr, false)
	if err != nil {
		return err
	}
	var specs []table.OsqueryTableSpec
	for _, p := range tables.All(log, noQuerier{}, topts) {
		if tp, ok := p.(*table.Plugin); ok {
			specs = append(specs, tp.Spec())
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	if specs == nil {
		specs = []table.OsqueryTableSpec{}
	}
	b, err := json.MarshalIndent(specs, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
