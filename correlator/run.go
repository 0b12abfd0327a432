package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/pipeline"
	"github.com/compilelineage/compile-lineage/correlator/internal/server"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
)

// runOptions are the flags of the run command.
type runOptions struct {
	common
	follow          listFlag
	listen          string
	tokenEnv        string
	certFile        string
	keyFile         string
	alerts          string
	webhook         string
	webhookTokenEnv string
	poll            time.Duration
	once            bool
	format          formatFlag
	siem            siemOptions
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o runOptions
	o.register(fs)
	fs.Var(&o.follow, "follow", "result log to follow across rotation (osqueryd.results.log, osqueryd.snapshots.log, Fleet's result log); repeatable")
	fs.StringVar(&o.listen, "listen", "", "HTTP address for osquery TLS logger and Fleet webhook posts, e.g. 127.0.0.1:8089 (empty: off)")
	fs.StringVar(&o.tokenEnv, "token-env", "CORRELATOR_HTTP_TOKEN", "environment variable holding the bearer token the HTTP endpoint requires (if set)")
	fs.StringVar(&o.certFile, "tls-cert", "", "TLS certificate for the HTTP endpoint")
	fs.StringVar(&o.keyFile, "tls-key", "", "TLS key for the HTTP endpoint")
	fs.StringVar(&o.alerts, "alerts", "", "append alerts as JSON lines to this file (created 0640)")
	fs.StringVar(&o.webhook, "webhook", "", "POST each alert as JSON to this URL")
	fs.StringVar(&o.webhookTokenEnv, "webhook-token-env", "CORRELATOR_WEBHOOK_TOKEN", "environment variable holding the webhook bearer token (if set)")
	fs.DurationVar(&o.poll, "poll", time.Second, "how often followed files are checked for new data")
	fs.BoolVar(&o.once, "once", false, "read followed files to their end and exit (backfill, tests)")
	registerFormat(fs, &o.format)
	o.siem.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return errUsage
	}
	o.follow = append(o.follow, pos...)
	if o.state == "" {
		fmt.Fprint(stderr, "run: --state is required (offsets, dedup and the alert outbox live there)\n", usage)
		return errUsage
	}
	if len(o.follow) == 0 && o.listen == "" {
		fmt.Fprint(stderr, "run: give --follow FILE and/or --listen ADDR\n", usage)
		return errUsage
	}
	return runService(ctx, &o, stdout, stderr)
}

func runService(ctx context.Context, o *runOptions, stdout, stderr io.Writer) error {
	logger := o.logger(stderr)
	s, err := o.load(logger)
	if err != nil {
		return err
	}
	db, err := state.Open(o.state)
	if err != nil {
		return err
	}
	defer db.Close()
	st := engine.NewState(true)
	if err := db.LoadInto(st); err != nil {
		return err
	}
	eng := s.engine(st)
	eng.KeepBelow = true

	enc := o.format.encoder()
	stdoutSink := alert.NewWriterSink(stdout)
	stdoutSink.Encode = enc
	sinks := alert.Multi{stdoutSink}
	if o.alerts != "" {
		f, err := alert.OpenFile(o.alerts)
		if err != nil {
			return err
		}
		defer f.Close()
		f.Encode = enc
		sinks = append(sinks, f)
	}
	if o.webhook != "" {
		sinks = append(sinks, &alert.Webhook{URL: o.webhook, Token: os.Getenv(o.webhookTokenEnv), Encode: enc})
	}
	siem, stopSIEM, err := o.siem.siemSinks(ctx, o.state, o.format, logger)
	if err != nil {
		return err
	}
	defer stopSIEM()
	sinks = append(sinks, siem...)
	dl, err := openDeadLetters(o.deadLetter, logger)
	if err != nil {
		return err
	}
	defer dl.Close()

	p := pipeline.New(eng, db, sinks, dl, o.maxLine, logger)
	// Alerts committed but not delivered before the last stop go out first.
	if err := p.Deliver(); err != nil {
		return err
	}
	if err := s.resolver.StartFleet(ctx); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(o.follow)+1)
	for _, path := range o.follow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Follow(ctx, path, o.poll, o.once); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	if o.listen != "" {
		srv, err := server.New(server.Config{Addr: o.listen, Token: os.Getenv(o.tokenEnv), CertFile: o.certFile, KeyFile: o.keyFile, Logger: logger.Named("http")}, p)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	stats, lines := p.Stats()
	var all engine.LineStats
	inputs := make([]string, 0, len(lines))
	for src, ls := range lines {
		all.Add(ls)
		inputs = append(inputs, src)
	}
	slices.Sort(inputs)
	hits, err := db.ExceptionHits()
	if err != nil {
		errs = append(errs, err)
	}
	sum := summary{Inputs: inputs, Lines: all, Rows: stats, DeadLetters: dl.n.Load(), AlertsPrinted: int(stats.Alerts + stats.Realerts), ExceptionMatches: hits}
	for _, x := range s.exceptions.ExpiredAt(s.now()) {
		sum.ExpiredExceptions = append(sum.ExpiredExceptions, x.ID+" ("+x.Source+", expired "+x.Expires+")")
	}
	if b, err := json.Marshal(map[string]summary{"summary": sum}); err == nil {
		fmt.Fprintln(stderr, string(b))
	}
	return errors.Join(errs...)
}
