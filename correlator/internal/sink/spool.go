package sink

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ErrSpoolFull is returned by Enqueue when the spool holds MaxRecords.
var ErrSpoolFull = errors.New("spool full")

// SpoolOptions tune a Spool; zero values take the defaults.
type SpoolOptions struct {
	Batch      int           // records per Send (default 500)
	MaxRecords int           // records held before Enqueue refuses (default 1,000,000)
	MinBackoff time.Duration // first retry delay (default 1s)
	MaxBackoff time.Duration // longest retry delay (default 1m)
	Timeout    time.Duration // per Send (default 30s)
	Logger     hclog.Logger
}

// Spool is a durable queue in front of a Sink. Each record is a file
// (0600) in the spool directory (0700), written to a temporary name,
// synced and renamed, so after a crash, even kill -9, every record Enqueue
// accepted is there and none is half written. Delivered records are
// removed; records the SIEM rejects for good go to rejected.jsonl (0600)
// with the reason. A record may be sent again after a crash between its
// delivery and its removal, always with the same ID.
type Spool struct {
	dir  string
	sink Sink
	opt  SpoolOptions
	log  hclog.Logger

	mu      sync.Mutex
	pending []entry // in order
	ids     map[string]struct{}
	next    uint64
	wake    chan struct{}
	dmu     sync.Mutex // one delivery at a time
}

type entry struct {
	seq uint64
	id  string
}

const (
	queuedPrefix = "q-"
	tmpPrefix    = "tmp-"
	rejectedFile = "rejected.jsonl"
)

// OpenSpool opens or creates the spool directory and loads what a previous
// process left in it.
func OpenSpool(dir string, s Sink, opt SpoolOptions) (*Spool, error) {
	if opt.Batch <= 0 {
		opt.Batch = 500
	}
	if opt.MaxRecords <= 0 {
		opt.MaxRecords = 1_000_000
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(time.Minute, opt.MinBackoff)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	log := opt.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool dir %s: %w", dir, err)
	}
	sp := &Spool{dir: dir, sink: s, opt: opt, log: log, ids: map[string]struct{}{}, wake: make(chan struct{}, 1), next: 1}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read spool %s: %w", dir, err)
	}
	for _, de := range des {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			// An Enqueue that never returned: its caller still holds the record.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("spool %s: remove %s: %w", dir, name, err)
			}
		case strings.HasPrefix(name, queuedPrefix) && strings.HasSuffix(name, ".json"):
			seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, queuedPrefix), ".json"), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("spool %s: unexpected file %s", dir, name)
			}
			r, err := sp.read(seq)
			if err != nil {
				return nil, err
			}
			if _, dup := sp.ids[r.ID]; !dup {
				sp.pending = append(sp.pending, entry{seq: seq, id: r.ID})
				sp.ids[r.ID] = struct{}{}
			}
			sp.next = max(sp.next, seq+1)
		}
	}
	slices.SortFunc(sp.pending, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	return sp, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%020d.json", queuedPrefix, seq))
}

func (s *Spool) read(seq uint64) (Record, error) {
	var r Record
	b, err := os.ReadFile(s.path(seq))
	if err != nil {
		return r, fmt.Errorf("read spooled record: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("spooled record %s: %w", s.path(seq), err)
	}
	return r, nil
}

// Pending is the number of records waiting.
func (s *Spool) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Enqueue stores records durably. It returns once they are on disk. A
// record whose ID is already waiting is not stored twice.
func (s *Spool) Enqueue(recs ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := false
	for _, r := range recs {
		if r.ID == "" {
			return fmt.Errorf("spool: record without id")
		}
		if _, dup := s.ids[r.ID]; dup {
			continue
		}
		if len(s.pending) >= s.opt.MaxRecords {
			return fmt.Errorf("spool %s: %w (%d records)", s.dir, ErrSpoolFull, len(s.pending))
		}
		seq := s.next
		if err := s.write(seq, r); err != nil {
			return err
		}
		s.next++
		s.pending = append(s.pending, entry{seq: seq, id: r.ID})
		s.ids[r.ID] = struct{}{}
		added = true
	}
	if added {
		if err := syncDir(s.dir); err != nil {
			return err
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Spool) write(seq uint64, r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("spool record %s: %w", r.ID, err)
	}
	tmp := filepath.Join(s.dir, fmt.Sprintf("%s%020d", tmpPrefix, seq))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool record %s: %w", r.ID, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(seq))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool record %s: %w", r.ID, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync spool dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync spool dir: %w", err)
	}
	return nil
}

// Flush sends one batch of the oldest records and reports whether any are
// left and the error of the attempt.
func (s *Spool) Flush(ctx context.Context) (more bool, err error) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.mu.Lock()
	n := min(len(s.pending), s.opt.Batch)
	batch := slices.Clone(s.pending[:n])
	s.mu.Unlock()
	if n == 0 {
		return false, nil
	}
	recs := make([]Record, 0, n)
	for _, e := range batch {
		r, err := s.read(e.seq)
		if err != nil {
			return true, err
		}
		recs = append(recs, r)
	}
	sctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	err = s.sink.Send(sctx, recs)
	cancel()
	done := make([]bool, n) // removed from the queue
	var rejected map[int]string
	var be *BatchError
	switch {
	case err == nil:
		for i := range done {
			done[i] = true
		}
	case errors.As(err, &be):
		retry := map[int]bool{}
		for _, i := range be.Retry {
			retry[i] = true
		}
		for i := range done {
			done[i] = !retry[i]
		}
		rejected = be.Rejected
	case IsPermanent(err):
		rejected = map[int]string{}
		for i := range done {
			done[i] = true
			rejected[i] = err.Error()
		}
	default:
		return true, fmt.Errorf("%s: %w", s.sink.Name(), err)
	}
	if len(rejected) > 0 {
		if rerr := s.reject(recs, rejected); rerr != nil {
			return true, rerr
		}
	}
	s.mu.Lock()
	keep := s.pending[:0]
	j := 0
	for _, e := range s.pending {
		if j < n && e.seq == batch[j].seq {
			if done[j] {
				delete(s.ids, e.id)
				if rerr := os.Remove(s.path(e.seq)); rerr != nil {
					s.log.Warn("remove delivered record", "sink", s.sink.Name(), "id", e.id, "error", rerr)
				}
			} else {
				keep = append(keep, e)
			}
			j++
			continue
		}
		keep = append(keep, e)
	}
	s.pending = keep
	more = len(s.pending) > 0
	s.mu.Unlock()
	if be != nil && len(be.Retry) > 0 {
		return more, fmt.Errorf("%s: %w", s.sink.Name(), err)
	}
	return more, nil
}

func (s *Spool) reject(recs []Record, why map[int]string) error {
	f, err := os.OpenFile(filepath.Join(s.dir, rejectedFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool rejected file: %w", err)
	}
	defer f.Close()
	idx := make([]int, 0, len(why))
	for i := range why {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		b, err := json.Marshal(struct {
			Sink   string `json:"sink"`
			Reason string `json:"reason"`
			Record Record `json:"record"`
		}{s.sink.Name(), why[i], recs[i]})
		if err != nil {
			return fmt.Errorf("spool rejected record: %w", err)
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("spool rejected file: %w", err)
		}
		s.log.Warn("record rejected by the SIEM, kept in the rejected file", "sink", s.sink.Name(), "id", recs[i].ID, "reason", why[i])
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool rejected file: %w", err)
	}
	return nil
}

// Run delivers records until ctx ends, retrying with exponential backoff
// (with jitter) while the SIEM fails.
func (s *Spool) Run(ctx context.Context) {
	backoff := s.opt.MinBackoff
	for {
		more, err := s.Flush(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d := backoff/2 + rand.N(backoff/2+1)
			s.log.Warn("delivery failed, records stay in the spool", "sink", s.sink.Name(), "pending", s.Pending(), "retry_in", d.String(), "error", err)
			backoff = min(backoff*2, s.opt.MaxBackoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			continue
		}
		backoff = s.opt.MinBackoff
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}
