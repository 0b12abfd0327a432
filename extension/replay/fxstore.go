package replay

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// tableRows holds one table's fixture rows compactly: a large export (hundreds of thousands of events) must
// fit in a few times its file size. Each row is one string holding its values back to back and the end
// offset of each column of the table's schema (all platforms), the top bit marking NULL.
type tableRows struct {
	table   *Table
	rows    []fxRow
	origins []originSpan
}

type fxRow struct {
	blob string
	off  []uint32
}

const nullBit = 1 << 31

// originSpan says where a run of rows came from: rows [first, first+count) of the table are rows
// start, start+1, ... of file (lines when line is set).
type originSpan struct {
	file         string
	first, count int
	start        int
	line         bool
}

func newTableRows(t *Table) *tableRows { return &tableRows{table: t, rows: []fxRow{}} }

// get returns the value of column ci and whether it is present (not NULL).
func (r fxRow) get(ci int) (string, bool) {
	end := r.off[ci]
	if end&nullBit != 0 {
		return "", false
	}
	var start uint32
	if ci > 0 {
		start = r.off[ci-1] &^ nullBit
	}
	return r.blob[start:end], true
}

// rowBuilder assembles one fxRow.
type rowBuilder struct {
	cols    []Column
	vals    []string
	present []bool
	b       strings.Builder
}

func newRowBuilder(t *Table) *rowBuilder {
	return &rowBuilder{cols: t.Columns, vals: make([]string, len(t.Columns)), present: make([]bool, len(t.Columns))}
}

// set stores a column's value; it fails on an unknown column or a value osquery could not hold.
func (rb *rowBuilder) set(col, value string) error {
	for i, c := range rb.cols {
		if c.Name == col && c.AliasOf == "" {
			if err := checkValue(c, value); err != nil {
				return err
			}
			rb.vals[i], rb.present[i] = value, true
			return nil
		}
	}
	return fmt.Errorf("unknown column %q", col)
}

// row returns the row built so far and resets the builder. Alias columns read their target.
func (rb *rowBuilder) row() (fxRow, error) {
	for i, c := range rb.cols {
		if c.AliasOf == "" {
			continue
		}
		for j, t := range rb.cols {
			if t.Name == c.AliasOf {
				rb.vals[i], rb.present[i] = rb.vals[j], rb.present[j]
			}
		}
	}
	rb.b.Reset()
	off := make([]uint32, len(rb.cols))
	for i := range rb.cols {
		if rb.present[i] {
			rb.b.WriteString(rb.vals[i])
		}
		if rb.b.Len() >= nullBit {
			return fxRow{}, fmt.Errorf("row larger than %d bytes", nullBit)
		}
		off[i] = uint32(rb.b.Len())
		if !rb.present[i] {
			off[i] |= nullBit
		}
		rb.vals[i], rb.present[i] = "", false
	}
	return fxRow{blob: rb.b.String(), off: off}, nil
}

// rowFromMap builds a row from column values (tests, Windows event lines).
func rowFromMap(t *Table, m map[string]string) (fxRow, error) {
	rb := newRowBuilder(t)
	for k, v := range m {
		if err := rb.set(k, v); err != nil {
			return fxRow{}, err
		}
	}
	return rb.row()
}

// toMap materializes a row (present columns only, aliases left out).
func (tr *tableRows) toMap(i int) map[string]string {
	out := map[string]string{}
	for ci, c := range tr.table.Columns {
		if c.AliasOf != "" {
			continue
		}
		if v, ok := tr.rows[i].get(ci); ok {
			out[c.Name] = v
		}
	}
	return out
}

func (tr *tableRows) add(r fxRow, span originSpan) {
	tr.rows = append(tr.rows, r)
	n := len(tr.origins)
	if n > 0 {
		last := &tr.origins[n-1]
		if last.file == span.file && last.line == span.line && last.first+last.count == len(tr.rows)-1 &&
			last.start+last.count == span.start {
			last.count++
			return
		}
	}
	span.first, span.count = len(tr.rows)-1, 1
	tr.origins = append(tr.origins, span)
}

func (tr *tableRows) origin(i int) string {
	k := sort.Search(len(tr.origins), func(k int) bool { return tr.origins[k].first+tr.origins[k].count > i })
	if k == len(tr.origins) || i < tr.origins[k].first {
		return ""
	}
	s := tr.origins[k]
	n := s.start + i - s.first
	if s.line {
		return fmt.Sprintf("%s:%d", s.file, n)
	}
	return fmt.Sprintf("%s: table %s row %d", s.file, tr.table.Name, n)
}

// timeCol is the index of the table's time column, -1 if none.
func (tr *tableRows) timeCol() int {
	for i, c := range tr.table.Columns {
		if c.Name == "time" {
			return i
		}
	}
	return -1
}

// timeOf parses row i's time, math.MinInt64 when absent or not a number.
func (tr *tableRows) timeOf(i, tc int) int64 {
	if tc < 0 {
		return math.MinInt64
	}
	s, ok := tr.rows[i].get(tc)
	if !ok {
		return math.MinInt64
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MinInt64
	}
	return v
}

// storeSource serves a fixture table's rows on one platform: the platform's columns map to schema columns,
// values are typed when SQLite reads them, and event rows are in time order.
type storeSource struct {
	tr    *tableRows
	order []int32 // row indexes, sorted by time for event tables
	times []int64 // time of order[i]
	idx   []int   // platform column -> schema column
	cols  []Column
	tcol  int // platform column of time when times is set, else -1
}

func (s *storeSource) len() int { return len(s.order) }

func (s *storeSource) value(i, col int) any {
	if col == s.tcol && s.times[i] != math.MinInt64 {
		return s.times[i] // the store's key, parsed once
	}
	c := s.cols[col]
	r := s.tr.rows[s.order[i]]
	v, ok := r.get(s.idx[col])
	if !ok && c.Name == "eid" {
		return fmt.Sprintf("%010d", int(s.order[i])+1)
	}
	if c.Type == "TEXT" || c.Type == "DATETIME" {
		if !ok {
			return nil
		}
		return v
	}
	return typedValue(c.Type, v, ok)
}

func (s *storeSource) time(i int) int64 { return s.times[i] }

// newStoreSource prepares tr for cols (a platform's columns of its table).
func newStoreSource(tr *tableRows, cols []Column, evented bool) *storeSource {
	s := &storeSource{tr: tr, cols: cols, idx: make([]int, len(cols)), order: make([]int32, len(tr.rows)), tcol: -1}
	for i, c := range cols {
		for j, sc := range tr.table.Columns {
			if sc.Name == c.Name {
				s.idx[i] = j
			}
		}
	}
	for i := range s.order {
		s.order[i] = int32(i)
	}
	tc := tr.timeCol()
	if !evented || tc < 0 {
		return s
	}
	s.times = make([]int64, len(tr.rows))
	for i := range tr.rows {
		s.times[i] = tr.timeOf(i, tc)
	}
	for i, c := range cols {
		switch strings.ReplaceAll(c.Type, " ", "_") {
		case "INTEGER", "BIGINT", "UNSIGNED_BIGINT": // typedValue parses these as timeOf does
			if c.Name == "time" {
				s.tcol = i
			}
		}
	}
	sort.Stable(byTime{s})
	return s
}

type byTime struct{ s *storeSource }

func (b byTime) Len() int           { return len(b.s.order) }
func (b byTime) Less(i, j int) bool { return b.s.times[i] < b.s.times[j] }
func (b byTime) Swap(i, j int) {
	b.s.order[i], b.s.order[j] = b.s.order[j], b.s.order[i]
	b.s.times[i], b.s.times[j] = b.s.times[j], b.s.times[i]
}
