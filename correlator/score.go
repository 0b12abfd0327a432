package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/batch"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
)

// deadLetters counts entries, writes them to a file when one is set, and
// logs the first few.
type deadLetters struct {
	file   *resultlog.DeadLetterFile
	logger hclog.Logger
	n      atomic.Int64
}

func (d *deadLetters) Add(source string, line int64, reason string, data []byte) {
	if n := d.n.Add(1); n <= 10 {
		d.logger.Warn("skipped input", "source", source, "line", line, "reason", reason)
	}
	if d.file != nil {
		d.file.Add(source, line, reason, data)
	}
}

func openDeadLetters(path string, logger hclog.Logger) (*deadLetters, error) {
	d := &deadLetters{logger: logger}
	if path != "" {
		f, err := resultlog.OpenDeadLetter(path)
		if err != nil {
			return nil, err
		}
		d.file = f
	}
	return d, nil
}

func (d *deadLetters) Close() error {
	if d.file != nil {
		return d.file.Close()
	}
	return nil
}

// summary is printed to stderr after a batch run.
type summary struct {
	Inputs            []string         `json:"inputs"`
	Lines             engine.LineStats `json:"lines"`
	Rows              engine.Stats     `json:"rows"`
	DeadLetters       int64            `json:"dead_letters"`
	AlertsPrinted     int              `json:"alerts_printed"`
	Suppressed        []string         `json:"suppressed_lineages,omitempty"`
	ExceptionMatches  map[string]int64 `json:"exception_matches,omitempty"`
	ExpiredExceptions []string         `json:"expired_exceptions,omitempty"`
}

func cmdScore(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	all := fs.Bool("all", false, "also print lineages below the alert threshold and suppressed ones (flagged)")
	quiet := fs.Bool("quiet", false, "do not print the run summary on stderr")
	var format formatFlag
	registerFormat(fs, &format)
	files, err := parseArgs(fs, args)
	if err != nil {
		return errUsage
	}
	if len(files) == 0 {
		fmt.Fprint(stderr, "score: name at least one result-log file (- for stdin)\n", usage)
		return errUsage
	}
	logger := c.logger(stderr)
	s, err := c.load(logger)
	if err != nil {
		return err
	}
	if err := s.resolver.RefreshFleet(ctx); err != nil {
		return err
	}
	dl, err := openDeadLetters(c.deadLetter, logger)
	if err != nil {
		return err
	}
	defer dl.Close()

	st := engine.NewState(c.state != "")
	var db *state.DB
	if c.state != "" {
		if db, err = state.Open(c.state); err != nil {
			return err
		}
		defer db.Close()
		if err := db.LoadInto(st); err != nil {
			return err
		}
	}
	eng := s.engine(st)
	// Below-threshold evaluations are kept only where they are used: for
	// --all, and for explain through the state store.
	eng.KeepBelow = *all || db != nil
	eng.ReuseAlert = true // kept.Add encodes every alert at once
	// One evaluation per lineage (and per alerting host) is kept, encoded
	// as it is kept into the spool (memory, then a temporary file); memory
	// holds a small entry per lineage, not the alerts.
	kept, err := batch.New(batch.Options{Encode: format.encoder(), Native: db != nil})
	if err != nil {
		return err
	}
	defer kept.Close()
	suppressed := map[string]bool{}
	rd := engine.NewReader(eng, dl, func(a *alert.Alert) error {
		if a.Suppressed && !suppressed[a.LineageID] {
			suppressed[strings.Clone(a.LineageID)] = true
		}
		return kept.Add(a)
	})
	rd.MaxLine = c.maxLine
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readInput(rd, f, stdin); err != nil {
			return err
		}
	}

	if db != nil {
		explain := func(put func(string, []byte) error) error {
			return kept.Each(func(e *batch.Entry) bool { return e.Kind != alert.KindHostRisk }, func(e *batch.Entry, _, native []byte) error {
				return put(e.LineageID, native)
			})
		}
		if err := db.CommitBatch(state.Batch{Changes: st.Drain(), ExplainDocs: explain}); err != nil {
			return err
		}
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	printed := 0
	err = kept.Each(func(e *batch.Entry) bool { return *all || (!e.BelowThreshold && !e.Suppressed) }, func(_ *batch.Entry, doc, _ []byte) error {
		printed++
		if _, err := w.Write(doc); err != nil {
			return err
		}
		if len(doc) == 0 || doc[len(doc)-1] != '\n' {
			return w.WriteByte('\n')
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	if !*quiet {
		sum := summary{Inputs: files, Lines: rd.Stats, Rows: eng.Stats, DeadLetters: dl.n.Load(), AlertsPrinted: printed, ExceptionMatches: st.ExceptionHits()}
		for id := range suppressed {
			sum.Suppressed = append(sum.Suppressed, id)
		}
		slices.Sort(sum.Suppressed)
		for _, x := range s.exceptions.ExpiredAt(s.now()) {
			sum.ExpiredExceptions = append(sum.ExpiredExceptions, x.ID+" ("+x.Source+", expired "+x.Expires+")")
		}
		b, _ := json.Marshal(map[string]summary{"summary": sum})
		fmt.Fprintln(stderr, string(b))
	}
	return nil
}

// rankAbove reports whether a should replace b as the lineage's alert.
func rankAbove(a, b *alert.Alert) bool { return batch.RankOf(a).Above(batch.RankOf(b)) }

// sortAlerts puts alerts in the order `score` prints them.
func sortAlerts(out []*alert.Alert) {
	slices.SortFunc(out, func(a, b *alert.Alert) int { return batch.Compare(batch.RankOf(a), batch.RankOf(b)) })
}

func readInput(rd *engine.Reader, name string, stdin io.Reader) error {
	if name == "-" {
		return rd.ReadAll("stdin", stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	defer f.Close()
	return rd.ReadAll(name, f)
}
