// Package batch keeps, for `correlator score`, the highest-ranking
// evaluation of every lineage and of every host whose risk alerted, while
// the input is read, and writes them sorted when it is done.
//
// Memory holds one small fixed-size entry per lineage or host (ranking
// fields and where the document is). The documents are encoded when they
// are kept and appended to a spool file (mode 0600, in the directory given,
// by default $TMPDIR, removed by Close), so an alert storm costs disk in
// proportion to the alerts kept, not memory; the Go heap holds no alert
// once it is encoded.
package batch

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

// Rank is what orders evaluations: which one a lineage keeps, and the
// order of the output.
type Rank struct {
	Score          float64
	Kind           string
	LineageID      string
	AlertID        string
	BelowThreshold bool
	Suppressed     bool
}

// RankOf returns a's rank.
func RankOf(a *alert.Alert) Rank {
	return Rank{Score: a.Score, Kind: a.Kind, LineageID: a.LineageID, AlertID: a.AlertID, BelowThreshold: a.BelowThreshold, Suppressed: a.Suppressed}
}

// Above reports whether r should replace o as its lineage's evaluation: an
// alert beats a below-threshold or suppressed evaluation, then the higher
// score wins, and at the same score the later row.
func (r Rank) Above(o Rank) bool {
	if !r.BelowThreshold && !r.Suppressed && (o.BelowThreshold || o.Suppressed) {
		return true
	}
	if r.Score != o.Score {
		return r.Score > o.Score
	}
	return true
}

// Compare is the output order: score descending, lineage alerts before the
// host risk alerts they add up to, then lineage id and alert id.
func Compare(a, b Rank) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Kind, a.Kind); c != 0 { // "lineage" sorts after "host_risk"
		return c
	}
	if c := cmp.Compare(a.LineageID, b.LineageID); c != 0 {
		return c
	}
	return cmp.Compare(a.AlertID, b.AlertID)
}

// Key is what one evaluation is kept per: the lineage, or the host for
// host risk alerts.
func Key(a *alert.Alert) string {
	if a.Kind == alert.KindHostRisk {
		return "host:" + a.HostUUID + "|" + a.Host
	}
	return a.LineageID
}

// Entry is one kept evaluation.
type Entry struct {
	Rank
	off        int64 // spool offset of the output document
	n, nNative int32 // lengths of the output and native documents
}

// Set is the kept evaluations. It is not safe for concurrent use.
type Set struct {
	f       *os.File
	w       *bufio.Writer
	size    int64
	index   map[string]int
	entries []Entry
	encode  alert.Encoder
	native  bool
	buf     []byte
}

// Options say how documents are encoded.
type Options struct {
	// Dir is where the spool file is created ("" means os.TempDir()).
	Dir string
	// Encode is the output format (nil: the native JSON, alert.Marshal).
	Encode alert.Encoder
	// Native also keeps the native JSON of every lineage when Encode is
	// another format (for the state store's explanations).
	Native bool
}

// New creates an empty set and its spool file.
func New(o Options) (*Set, error) {
	f, err := os.CreateTemp(o.Dir, "correlator-score-*.spool")
	if err != nil {
		return nil, fmt.Errorf("create score spool: %w", err)
	}
	return &Set{f: f, w: bufio.NewWriterSize(f, 1<<20), index: map[string]int{}, encode: o.Encode, native: o.Native && o.Encode != nil}, nil
}

// Close removes the spool file.
func (s *Set) Close() error {
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil && rerr != nil {
		err = fmt.Errorf("remove score spool: %w", rerr)
	}
	return err
}

// Len is the number of entries kept.
func (s *Set) Len() int { return len(s.entries) }

// Add keeps a when it ranks above what its lineage (or host) holds. Only a
// kept evaluation is encoded.
func (s *Set) Add(a *alert.Alert) error {
	r := RankOf(a)
	key := Key(a)
	i, ok := s.index[key]
	if ok && !r.Above(s.entries[i].Rank) {
		return nil
	}
	var err error
	s.buf = s.buf[:0]
	if s.encode == nil {
		s.buf, err = alert.AppendJSON(s.buf, a)
	} else {
		var doc []byte
		if doc, err = s.encode(a); err == nil {
			s.buf = append(s.buf, doc...)
		}
	}
	if err != nil {
		return err
	}
	n := len(s.buf)
	if s.native {
		if s.buf, err = alert.AppendJSON(s.buf, a); err != nil {
			return err
		}
	}
	e := Entry{Rank: r, off: s.size, n: int32(n), nNative: int32(len(s.buf) - n)}
	if s.encode == nil {
		e.nNative = e.n
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("write score spool: %w", err)
	}
	s.size += int64(len(s.buf))
	if ok {
		s.entries[i] = e
	} else {
		s.index[key] = len(s.entries)
		s.entries = append(s.entries, e)
	}
	return nil
}

// Each calls fn, in output order, for every entry keep accepts (nil: all),
// with its output document and its native JSON (for lineages; the same
// bytes when the output is native). The slices are valid during the call.
func (s *Set) Each(keep func(*Entry) bool, fn func(e *Entry, doc, native []byte) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write score spool: %w", err)
	}
	order := make([]int32, 0, len(s.entries))
	for i := range s.entries {
		if keep == nil || keep(&s.entries[i]) {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return Compare(s.entries[a].Rank, s.entries[b].Rank) })
	for _, i := range order {
		e := &s.entries[i]
		size := int(e.n)
		if s.native {
			size += int(e.nNative)
		}
		s.buf = slices.Grow(s.buf[:0], size)[:size]
		if n, err := s.f.ReadAt(s.buf, e.off); n != size {
			return fmt.Errorf("read score spool at %d: %w", e.off, cmp.Or(err, io.ErrUnexpectedEOF))
		}
		doc, native := s.buf[:e.n], s.buf[:e.n]
		if s.native {
			native = s.buf[e.n:]
		}
		if err := fn(e, doc, native); err != nil {
			return err
		}
	}
	return nil
}
