package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pairs is the fleet-wide view of parent+compiler pairs: the single
// partition of GROUP.fleet-pairs, read from the start by every member. The
// first claim of a pair in that log names the lineage that saw it first.
type pairs struct {
	cl    *kgo.Client
	topic string
	ctx   context.Context

	mu     sync.Mutex
	cond   *sync.Cond
	winner map[string]string // pair key -> lineage of the first claim
	next   int64             // offset of the next record to read
	err    error
	claims *atomic.Int64
}

func pairKey(parent, compiler string) string { return parent + "\x00" + compiler }

func newPairs(ctx context.Context, opts []kgo.Opt, topic string, claims *atomic.Int64) (*pairs, error) {
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: fleet pairs client: %w", err)
	}
	p := &pairs{cl: cl, topic: topic, ctx: ctx, winner: map[string]string{}, claims: claims}
	p.cond = sync.NewCond(&p.mu)
	go p.read()
	return p, nil
}

func (p *pairs) read() {
	for {
		fs := p.cl.PollFetches(p.ctx)
		if p.ctx.Err() != nil || fs.IsClientClosed() {
			p.fail(errors.New("kafka: fleet pairs reader stopped"))
			return
		}
		p.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			k := string(r.Key)
			if _, ok := p.winner[k]; !ok {
				p.winner[k] = string(r.Value)
			}
			p.next = r.Offset + 1
		})
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

func (p *pairs) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Err is the first failure of a claim or of the reader.
func (p *pairs) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// FirstInFleet claims the pair for lineage when no claim is known and waits
// until the claim is read back; the first claim in the log wins.
func (p *pairs) FirstInFleet(parent, compiler, lineage string) bool {
	k := pairKey(parent, compiler)
	p.mu.Lock()
	w, ok := p.winner[k]
	err := p.err
	p.mu.Unlock()
	if ok {
		return w == lineage
	}
	if err != nil {
		return false
	}
	res := p.cl.ProduceSync(p.ctx, &kgo.Record{Key: []byte(k), Value: []byte(lineage), Partition: 0})
	r, perr := res.First()
	if perr != nil {
		p.fail(fmt.Errorf("kafka: claim fleet pair: %w", perr))
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims.Add(1)
	for p.next <= r.Offset && p.err == nil {
		p.cond.Wait()
	}
	return p.winner[k] == lineage
}

func (p *pairs) close() { p.cl.Close() }
