package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// shutdownGrace is how long a stopping member may take to finish the poll
// in hand.
const shutdownGrace = 20 * time.Second

// Member is one correlator in the consumer group.
type Member struct {
	cfg     Config
	eng     Engine
	sink    Sink
	log     hclog.Logger
	Metrics *Metrics

	opts   []kgo.Opt
	adm    *kadm.Client
	admCl  *kgo.Client
	layout Layout
	sess   *kgo.GroupTransactSession
	pairs  *pairs

	scorers map[int32]Scorer

	mu      sync.Mutex
	revoked map[int32]bool
}

// NewMember checks the configuration, connects and creates missing topics.
// sink may be nil.
func NewMember(ctx context.Context, cfg Config, eng Engine, sink Sink, logger hclog.Logger) (*Member, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	opts, err := cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	m := &Member{cfg: cfg, eng: eng, sink: sink, log: logger, Metrics: &Metrics{}, opts: opts, scorers: map[int32]Scorer{}, revoked: map[int32]bool{}}
	if m.admCl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka: admin client: %w", err)
	}
	m.adm = kadm.NewClient(m.admCl)
	if m.layout, err = EnsureTopics(ctx, m.adm, &m.cfg); err != nil {
		m.admCl.Close()
		return nil, err
	}
	return m, nil
}

// Run consumes until ctx ends. It returns nil on a clean stop.
func (m *Member) Run(ctx context.Context) error {
	defer m.admCl.Close()
	var err error
	if m.pairs, err = newPairs(ctx, m.opts, m.cfg.PairsTopic(), &m.Metrics.Claims); err != nil {
		return err
	}
	defer m.pairs.close()
	topics := append([]string{m.cfg.ByHostTopic()}, m.cfg.Topics...)
	m.sess, err = kgo.NewGroupTransactSession(append(m.opts,
		kgo.ConsumerGroup(m.cfg.Group),
		kgo.ConsumeTopics(topics...),
		kgo.TransactionalID(m.cfg.Group+"-"+m.cfg.Instance),
		kgo.TransactionTimeout(m.cfg.TxnTimeout),
		kgo.SessionTimeout(m.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, m.cfg.SessionTimeout/3)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsRevoked(m.onRevoked),
		kgo.OnPartitionsLost(m.onRevoked),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.log.Info("assigned", "partitions", a)
		}),
	)...)
	if err != nil {
		return fmt.Errorf("kafka: group session: %w", err)
	}
	go m.watchLag(ctx)
	defer m.sess.Close()

	m.log.Info("member started", "group", m.cfg.Group, "instance", m.cfg.Instance, "topics", topics, "by_host_partitions", m.layout.ByHost)
	backoff := 100 * time.Millisecond
	for {
		fs := m.sess.PollRecords(ctx, m.cfg.MaxPollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			m.log.Warn("fetch error", "topic", t, "partition", p, "error", err)
		})
		if fs.NumRecords() == 0 {
			continue
		}
		if err := m.sess.Begin(); err != nil {
			return fmt.Errorf("kafka: begin transaction: %w", err)
		}
		// A stop (ctx) lets the poll in hand finish and commit, for up to
		// shutdownGrace, so no transaction is left open for readers to wait on.
		bctx, bcancel := context.WithCancel(context.WithoutCancel(ctx))
		grace := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, bcancel) })
		berr := m.batch(bctx, fs)
		committed, err := m.sess.End(bctx, kgo.TransactionEndTry(berr == nil))
		grace()
		bcancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kafka: end transaction: %w", err)
		}
		m.mu.Lock()
		revoked := m.revoked
		m.revoked = map[int32]bool{}
		m.mu.Unlock()
		if !committed {
			// The offsets went back to the last commit; so does the state.
			m.Metrics.Aborted.Add(1)
			clear(m.scorers)
			if berr != nil {
				m.log.Warn("batch aborted, will retry", "error", berr, "backoff", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil
				}
				backoff = min(2*backoff, 10*time.Second)
			}
		} else {
			m.Metrics.Committed.Add(1)
			backoff = 100 * time.Millisecond
		}
		for p := range revoked {
			delete(m.scorers, p)
		}
		m.Metrics.Assigned.Store(int64(len(m.scorers)))
	}
}

func (m *Member) onRevoked(_ context.Context, _ *kgo.Client, rev map[string][]int32) {
	m.mu.Lock()
	for _, p := range rev[m.cfg.ByHostTopic()] {
		m.revoked[p] = true
	}
	m.mu.Unlock()
	if len(rev) > 0 {
		m.log.Info("revoked", "partitions", rev)
	}
}

// batch handles one poll inside a transaction: re-keys input lines, scores
// by-host lines, writes alerts and changelog entries, and delivers alerts to
// the local sinks.
func (m *Member) batch(ctx context.Context, fs kgo.Fetches) error {
	byHost := m.cfg.ByHostTopic()
	need := map[int32]bool{}
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Topic == byHost && len(p.Records) > 0 && m.scorers[p.Partition] == nil {
			need[p.Partition] = true
		}
	})
	if len(need) > 0 {
		if err := m.restore(ctx, need); err != nil {
			return err
		}
	}
	var out []*kgo.Record
	var alerts []Alert
	touched := map[int32]bool{}
	var lines, rekeyed int64
	var err error
	fs.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		if r.Topic != byHost {
			host := m.eng.HostKey(r.Value)
			out = append(out, &kgo.Record{
				Topic: byHost, Partition: PartitionFor(host, m.layout.ByHost), Key: []byte(host), Value: r.Value,
				Headers: []kgo.RecordHeader{{Key: "source", Value: []byte(r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10))}},
			})
			rekeyed++
			return
		}
		sc := m.scorers[r.Partition]
		touched[r.Partition] = true
		lines++
		err = sc.Line(byHost+"/"+strconv.Itoa(int(r.Partition)), r.Offset, r.Value, func(a Alert) { alerts = append(alerts, a) })
		if err == nil {
			err = m.pairs.Err()
		}
	})
	if err != nil {
		return err
	}
	for p := range touched {
		for _, e := range m.scorers[p].Changes() {
			out = append(out, &kgo.Record{Topic: m.cfg.ChangelogTopic(), Partition: p, Key: []byte(e.Key), Value: e.Value})
		}
	}
	if m.cfg.AlertsTopic != "" {
		for _, a := range alerts {
			out = append(out, &kgo.Record{
				Topic: m.cfg.AlertsTopic, Partition: PartitionFor(a.Host, m.layout.Alerts), Key: []byte(a.Host), Value: a.JSON,
				Headers: []kgo.RecordHeader{{Key: "alert_id", Value: []byte(a.ID)}},
			})
		}
	}
	if len(out) > 0 {
		if err := m.sess.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return fmt.Errorf("kafka: produce: %w", err)
		}
	}
	if m.sink != nil && len(alerts) > 0 {
		start := time.Now()
		for _, a := range alerts {
			if err := m.sink.Send(ctx, a); err != nil {
				return fmt.Errorf("deliver alert %s: %w", a.ID, err)
			}
		}
		if err := m.sink.Flush(ctx); err != nil {
			return fmt.Errorf("flush alerts: %w", err)
		}
		m.Metrics.SinkNanos.Add(int64(time.Since(start)))
	}
	m.Metrics.Lines.Add(lines)
	m.Metrics.Rekeyed.Add(rekeyed)
	m.Metrics.Alerts.Add(int64(len(alerts)))
	return nil
}

// restore reads the changelog partitions up to their last stable offset
// and builds a scorer for each.
func (m *Member) restore(ctx context.Context, parts map[int32]bool) error {
	topic := m.cfg.ChangelogTopic()
	ends, err := m.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka: changelog end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("kafka: changelog end offsets: %w", err)
	}
	want := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	for p := range parts {
		o, ok := ends.Lookup(topic, p)
		if !ok {
			return fmt.Errorf("kafka: changelog %s has no partition %d", topic, p)
		}
		want[p] = kgo.NewOffset().AtStart()
		end[p] = o.Offset
	}
	state := map[int32]map[string][]byte{}
	next := map[int32]int64{}
	pending := 0
	for p := range parts {
		state[p] = map[string][]byte{}
		if end[p] > 0 {
			pending++
		}
	}
	start := time.Now()
	var n int64
	if pending > 0 {
		cl, err := kgo.NewClient(append(m.opts,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
		)...)
		if err != nil {
			return fmt.Errorf("kafka: restore client: %w", err)
		}
		defer cl.Close()
		silent := 0
		for pending > 0 {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if fs.NumRecords() == 0 {
				if err := fs.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("kafka: restore %s: %w", topic, err)
				}
				// The record just below the stable offset is normally a
				// commit marker, which this client sees. Only when
				// compaction removed it while a dead member's transaction
				// is still open is nothing left to read: then 6 s of
				// silence ends the restore.
				if silent++; silent < 3 {
					continue
				}
				m.log.Warn("restore finished on silence", "pending", pending)
				break
			}
			silent = 0
			fs.EachRecord(func(r *kgo.Record) {
				p := r.Partition
				if next[p] >= end[p] {
					return
				}
				next[p] = r.Offset + 1
				if !r.Attrs.IsControl() && r.Offset < end[p] {
					n++
					if r.Value == nil {
						delete(state[p], string(r.Key))
					} else {
						state[p][string(r.Key)] = r.Value
					}
				}
				if next[p] >= end[p] {
					pending--
				}
			})
		}
	}
	for p := range parts {
		entries := make([]Entry, 0, len(state[p]))
		for k, v := range state[p] {
			entries = append(entries, Entry{Key: k, Value: v})
		}
		sc, err := m.eng.NewScorer(p, entries, m.pairs)
		if err != nil {
			return fmt.Errorf("kafka: restore partition %d: %w", p, err)
		}
		m.scorers[p] = sc
		m.Metrics.Restores.Add(1)
	}
	m.Metrics.Restored.Add(n)
	m.log.Info("restored state", "partitions", len(parts), "entries", n, "took", time.Since(start))
	return nil
}

// watchLag logs throughput and the group's lag every 5 seconds.
func (m *Member) watchLag(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	last, lastT := m.Metrics.Lines.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			lctx, cancel := context.WithTimeout(ctx, 4*time.Second)
			lags, err := m.adm.Lag(lctx, m.cfg.Group)
			cancel()
			lag := map[string]int64{}
			if err == nil {
				if g, ok := lags[m.cfg.Group]; ok && g.Error() == nil {
					for t, ps := range g.Lag {
						for _, l := range ps {
							if l.Lag > 0 {
								lag[t] += l.Lag
							}
						}
					}
				}
				m.Metrics.SetLag(lag)
			}
			cur := m.Metrics.Lines.Load()
			rate := float64(cur-last) / now.Sub(lastT).Seconds()
			last, lastT = cur, now
			m.log.Info("progress", "lines_per_s", int64(rate), "lines", cur, "alerts", m.Metrics.Alerts.Load(), "lag", lag, "committed", m.Metrics.Committed.Load(), "aborted", m.Metrics.Aborted.Load())
		}
	}
}

// Lines writes posted result-log lines (osquery's TLS logger, Fleet's
// webhook, /results) to the first input topic and returns once the brokers
// have them; from there they are re-keyed and scored like any other line.
func (m *Member) Lines(source string, lines [][]byte) error {
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: m.cfg.Topics[0], Value: l, Headers: []kgo.RecordHeader{{Key: "source", Value: []byte(source)}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.admCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka: produce posted lines: %w", err)
	}
	return nil
}
