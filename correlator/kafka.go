package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/kafka"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/server"
)

// kafkaFlags are the run flags of the consumer-group mode.
type kafkaFlags struct {
	brokers     string
	topics      listFlag
	cfg         kafka.Config
	passwordEnv string
	setInts     func()
}

func (k *kafkaFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.brokers, "kafka-brokers", "", "Kafka bootstrap brokers HOST:PORT[,...]; turns on the consumer-group mode")
	fs.Var(&k.topics, "kafka-topic", "input topic of result-log lines (osquery kafka_producer topics, Fleet kafkarest.result_topic); repeatable")
	fs.StringVar(&k.cfg.Group, "kafka-group", "", "consumer group shared by every correlator; also the prefix of the internal topics GROUP.by-host, GROUP.changelog, GROUP.fleet-pairs")
	fs.StringVar(&k.cfg.AlertsTopic, "alerts-topic", "", "topic the alerts are written to, exactly once (transactional; read it with isolation.level=read_committed)")
	fs.StringVar(&k.cfg.Instance, "kafka-instance", "", "stable unique name of this member (transactional id); default hostname-pid")
	var parts, repl int
	fs.IntVar(&parts, "kafka-partitions", 12, "partitions of the internal topics and the alerts topic when this member creates them")
	fs.IntVar(&repl, "kafka-replication", -1, "replication factor of created topics (-1: broker default)")
	fs.DurationVar(&k.cfg.SessionTimeout, "kafka-session-timeout", 45*time.Second, "group session timeout: how long a dead member keeps its partitions")
	fs.DurationVar(&k.cfg.TxnTimeout, "kafka-txn-timeout", 15*time.Second, "transaction timeout: how long a killed member's open transaction blocks read_committed readers")
	fs.IntVar(&k.cfg.MaxPollRecords, "kafka-max-poll", 500, "records per transaction")
	fs.BoolVar(&k.cfg.TLS, "kafka-tls", false, "connect to the brokers over TLS (system roots unless --kafka-tls-ca)")
	fs.StringVar(&k.cfg.TLSCA, "kafka-tls-ca", "", "PEM file of CA certificates for the brokers (implies --kafka-tls)")
	fs.StringVar(&k.cfg.TLSCert, "kafka-tls-cert", "", "client certificate for mutual TLS (with --kafka-tls-key)")
	fs.StringVar(&k.cfg.TLSKey, "kafka-tls-key", "", "client key for mutual TLS")
	fs.StringVar(&k.cfg.TLSServerName, "kafka-tls-server-name", "", "server name to verify when it differs from the broker host")
	fs.StringVar(&k.cfg.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&k.cfg.SASLUser, "kafka-sasl-user", "", "SASL user")
	fs.StringVar(&k.passwordEnv, "kafka-sasl-password-env", "CORRELATOR_KAFKA_PASSWORD", "environment variable holding the SASL password")
	k.setInts = func() { k.cfg.Partitions, k.cfg.Replication = int32(parts), int16(repl) }
}

func (k *kafkaFlags) enabled() bool { return k.brokers != "" }

func (k *kafkaFlags) config() kafka.Config {
	k.setInts()
	c := k.cfg
	for _, b := range strings.Split(k.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	c.Topics = k.topics
	if c.SASLMechanism != "" {
		c.SASLPassword = os.Getenv(k.passwordEnv)
	}
	return c
}

// runKafka is `run` as a member of a consumer group.
func runKafka(ctx context.Context, o *runOptions, stdout, stderr io.Writer) error {
	logger := o.logger(stderr)
	s, err := o.load(logger)
	if err != nil {
		return err
	}
	if err := s.resolver.StartFleet(ctx); err != nil {
		return err
	}
	dl, err := openDeadLetters(o.deadLetter, logger)
	if err != nil {
		return err
	}
	defer dl.Close()
	seen := map[string]bool{}
	if o.alerts != "" {
		if seen, err = alertIDs(o.alerts); err != nil {
			return err
		}
	}
	sinks, closeSinks, err := o.sinks(stdout)
	if err != nil {
		return err
	}
	defer closeSinks()
	// The file is synced once per poll instead of once per alert.
	var files []*alert.FileSink
	for i, sk := range sinks {
		if f, ok := sk.(*alert.FileSink); ok {
			files = append(files, f)
			sinks[i] = &f.WriterSink
		}
	}
	eng := &kafkaEngine{s: s, dead: dl, maxLine: o.maxLine, parser: resultlog.NewParser()}
	m, err := kafka.NewMember(ctx, o.kafka.config(), eng, &dedupSink{sink: sinks, files: files, seen: seen}, logger.Named("kafka"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var srvErr error
	if o.listen != "" {
		srv, err := server.New(server.Config{Addr: o.listen, Token: os.Getenv(o.tokenEnv), CertFile: o.certFile, KeyFile: o.keyFile, Logger: logger.Named("http"), Metrics: m.Metrics}, m)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx); err != nil {
				srvErr = err
				cancel()
			}
		}()
	}
	err = m.Run(ctx)
	cancel()
	wg.Wait()
	return errors.Join(err, srvErr)
}

// kafkaEngine puts the scoring engine behind kafka.Engine: one engine and
// state per by-host partition, state exported as changelog entries.
type kafkaEngine struct {
	s       *setup
	dead    resultlog.DeadLetter
	maxLine int
	parser  *resultlog.Parser
}

var errFirstRow = errors.New("first row")

func (k *kafkaEngine) HostKey(line []byte) string {
	var host string
	_, _ = k.parser.Parse(line, func(r *resultlog.Row) error {
		host = r.Host.Key()
		return errFirstRow
	})
	return host
}

// Changelog keys: "l\x00LINEAGE" holds a lineage's dedup entry (JSON),
// "p\x00HOST\x00PARENT\x00COMPILER" a pair seen on a host (or, with an empty
// host, in the fleet).
func (k *kafkaEngine) NewScorer(_ int32, restored []kafka.Entry, fleet kafka.FleetPairs) (kafka.Scorer, error) {
	st := engine.NewState(true)
	lineages := map[string]engine.Prior{}
	var pairs []engine.PairKey
	for _, e := range restored {
		kind, rest, _ := strings.Cut(e.Key, "\x00")
		switch kind {
		case "l":
			var p engine.Prior
			if err := json.Unmarshal(e.Value, &p); err != nil {
				return nil, fmt.Errorf("changelog lineage %s: %w", rest, err)
			}
			lineages[rest] = p
		case "p":
			f := strings.SplitN(rest, "\x00", 3)
			if len(f) != 3 {
				return nil, fmt.Errorf("changelog pair %q: want host, parent and compiler", rest)
			}
			pairs = append(pairs, engine.PairKey{Host: f[0], Parent: f[1], Compiler: f[2]})
		default:
			return nil, fmt.Errorf("changelog key %q: unknown kind", e.Key)
		}
	}
	st.Load(lineages, pairs)
	eng := k.s.engine(st)
	eng.Fleet = fleet
	sc := &kafkaScorer{st: st}
	sc.rd = engine.NewReader(eng, k.dead, func(a *alert.Alert) error {
		b, err := alert.Marshal(a)
		if err != nil {
			return err
		}
		sc.emit(kafka.Alert{ID: a.AlertID, Host: a.Host, JSON: b, Doc: a})
		return nil
	})
	sc.rd.MaxLine = k.maxLine
	return sc, nil
}

type kafkaScorer struct {
	st   *engine.State
	rd   *engine.Reader
	emit func(kafka.Alert)
}

func (s *kafkaScorer) Line(source string, no int64, data []byte, emit func(kafka.Alert)) error {
	s.emit = emit
	return s.rd.Line(source, resultlog.Line{Data: data, No: no, Size: int64(len(data)), TooLong: s.rd.MaxLine > 0 && len(data) > s.rd.MaxLine})
}

func (s *kafkaScorer) Changes() []kafka.Entry {
	ch := s.st.Drain()
	out := make([]kafka.Entry, 0, len(ch.Lineages)+len(ch.Pairs)+len(ch.Deleted))
	for id, p := range ch.Lineages {
		b, err := json.Marshal(p)
		if err != nil {
			continue // a Prior always encodes
		}
		out = append(out, kafka.Entry{Key: "l\x00" + id, Value: b})
	}
	for _, id := range ch.Deleted {
		out = append(out, kafka.Entry{Key: "l\x00" + id})
	}
	for _, p := range ch.Pairs {
		out = append(out, kafka.Entry{Key: "p\x00" + p.Host + "\x00" + p.Parent + "\x00" + p.Compiler, Value: []byte{1}})
	}
	return out
}

// dedupSink drops alerts whose id this member already delivered (an
// aborted transaction re-scores the same lines) and those already in the
// alerts file when it started.
type dedupSink struct {
	sink  alert.Sink
	files []*alert.FileSink
	mu    sync.Mutex
	seen  map[string]bool
}

func (d *dedupSink) Flush(context.Context) error {
	for _, f := range d.files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

func (d *dedupSink) Send(ctx context.Context, a kafka.Alert) error {
	d.mu.Lock()
	dup := d.seen[a.ID]
	d.mu.Unlock()
	if dup {
		return nil
	}
	if err := d.sink.Send(ctx, a.Doc.(*alert.Alert)); err != nil {
		return err
	}
	d.mu.Lock()
	d.seen[a.ID] = true
	d.mu.Unlock()
	return nil
}

// alertIDs reads the alert ids already in an alerts file.
func alertIDs(path string) (map[string]bool, error) {
	seen := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return seen, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read alerts file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var a struct {
			ID string `json:"alert_id"`
		}
		if json.Unmarshal(sc.Bytes(), &a) == nil && a.ID != "" {
			seen[a.ID] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read alerts file %s: %w", path, err)
	}
	return seen, nil
}
