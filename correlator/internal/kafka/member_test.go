package kafka

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seqEngine scores lines "HOST|N": a line alerts when N is above every N
// seen for HOST before. Its state is the highest N per host, so a member
// that restores it does not alert again on lines already scored.
type seqEngine struct {
	scored atomic.Int64
}

func (e *seqEngine) HostKey(line []byte) string {
	h, _, _ := strings.Cut(string(line), "|")
	return h
}

func (e *seqEngine) NewScorer(_ int32, restored []Entry, _ FleetPairs) (Scorer, error) {
	s := &seqScorer{e: e, last: map[string]int{}, dirty: map[string]bool{}}
	for _, en := range restored {
		n, err := strconv.Atoi(string(en.Value))
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", en.Key, err)
		}
		s.last[en.Key] = n
	}
	return s, nil
}

type seqScorer struct {
	e     *seqEngine
	last  map[string]int
	dirty map[string]bool
}

func (s *seqScorer) Line(_ string, _ int64, data []byte, emit func(Alert)) error {
	s.e.scored.Add(1)
	h, ns, _ := strings.Cut(string(data), "|")
	n, err := strconv.Atoi(ns)
	if err != nil {
		return nil // not a line of this engine
	}
	if prev, ok := s.last[h]; ok && n <= prev {
		return nil
	}
	s.last[h], s.dirty[h] = n, true
	id := h + "/" + ns
	emit(Alert{ID: id, Host: h, JSON: []byte(`{"alert_id":"` + id + `"}`)})
	return nil
}

func (s *seqScorer) Changes() []Entry {
	var out []Entry
	for h := range s.dirty {
		out = append(out, Entry{Key: h, Value: []byte(strconv.Itoa(s.last[h]))})
	}
	clear(s.dirty)
	return out
}

// blockSink holds every alert until release is closed.
type blockSink struct {
	release chan struct{}
	n       atomic.Int64
}

func (b *blockSink) Send(ctx context.Context, _ Alert) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.n.Add(1)
	return nil
}

func (b *blockSink) Flush(context.Context) error { return nil }

func testConfig(brokers []string, instance string) Config {
	return Config{Brokers: brokers, Topics: []string{"in"}, Group: "g", AlertsTopic: "alerts", Instance: instance, Partitions: 4, SessionTimeout: 2 * time.Second, TxnTimeout: 3 * time.Second, MaxPollRecords: 100}
}

func produceLines(t testing.TB, cl *kgo.Client, hosts, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for n := from; n < to; n++ {
		for h := range hosts {
			recs = append(recs, &kgo.Record{Topic: "in", Value: fmt.Appendf(nil, "host%03d|%d", h, n)})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committedAlerts reads the alerts topic as read_committed and counts each id.
func committedAlerts(t *testing.T, brokers []string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	got := map[string]int{}
	if len(want) == 0 {
		return got
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"alerts": want}), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading alerts: %v (partitions left %v)", ctx.Err(), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup("alerts", r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if !r.Attrs.IsControl() {
				got[string(r.Headers[0].Value)]++
			}
			if r.Offset == end.Offset-1 {
				delete(want, r.Partition)
			}
		})
	}
	return got
}

// newCluster starts kfake with a 4-partition input topic and a client.
func newCluster(t testing.TB) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "in"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

// checkOnce checks that the alerts topic holds want ids, each once.
func checkOnce(t *testing.T, got map[string]int, want int) {
	t.Helper()
	if len(got) != want {
		t.Errorf("alerts topic holds %d ids, want %d", len(got), want)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("alert %s on the topic %d times", id, n)
		}
	}
}

func startMember(t testing.TB, cfg Config, eng Engine, sink Sink) (*Member, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := NewMember(ctx, cfg, eng, sink, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := m.Run(ctx); err != nil {
			t.Errorf("member %s: %v", cfg.Instance, err)
		}
	}()
	return m, func() { cancel(); wg.Wait() }
}

func waitFor(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A sink that does not return stops consumption after one poll: the member
// scores at most MaxPollRecords lines and holds no more in memory; once the
// sink returns, every alert reaches the alerts topic once.
func TestSlowSinkSlowsConsumption(t *testing.T) {
	c, cl := newCluster(t)
	produceLines(t, cl, 50, 0, 40) // 2,000 lines
	eng := &seqEngine{}
	sink := &blockSink{release: make(chan struct{})}
	m, stop := startMember(t, testConfig(c.ListenAddrs(), "a"), eng, sink)
	defer stop()
	waitFor(t, "the first scored lines", 20*time.Second, func() bool { return eng.scored.Load() > 0 })
	time.Sleep(time.Second)
	if n := eng.scored.Load(); n > 100 {
		t.Fatalf("scored %d lines while the sink was blocked; want at most one poll (100)", n)
	}
	close(sink.release)
	waitFor(t, "2,000 delivered alerts", 30*time.Second, func() bool { return sink.n.Load() == 2000 })
	waitFor(t, "2,000 committed lines", 30*time.Second, func() bool { return m.Metrics.Lines.Load() == 2000 })
	stop()
	checkOnce(t, committedAlerts(t, c.ListenAddrs()), 2000)
	var text bytes.Buffer
	if err := m.Metrics.Write(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"correlator_kafka_lines_total 2000\n", "correlator_kafka_rekeyed_total 2000\n", "correlator_kafka_alerts_total 2000\n", "# TYPE correlator_kafka_group_lag gauge\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, text.String())
		}
	}
}

// When a member stops and another takes its partitions, the state comes
// from the changelog: lines sent again do not alert again, newer ones do.
func TestStateFollowsPartitions(t *testing.T) {
	c, cl := newCluster(t)
	produceLines(t, cl, 30, 0, 10)
	ea := &seqEngine{}
	a, stopA := startMember(t, testConfig(c.ListenAddrs(), "a"), ea, nil)
	waitFor(t, "member a to score 300 lines", 30*time.Second, func() bool { return a.Metrics.Lines.Load() == 300 })
	stopA()
	c.Compact()
	produceLines(t, cl, 30, 0, 12) // 300 repeats, 60 new
	eb := &seqEngine{}
	b, stopB := startMember(t, testConfig(c.ListenAddrs(), "b"), eb, nil)
	defer stopB()
	waitFor(t, "member b to score 360 lines", 30*time.Second, func() bool { return b.Metrics.Lines.Load() == 360 })
	// Lines posted to the HTTP listener go through the input topic.
	if err := b.Lines("posted", [][]byte{[]byte("host007|50"), []byte("host007|3")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "member b to score the posted lines", 30*time.Second, func() bool { return b.Metrics.Lines.Load() == 362 })
	stopB()
	if n := b.Metrics.Alerts.Load(); n != 61 {
		t.Errorf("member b alerted %d times, want 61 (the new lines and one posted)", n)
	}
	if n := b.Metrics.Restored.Load(); n != 30 {
		t.Errorf("member b restored %d entries, want 30 (one per host after compaction)", n)
	}
	checkOnce(t, committedAlerts(t, c.ListenAddrs()), 361)
}

// SASL users authenticate with each mechanism; a wrong password is refused.
func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "in"), kfake.EnableSASL(), kfake.Superuser(mech, "correlator", "s3cret"), kfake.GroupMinSessionTimeout(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			bad := testConfig(c.ListenAddrs(), "a")
			bad.SASLMechanism, bad.SASLUser, bad.SASLPassword = mech, "correlator", "wrong"
			good := bad
			good.SASLPassword = "s3cret"
			refusedThenScores(t, bad, good, "a wrong password")
		})
	}
}

// refusedThenScores checks that a member with bad cannot connect, and that
// one with good scores lines produced through good's client options.
func refusedThenScores(t *testing.T, bad, good Config, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := NewMember(ctx, bad, &seqEngine{}, nil, nil); err == nil {
		t.Fatalf("%s was accepted", what)
	}
	opts, err := good.ClientOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceLines(t, cl, 5, 0, 2)
	m, stop := startMember(t, good, &seqEngine{}, nil)
	defer stop()
	waitFor(t, "10 scored lines", 30*time.Second, func() bool { return m.Metrics.Lines.Load() == 10 })
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"127.0.0.1:9092"}, Topics: []string{"osquery_results"}, Group: "cl"}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "--kafka-brokers is required"},
		{"no topic", func(c *Config) { c.Topics = nil }, "--kafka-topic"},
		{"no group", func(c *Config) { c.Group = "" }, "--kafka-group is required"},
		{"internal topic as input", func(c *Config) { c.Topics = []string{"cl.by-host"} }, `topic "cl.by-host" collides`},
		{"unknown mechanism", func(c *Config) { c.SASLMechanism = "GSSAPI"; c.SASLUser = "u" }, `"GSSAPI": want PLAIN`},
		{"SASL without user", func(c *Config) { c.SASLMechanism = "PLAIN" }, "needs --kafka-sasl-user"},
		{"cert without key", func(c *Config) { c.TLSCert = "c.pem" }, "go together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	c := ok
	c.TLSCA = "/nonexistent/ca.pem"
	if _, err := c.ClientOpts(); err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Errorf("missing CA file: error %v", err)
	}
}

func TestPartitionForIsStable(t *testing.T) {
	// The same host maps to the same partition on every member and run:
	// FNV-1a 32 of "" is its offset basis 2166136261, which is 1 mod 12;
	// of "a" it is 0xe40c292c, 4 mod 12.
	cases := map[string]int32{"": 1, "a": 4}
	for h, want := range cases {
		for range 3 {
			if got := PartitionFor(h, 12); got != want {
				t.Errorf("PartitionFor(%q) = %d, want %d", h, got, want)
			}
		}
	}
	seen := map[int32]bool{}
	for i := range 1000 {
		seen[PartitionFor(fmt.Sprintf("host-%d", i), 12)] = true
	}
	if len(seen) != 12 {
		t.Errorf("1,000 hosts used %d of 12 partitions", len(seen))
	}
}
