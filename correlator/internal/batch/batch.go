// Package batch keeps, for `correlator score`, the highest-ranking
// evaluation of every lineage and of every host whose risk alerted, while
// the input is read, and writes them sorted when it is done.
//
// Memory holds one small fixed-size entry per lineage or host (ranking
// fields and where the document is). A lineage's document is encoded when
// it is kept and appended to the spool: its first MemLimit bytes (32 MiB by
// default) in memory, the rest in a file (mode 0600, in the directory
// given, by default $TMPDIR, created only when needed and removed by
// Close). A host's risk alert, one per host, is held as it is and encoded
// for the output. An alert storm therefore costs disk in proportion to the
// alerts kept, not memory; the Go heap holds no lineage alert once it is
// encoded.
package batch

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

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
	// host is a kept host risk alert: one per host, so held as it is and
	// encoded only for the output (a host re-alerts at each band, and the
	// documents it would spool are mostly superseded).
	host *alert.Alert
}

// Set is the kept evaluations. It is not safe for concurrent use.
type Set struct {
	dir      string
	f        *os.File      // nil until the memory part is full
	w        *bufio.Writer // over f
	mem      [][]byte      // the spool's first bytes, in chunks of memChunk
	memUsed  int           // bytes of mem in use, gaps at chunk ends included
	memMax   int
	chunk    int    // memChunk, or memMax when smaller
	fileSize int64  // bytes in the file
	mapped   []byte // the file mapped for the output pass (unix)
	index    map[string]int
	entries  []Entry
	encode   alert.Encoder
	native   bool
	buf      []byte
	hbuf     []byte // host alerts' documents, encoded for the output
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
	// MemLimit is how many bytes of documents stay in memory before the
	// spool file is used (0: DefaultMemLimit; negative: none).
	MemLimit int
}

// DefaultMemLimit is the part of the spool kept in memory.
const DefaultMemLimit = 32 * memChunk

// New creates an empty set.
func New(o Options) (*Set, error) {
	limit := o.MemLimit
	switch {
	case limit == 0:
		limit = DefaultMemLimit
	case limit < 0:
		limit = 0
	}
	return &Set{dir: o.Dir, memMax: limit, chunk: min(memChunk, limit), index: map[string]int{}, encode: o.Encode, native: o.Native && o.Encode != nil}, nil
}

// Close removes the spool file, if one was needed.
func (s *Set) Close() error {
	s.mem, s.memUsed = nil, 0
	if s.f == nil {
		return nil
	}
	err := unmapFile(s.mapped)
	s.mapped = nil
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(s.f.Name()); err == nil && rerr != nil {
		err = fmt.Errorf("remove score spool: %w", rerr)
	}
	s.f = nil
	return err
}

// memChunk is the size of one piece of the in-memory spool.
const memChunk = 1 << 20

// spool appends b (one entry's documents, never split) and returns its
// offset: in memory while it fits (a document that does not fit in the
// current chunk starts the next), then in the file, whose offsets follow
// the whole memory part.
func (s *Set) spool(b []byte) (int64, error) {
	if s.f == nil && len(b) <= s.chunk {
		if n := len(s.mem); n > 0 && len(s.mem[n-1])+len(b) <= s.chunk {
			off := s.memUsed
			s.mem[n-1] = append(s.mem[n-1], b...)
			s.memUsed += len(b)
			return int64(off), nil
		}
		if (len(s.mem)+1)*s.chunk <= s.memMax {
			s.memUsed = len(s.mem) * s.chunk
			s.mem = append(s.mem, append(make([]byte, 0, s.chunk), b...))
			off := s.memUsed
			s.memUsed += len(b)
			return int64(off), nil
		}
	}
	if s.mapped != nil { // an Add after an output pass
		if err := unmapFile(s.mapped); err != nil {
			return 0, err
		}
		s.mapped = nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "correlator-score-*.spool")
		if err != nil {
			return 0, fmt.Errorf("create score spool: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	off := int64(s.memMax) + s.fileSize
	if _, err := s.w.Write(b); err != nil {
		return 0, fmt.Errorf("write score spool: %w", err)
	}
	s.fileSize += int64(len(b))
	return off, nil
}

// read returns the n bytes spooled at off (valid until the next read).
func (s *Set) read(off int64, n int) ([]byte, error) {
	if off < int64(s.memMax) {
		c, at := s.mem[off/int64(s.chunk)], int(off%int64(s.chunk))
		return c[at : at+n], nil
	}
	at := off - int64(s.memMax)
	if at+int64(n) <= int64(len(s.mapped)) {
		return s.mapped[at : at+int64(n)], nil
	}
	s.buf = slices.Grow(s.buf[:0], n)[:n]
	if got, err := s.f.ReadAt(s.buf, at); got != n {
		return nil, fmt.Errorf("read score spool at %d: %w", at, cmp.Or(err, io.ErrUnexpectedEOF))
	}
	return s.buf, nil
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
	var e Entry
	if a.Kind == alert.KindHostRisk {
		e = Entry{Rank: r, host: a}
	} else {
		var err error
		var n int
		if s.buf, n, err = s.encodeAll(s.buf[:0], a); err != nil {
			return err
		}
		off, err := s.spool(s.buf)
		if err != nil {
			return err
		}
		e = Entry{Rank: r, off: off, n: int32(n), nNative: int32(len(s.buf) - n)}
		if !s.native {
			e.nNative = e.n
		}
	}
	if ok {
		e.LineageID = s.entries[i].LineageID
		s.entries[i] = e
	} else {
		// Copies: the alert's strings may share memory with its whole row.
		key, e.LineageID = strings.Clone(key), strings.Clone(e.LineageID)
		s.index[key] = len(s.entries)
		s.entries = append(s.entries, e)
	}
	return nil
}

// encodeAll appends a's output document and, when the set keeps them
// apart, its native JSON; n is the output document's length.
func (s *Set) encodeAll(dst []byte, a *alert.Alert) (b []byte, n int, err error) {
	if s.encode == nil {
		dst, err = alert.AppendJSON(dst, a)
	} else {
		var doc []byte
		if doc, err = s.encode(a); err == nil {
			dst = append(dst, doc...)
		}
	}
	if err != nil {
		return dst, 0, err
	}
	n = len(dst)
	if s.native {
		dst, err = alert.AppendJSON(dst, a)
	}
	return dst, n, err
}

// Each calls fn, in output order, for every entry keep accepts (nil: all),
// with its output document and its native JSON (for lineages; the same
// bytes when the output is native). The slices are valid during the call.
func (s *Set) Each(keep func(*Entry) bool, fn func(e *Entry, doc, native []byte) error) error {
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("write score spool: %w", err)
		}
		if s.mapped == nil {
			m, err := mapFile(s.f, s.fileSize)
			if err != nil {
				return err
			}
			s.mapped = m
		}
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
		if e.host != nil {
			b, n, err := s.encodeAll(s.hbuf[:0], e.host)
			s.hbuf = b
			if err != nil {
				return err
			}
			native := b[:n]
			if s.native {
				native = b[n:]
			}
			if err := fn(e, b[:n], native); err != nil {
				return err
			}
			continue
		}
		size := int(e.n)
		if s.native {
			size += int(e.nNative)
		}
		b, err := s.read(e.off, size)
		if err != nil {
			return err
		}
		doc, native := b[:e.n], b[:e.n]
		if s.native {
			native = b[e.n:]
		}
		if err := fn(e, doc, native); err != nil {
			return err
		}
	}
	return nil
}
