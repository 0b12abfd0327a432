package fleetsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options shape a scenario.
type Options struct {
	Bin        string // correlator binary
	Dir        string // work directory (lines, logs, alert files)
	Hosts      int
	Partitions int32
	Members    int       // started at the beginning
	Kill       bool      // SIGKILL one member mid-stream
	Join       bool      // start one more member later
	Progress   io.Writer // progress lines for a person (nil: quiet)
	Timeout    time.Duration
}

// Result is what the scenario measured. The first eight fields are the
// summary `make fleet-demo` prints.
type Result struct {
	Hosts      int `json:"hosts"`
	Lines      int `json:"lines"`
	Members    int `json:"members"`
	Killed     int `json:"killed"`
	Alerts     int `json:"alerts"`          // lineages (and hosts) alerted on the alerts topic, by their highest alert
	Expected   int `json:"expected_alerts"` // alerts of the batch `correlator score`
	Duplicates int `json:"duplicates"`      // alert records whose alert_id was already delivered
	Lost       int `json:"lost"`            // batch alerts with no delivered alert of the same id and score

	Extra           []string      `json:"-"` // delivered lineages the batch run did not alert
	Mismatched      []string      `json:"-"` // lineages whose highest delivered alert differs from the batch one
	OrderViolations []string      `json:"-"` // hosts whose alert sequence differs from a sequential run
	Emitted         int           `json:"-"` // distinct alert ids delivered (alerts and re-alerts)
	SequentialIDs   int           `json:"-"` // distinct alert ids of the sequential run
	Elapsed         time.Duration `json:"-"`
	DrainAfterKill  time.Duration `json:"-"` // from the kill until the group had no lag
	MaxLagAfterKill int64         `json:"-"`
	RestoredEntries int64         `json:"-"` // changelog entries the members read back on assignment
}

// Summary is the one-line JSON of the result.
func (r *Result) Summary() string {
	b, _ := json.Marshal(r)
	return string(b)
}

type alertDoc struct {
	ID      string  `json:"alert_id"`
	Kind    string  `json:"kind"`
	Lineage string  `json:"lineage_id"`
	Host    string  `json:"host"`
	Score   float64 `json:"score"`
}

// subject is what an alert is about: its lineage, or for an alert without
// one (a host-level alert) its kind and host.
func (d alertDoc) subject() string {
	if d.Lineage != "" {
		return d.Lineage
	}
	return d.Kind + ":" + d.Host
}

const (
	inputTopic  = "osquery_results"
	alertsTopic = "compile-lineage-alerts"
	group       = "compile-lineage"
)

// Run plays the scenario.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	seed, stream := Generate(o.Hosts)
	all := append(slices.Clone(seed), stream...)
	linesPath := filepath.Join(o.Dir, "lines.jsonl")
	var buf bytes.Buffer
	for _, l := range all {
		buf.Write(l.Data)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(linesPath, buf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("write lines: %w", err)
	}
	res := &Result{Hosts: o.Hosts, Lines: len(all)}
	say("generated %d lines from %d hosts (%d seed lines)", len(all), o.Hosts, len(seed))

	batch, err := batchAlerts(ctx, o.Bin, linesPath)
	if err != nil {
		return nil, err
	}
	sequential, err := sequentialAlerts(ctx, o.Bin, linesPath, o.Dir)
	if err != nil {
		return nil, err
	}
	res.Expected = len(batch)
	say("batch score: %d alerts; sequential run: %d alerts and re-alerts", len(batch), len(sequential))

	f, err := startFleet(ctx, o, say)
	if err != nil {
		return nil, err
	}
	defer f.close()
	for i := range o.Members {
		if err := f.start(i + 1); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	// Seed: the fleet's first sighting of every shared pair, consumed
	// before the stream so its order is the batch run's.
	if err := f.produce(ctx, seed); err != nil {
		return nil, fmt.Errorf("produce seed: %w", err)
	}
	if _, err := f.drain(ctx, len(seed)); err != nil {
		return nil, err
	}
	chunk := max(len(stream)/20, 1)
	var killedAt time.Time
	for i := 0; i < len(stream); i += chunk {
		if err := f.produce(ctx, stream[i:min(i+chunk, len(stream))]); err != nil {
			return nil, fmt.Errorf("produce: %w", err)
		}
		done := min(i+chunk, len(stream))
		if o.Kill && res.Killed == 0 && done >= len(stream)*2/5 {
			time.Sleep(300 * time.Millisecond) // let the members get into the stream
			if err := f.procs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				return nil, fmt.Errorf("kill member: %w", err)
			}
			killedAt = time.Now()
			res.Killed++
			say("member1 killed with SIGKILL after %d of %d stream lines", done, len(stream))
		}
		if o.Join && len(f.procs) == o.Members && done >= len(stream)*7/10 {
			if err := f.start(len(f.procs) + 1); err != nil {
				return nil, err
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.Members = len(f.procs)
	say("all %d lines produced; waiting for the group to drain", len(all))
	maxLag, err := f.drain(ctx, len(all))
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(t0)
	if !killedAt.IsZero() {
		res.DrainAfterKill = time.Since(killedAt)
		res.MaxLagAfterKill = maxLag
	}
	delivered, err := readAlerts(ctx, f.brokers, f.adm)
	if err != nil {
		return nil, err
	}
	compare(res, batch, sequential, delivered)
	res.RestoredEntries = restoredEntries(o.Dir, len(f.procs))
	say("delivered %d alert records, %d distinct ids, drained in %s", len(delivered), res.Emitted, res.Elapsed.Round(time.Millisecond))
	return res, nil
}

// fleet is a kfake cluster, a producer standing in for osquery's
// kafka_producer logger, and the correlator member processes.
type fleet struct {
	o       Options
	say     func(string, ...any)
	cluster *kfake.Cluster
	brokers []string
	cl      *kgo.Client
	adm     *kadm.Client
	tail    *byHostTail
	procs   []*proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startFleet(ctx context.Context, o Options, say func(string, ...any)) (*fleet, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(o.Partitions, inputTopic), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		return nil, fmt.Errorf("kfake: %w", err)
	}
	f := &fleet{o: o, say: say, cluster: cluster, brokers: cluster.ListenAddrs()}
	if f.cl, err = kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(inputTopic)); err != nil {
		cluster.Close()
		return nil, err
	}
	f.adm = kadm.NewClient(f.cl)
	if f.tail, err = tailByHost(ctx, f.brokers); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// close stops the members still running, then the cluster.
func (f *fleet) close() {
	f.stop()
	f.cl.Close()
	f.cluster.Close()
}

// stop ends every member (SIGTERM, then SIGKILL after 10 s) and waits.
func (f *fleet) stop() {
	for _, p := range f.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range f.procs {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// start runs member i as a child process.
func (f *fleet) start(i int) error {
	logf, err := os.OpenFile(filepath.Join(f.o.Dir, fmt.Sprintf("member%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(f.o.Bin, "run",
		"--kafka-brokers", f.brokers[0], "--kafka-topic", inputTopic, "--kafka-group", group,
		"--alerts-topic", alertsTopic, "--kafka-instance", fmt.Sprintf("member%d", i),
		"--kafka-partitions", strconv.Itoa(int(f.o.Partitions)),
		"--kafka-session-timeout", "3s", "--kafka-txn-timeout", "4s",
		"--alerts", filepath.Join(f.o.Dir, fmt.Sprintf("member%d.alerts.jsonl", i)),
		"--log-level", "info")
	cmd.Stdout = io.Discard
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start member %d: %w", i, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	f.procs = append(f.procs, p)
	f.say("member%d started (pid %d)", i, cmd.Process.Pid)
	return nil
}

// produce writes lines to the input topic keyed by hostname, as osquery's
// kafka_producer logger does.
func (f *fleet) produce(ctx context.Context, ls []Line) error {
	recs := make([]*kgo.Record, len(ls))
	for i, l := range ls {
		recs[i] = &kgo.Record{Key: []byte(l.Host), Value: l.Data}
	}
	return f.cl.ProduceSync(ctx, recs...).FirstErr()
}

func (f *fleet) drain(ctx context.Context, produced int) (int64, error) {
	return waitDrained(ctx, f.adm, f.tail, produced, f.say)
}

// Speed is what Throughput measured.
type Speed struct {
	Lines     int           // stream lines scored
	Took      time.Duration // wall clock from the first stream line produced to the last committed
	MemberCPU time.Duration // user+system CPU of all member processes over their life
}

// Throughput starts o.Members members, lets them take the seed lines (so
// the group has settled), then times how long the group needs to score
// and commit the stream.
func Throughput(ctx context.Context, o Options) (Speed, error) {
	seed, stream := Generate(o.Hosts)
	f, err := startFleet(ctx, o, func(string, ...any) {})
	if err != nil {
		return Speed{}, err
	}
	defer f.close()
	for i := range o.Members {
		if err := f.start(i + 1); err != nil {
			return Speed{}, err
		}
	}
	if err := f.produce(ctx, seed); err != nil {
		return Speed{}, err
	}
	if _, err := f.drain(ctx, len(seed)); err != nil {
		return Speed{}, err
	}
	t0 := time.Now()
	if err := f.produce(ctx, stream); err != nil {
		return Speed{}, err
	}
	if _, err := f.drain(ctx, len(seed)+len(stream)); err != nil {
		return Speed{}, err
	}
	sp := Speed{Lines: len(stream), Took: time.Since(t0)}
	f.stop()
	for _, p := range f.procs {
		if st := p.cmd.ProcessState; st != nil {
			sp.MemberCPU += st.UserTime() + st.SystemTime()
		}
	}
	return sp, nil
}

// byHostTail reads the by-host topic as a read_committed consumer: how many
// re-keyed lines are committed and the offset of the last one per partition.
type byHostTail struct {
	mu    sync.Mutex
	count int
	last  map[int32]int64
}

func tailByHost(ctx context.Context, brokers []string) (*byHostTail, error) {
	t := &byHostTail{last: map[int32]int64{}}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(group+".by-host"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		return nil, err
	}
	go func() {
		defer rd.Close()
		for ctx.Err() == nil {
			fs := rd.PollFetches(ctx)
			t.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				t.count++
				t.last[r.Partition] = r.Offset
			})
			t.mu.Unlock()
		}
	}()
	return t, nil
}

// waitDrained waits until every one of the lines produced so far is
// re-keyed and committed on the by-host topic and the group's committed
// offsets there are past the last of them. It returns the largest number
// of lines seen not yet scored.
func waitDrained(ctx context.Context, adm *kadm.Client, tail *byHostTail, produced int, say func(string, ...any)) (int64, error) {
	var maxLag int64
	last := time.Now()
	for {
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			tail.mu.Lock()
			count := tail.count
			behind := int64(produced - count)
			for p, lo := range tail.last {
				c, ok := offs.Lookup(group+".by-host", p)
				switch {
				case !ok:
					behind += lo + 1
				case c.At <= lo:
					behind += lo + 1 - c.At
				}
			}
			tail.mu.Unlock()
			maxLag = max(maxLag, behind)
			if time.Since(last) > 2*time.Second {
				say("  %d lines not yet scored and committed", behind)
				last = time.Now()
			}
			if count == produced && behind == 0 {
				return maxLag, nil
			}
		}
		select {
		case <-ctx.Done():
			return maxLag, fmt.Errorf("waiting for the group to drain: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readAlerts(ctx context.Context, brokers []string, adm *kadm.Client) ([]alertDoc, error) {
	ends, err := adm.ListCommittedOffsets(ctx, alertsTopic)
	if err != nil {
		return nil, err
	}
	want := map[int32]kgo.Offset{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = kgo.NewOffset().AtStart()
			remaining++
		}
	})
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{alertsTopic: want}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var out []alertDoc
	for remaining > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup(alertsTopic, r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if !r.Attrs.IsControl() {
				var a alertDoc
				if err := json.Unmarshal(r.Value, &a); err == nil {
					out = append(out, a)
				}
			}
			if r.Offset == end.Offset-1 {
				remaining--
			}
		})
	}
	return out, nil
}

func batchAlerts(ctx context.Context, bin, lines string) (map[string]alertDoc, error) {
	out, err := exec.CommandContext(ctx, bin, "score", "--quiet", lines).Output()
	if err != nil {
		return nil, fmt.Errorf("batch score: %w", err)
	}
	docs, err := parseDocs(out)
	if err != nil {
		return nil, fmt.Errorf("batch score output: %w", err)
	}
	m := map[string]alertDoc{}
	for _, d := range docs {
		m[d.subject()] = d
	}
	return m, nil
}

func sequentialAlerts(ctx context.Context, bin, lines, dir string) ([]alertDoc, error) {
	db := filepath.Join(dir, "sequential.db")
	_ = os.Remove(db)
	cmd := exec.CommandContext(ctx, bin, "run", "--state", db, "--follow", lines, "--once")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sequential run: %w", err)
	}
	return parseDocs(out)
}

func parseDocs(b []byte) ([]alertDoc, error) {
	var out []alertDoc
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d alertDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// compare fills the counts: duplicates by alert id; the highest delivered
// alert of every lineage against the batch alert; every host's sequence of
// alert ids against the sequential run.
func compare(res *Result, batch map[string]alertDoc, sequential, delivered []alertDoc) {
	seen := map[string]bool{}
	best := map[string]alertDoc{}
	perHost := map[string][]string{}
	for _, d := range delivered {
		if seen[d.ID] {
			res.Duplicates++
			continue
		}
		seen[d.ID] = true
		perHost[d.Host] = append(perHost[d.Host], d.ID)
		if b, ok := best[d.subject()]; !ok || d.Score >= b.Score {
			best[d.subject()] = d
		}
	}
	res.Emitted = len(seen)
	res.Alerts = len(best)
	for id, b := range batch {
		d, ok := best[id]
		switch {
		case !ok || !seen[b.ID]:
			res.Lost++
		case d.ID != b.ID || d.Score != b.Score:
			res.Mismatched = append(res.Mismatched, fmt.Sprintf("%s: delivered %s score %.1f, batch %s score %.1f", id, d.ID, d.Score, b.ID, b.Score))
		}
	}
	for id := range best {
		if _, ok := batch[id]; !ok {
			res.Extra = append(res.Extra, id)
		}
	}
	seqHost := map[string][]string{}
	seqSeen := map[string]bool{}
	for _, d := range sequential {
		if !seqSeen[d.ID] {
			seqSeen[d.ID] = true
			seqHost[d.Host] = append(seqHost[d.Host], d.ID)
		}
	}
	res.SequentialIDs = len(seqSeen)
	for h, ids := range seqHost {
		if !slices.Equal(ids, perHost[h]) {
			res.OrderViolations = append(res.OrderViolations, fmt.Sprintf("%s: delivered %v, sequential %v", h, perHost[h], ids))
		}
	}
	for h := range perHost {
		if _, ok := seqHost[h]; !ok {
			res.OrderViolations = append(res.OrderViolations, h+": alerts delivered, none in the sequential run")
		}
	}
	slices.Sort(res.Mismatched)
	slices.Sort(res.Extra)
	slices.Sort(res.OrderViolations)
}

// restoredEntries sums the changelog entries the members' logs say they
// restored.
func restoredEntries(dir string, members int) int64 {
	var n int64
	for i := 1; i <= members; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("member%d.log", i)))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var l struct {
				Msg     string `json:"@message"`
				Entries int64  `json:"entries"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "restored state" {
				n += l.Entries
			}
		}
	}
	return n
}
