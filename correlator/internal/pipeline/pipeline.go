// Package pipeline ties the long-running inputs (followed files, HTTP
// posts) to one engine and the state store. Every batch of lines is
// committed in one transaction together with the alerts it produced (an
// outbox) and the input offsets; alerts are delivered from the outbox after
// the commit and removed once delivered. A stop at any point therefore
// loses no alert, and a restart re-reads only lines whose results were not
// committed, which the lineage dedup turns into no duplicate.
package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
	"github.com/compilelineage/compile-lineage/correlator/internal/tail"
)

// Pipeline is safe for concurrent use.
type Pipeline struct {
	mu      sync.Mutex
	dmu     sync.Mutex // serialises delivery
	eng     *engine.Engine
	db      *state.DB
	sink    alert.Sink
	dead    resultlog.DeadLetter
	maxLine int
	logger  hclog.Logger

	// CheckpointEvery commits at least every this many lines of a followed
	// file (default 1000).
	CheckpointEvery int

	readers map[string]*engine.Reader
	outbox  []*alert.Alert
	explain map[string]*alert.Alert
}

// New builds a pipeline. The engine's state must have been loaded from db.
func New(eng *engine.Engine, db *state.DB, sink alert.Sink, dead resultlog.DeadLetter, maxLine int, logger hclog.Logger) *Pipeline {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Pipeline{eng: eng, db: db, sink: sink, dead: dead, maxLine: maxLine, logger: logger, readers: map[string]*engine.Reader{}, explain: map[string]*alert.Alert{}}
}

func (p *Pipeline) reader(source string) *engine.Reader {
	r, ok := p.readers[source]
	if !ok {
		r = engine.NewReader(p.eng, p.dead, func(a *alert.Alert) error {
			if a.Kind == alert.KindHostRisk {
				p.outbox = append(p.outbox, a)
				return nil
			}
			p.explain[a.LineageID] = a
			if a.Raised() {
				p.outbox = append(p.outbox, a)
			}
			return nil
		})
		r.MaxLine = p.maxLine
		p.readers[source] = r
	}
	return r
}

// Line processes one line of a source. Its results are held until Commit.
func (p *Pipeline) Line(source string, l resultlog.Line) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reader(source).Line(source, l)
}

// Lines processes the lines of one posted body and commits them.
func (p *Pipeline) Lines(source string, lines [][]byte) error {
	p.mu.Lock()
	r := p.reader(source)
	for i, data := range lines {
		if err := r.Line(source, resultlog.Line{Data: data, No: int64(i + 1), Size: int64(len(data)), TooLong: p.maxLine > 0 && len(data) > p.maxLine}); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	p.mu.Unlock()
	return p.Commit(nil)
}

// Commit writes state changes, the outbox and offsets in one transaction,
// then delivers the outbox.
func (p *Pipeline) Commit(offsets map[string]state.Offset) error {
	p.mu.Lock()
	explain := make([]*alert.Alert, 0, len(p.explain))
	for _, a := range p.explain {
		explain = append(explain, a)
	}
	err := p.db.CommitBatch(state.Batch{Changes: p.eng.State.Drain(), Offsets: offsets, Explain: explain, Outbox: p.outbox})
	if err == nil {
		p.outbox = p.outbox[:0]
		clear(p.explain)
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	return p.Deliver()
}

// Deliver sends every alert in the outbox, oldest first, and removes each
// once sent. A failed send leaves it (and the ones after it) for later.
func (p *Pipeline) Deliver() error {
	p.dmu.Lock()
	defer p.dmu.Unlock()
	items, err := p.db.Outbox()
	if err != nil {
		return err
	}
	for _, it := range items {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := p.sink.Send(ctx, it.Alert)
		cancel()
		if err != nil {
			p.logger.Warn("alert delivery failed, kept in the outbox", "lineage_id", it.Alert.LineageID, "error", err)
			return nil
		}
		if err := p.db.Delivered(it.Key); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the engine counters and the line counters per source.
func (p *Pipeline) Stats() (engine.Stats, map[string]engine.LineStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := make(map[string]engine.LineStats, len(p.readers))
	for k, r := range p.readers {
		ls[k] = r.Stats
	}
	return p.eng.Stats, ls
}

// OffsetKey is the state key of a followed path.
func OffsetKey(path string) string { return "file:" + path }

// Follow follows a path until ctx ends, resuming from its saved offset.
func (p *Pipeline) Follow(ctx context.Context, path string, poll time.Duration, once bool) error {
	key := OffsetKey(path)
	saved, ok, err := p.db.Offset(key)
	if err != nil {
		return err
	}
	start := tail.Position{Line: 1}
	if ok {
		start = tail.Position{Offset: saved.Offset, Line: saved.Line, FileID: saved.FileID}
		p.logger.Info("resuming", "path", path, "offset", saved.Offset, "line", saved.Line)
	}
	fl := &tail.Follower{
		Path:    path,
		Poll:    poll,
		MaxLine: p.maxLine,
		Once:    once,
		Every:   p.CheckpointEvery,
		Logger:  p.logger.Named("tail"),
		Handle: func(source string, l resultlog.Line) error {
			return p.Line(source, l)
		},
		Checkpoint: func(pos tail.Position) error {
			return p.Commit(map[string]state.Offset{key: {Path: path, Offset: pos.Offset, Line: pos.Line, FileID: pos.FileID}})
		},
	}
	if err := fl.Run(ctx, start); err != nil {
		return fmt.Errorf("follow %s: %w", path, err)
	}
	return nil
}
