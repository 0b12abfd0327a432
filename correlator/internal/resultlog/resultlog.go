// Package resultlog parses osquery result-log lines in every shape osquery
// and Fleet write: event (differential) lines with "columns" and "action",
// batch lines with "diffResults", snapshot lines with a "snapshot" array and
// snapshot event lines. unixTime, epoch and counter may be JSON numbers or
// strings; decorations may be nested or flattened to the top level.
//
// The parser is a streaming, typed scanner: it validates the whole line but
// allocates only for the strings a caller asks for, so lines of queries the
// caller does not care about cost no allocations.
package resultlog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrWrongType marks a line that is valid JSON but has a field of the wrong
// type (for example "columns" that is not an object).
var ErrWrongType = errors.New("wrong type")

// Host is the identity of the host a line came from.
type Host struct {
	UUID       string // decorations.host_uuid (or top-level host_uuid)
	Identifier string // hostIdentifier
	Hostname   string // decorations.hostname, or top-level hostname
}

// Key is the join key: host uuid, else hostIdentifier, else hostname.
func (h Host) Key() string {
	switch {
	case h.UUID != "":
		return h.UUID
	case h.Identifier != "":
		return h.Identifier
	default:
		return h.Hostname
	}
}

// Name is the best human name: hostname, else hostIdentifier, else uuid.
func (h Host) Name() string {
	switch {
	case h.Hostname != "":
		return h.Hostname
	case h.Identifier != "":
		return h.Identifier
	default:
		return h.UUID
	}
}

// Row is one result row together with the metadata of its line. A Row and
// its Columns are only valid during the callback that receives them.
type Row struct {
	Query    string
	Host     Host
	UnixTime int64
	Epoch    int64
	Counter  int64
	Action   string // added, removed or snapshot
	Columns  Columns
}

type field struct {
	key, val   []byte
	kesc, vesc bool
}

// Columns are the column values of one row, in line order.
type Columns struct {
	f []field
}

// Len is the number of columns.
func (c Columns) Len() int { return len(c.f) }

// Key returns the name of column i.
func (c Columns) Key(i int) string { return text(c.f[i].key, c.f[i].kesc) }

// Value returns the value of column i as a new string.
func (c Columns) Value(i int) string { return text(c.f[i].val, c.f[i].vesc) }

// AppendValue appends the (unescaped) value of column i to dst.
func (c Columns) AppendValue(dst []byte, i int) []byte {
	if c.f[i].vesc {
		return appendUnescaped(dst, c.f[i].val)
	}
	return append(dst, c.f[i].val...)
}

// RawLen is the length of column i's value as written (an upper bound of
// its unescaped length).
func (c Columns) RawLen(i int) int { return len(c.f[i].val) }

// Int parses the value of column i as an integer without allocating (as
// strconv.ParseInt, then ParseFloat); a value that is not a number gives 0.
func (c Columns) Int(i int) int64 {
	b := c.f[i].val
	if c.f[i].vesc {
		b = appendUnescaped(nil, b)
	}
	b = bytes.TrimSpace(b)
	j, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, j = b[0] == '-', 1
	}
	if j == len(b) {
		return 0
	}
	var n int64
	for ; j < len(b); j++ {
		ch := b[j]
		if ch < '0' || ch > '9' || n > (math.MaxInt64-9)/10 {
			return floatInt(b)
		}
		n = n*10 + int64(ch-'0')
	}
	if neg {
		n = -n
	}
	return n
}

func floatInt(b []byte) int64 {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != f || f > 9.2e18 || f < -9.2e18 {
		return 0
	}
	return int64(f)
}

// KeyBytes returns the name of column i as bytes (valid during the
// callback; allocates only for names written with escapes).
func (c Columns) KeyBytes(i int) []byte {
	if c.f[i].kesc {
		return appendUnescaped(nil, c.f[i].key)
	}
	return c.f[i].key
}

// KeyIs reports whether column i is named name, without allocating.
func (c Columns) KeyIs(i int, name string) bool {
	if c.f[i].kesc {
		return unescape(c.f[i].key) == name
	}
	return string(c.f[i].key) == name
}

// Index returns the position of the column named name, or -1.
func (c Columns) Index(name string) int {
	for i := range c.f {
		if c.KeyIs(i, name) {
			return i
		}
	}
	return -1
}

// Has reports whether a column named name exists.
func (c Columns) Has(name string) bool { return c.Index(name) >= 0 }

// Get returns the value of the column named name (the last one if repeated).
func (c Columns) Get(name string) (string, bool) {
	for i := len(c.f) - 1; i >= 0; i-- {
		if c.KeyIs(i, name) {
			return c.Value(i), true
		}
	}
	return "", false
}

// Map copies the columns into a map (the last value wins for repeated names).
func (c Columns) Map() map[string]string {
	m := make(map[string]string, len(c.f))
	for i := range c.f {
		m[c.Key(i)] = c.Value(i)
	}
	return m
}

func text(b []byte, esc bool) string {
	if esc {
		return unescape(b)
	}
	return string(b)
}

type segment struct {
	start, end int // range in Parser.fields
	action     string
}

// Parser parses lines. It reuses its buffers, so it is not safe for
// concurrent use; use one Parser per goroutine.
type Parser struct {
	cur    Row
	fields []field
	segs   []segment
	intern map[string]string
}

// NewParser returns a Parser.
func NewParser() *Parser {
	return &Parser{intern: make(map[string]string)}
}

// maxIntern bounds the memory of the string intern table.
const maxIntern = 1 << 16

func (p *Parser) str(b []byte, esc bool) string {
	if esc {
		return unescape(b)
	}
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	if len(p.intern) >= maxIntern {
		clear(p.intern)
	}
	s := string(b)
	p.intern[s] = s
	return s
}

// Parse parses one line and calls fn for every row in it, in line order.
// It returns the number of rows. A line with an error yields no rows: the
// whole line is checked before fn is called.
func (p *Parser) Parse(line []byte, fn func(*Row) error) (int, error) {
	p.fields = p.fields[:0]
	p.segs = p.segs[:0]
	p.cur = Row{}
	row := &p.cur
	var topHostname, decHostname, topUUID, decUUID string
	s := scanner{b: line}
	if err := s.expect('{'); err != nil {
		return 0, err
	}
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			k, kesc, err := s.str()
			if err != nil {
				return 0, err
			}
			if err := s.expect(':'); err != nil {
				return 0, err
			}
			if kesc {
				k = []byte(unescape(k))
			}
			switch string(k) {
			case "name":
				row.Query, err = p.stringValue(&s, "name")
			case "hostIdentifier":
				row.Host.Identifier, err = p.stringValue(&s, "hostIdentifier")
			case "hostname":
				topHostname, err = p.stringValue(&s, "hostname")
			case "host_uuid":
				topUUID, err = p.stringValue(&s, "host_uuid")
			case "unixTime":
				row.UnixTime, err = intValue(&s, "unixTime")
			case "epoch":
				row.Epoch, err = intValue(&s, "epoch")
			case "counter":
				row.Counter, err = intValue(&s, "counter")
			case "action":
				row.Action, err = p.action(&s)
			case "decorations":
				decUUID, decHostname, err = p.decorations(&s)
			case "columns":
				err = p.rows(&s, "", false)
			case "snapshot":
				err = p.rows(&s, "snapshot", true)
			case "diffResults":
				err = p.diffResults(&s)
			default:
				err = s.skip(1)
			}
			if err != nil {
				return 0, err
			}
			more, err := s.next('}')
			if err != nil {
				return 0, err
			}
			if !more {
				break
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return 0, syntaxAt(s.i, errTrailer.Error())
	}
	row.Host.UUID = firstOf(decUUID, topUUID)
	row.Host.Hostname = firstOf(decHostname, topHostname)
	lineAction := row.Action
	for _, sg := range p.segs {
		row.Columns = Columns{f: p.fields[sg.start:sg.end]}
		row.Action = sg.action
		if row.Action == "" {
			row.Action = lineAction
		}
		if err := fn(row); err != nil {
			return 0, err
		}
	}
	return len(p.segs), nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func wrongType(key, want string) error {
	return fmt.Errorf("%w: %q must be %s", ErrWrongType, key, want)
}

// stringValue reads a string; numbers and null are accepted as their text.
func (p *Parser) stringValue(s *scanner, key string) (string, error) {
	switch s.peek() {
	case '"':
		raw, esc, err := s.str()
		if err != nil {
			return "", err
		}
		return p.str(raw, esc), nil
	case 'n':
		return "", s.lit("null")
	case '{', '[', 't', 'f':
		return "", wrongType(key, "a string")
	default:
		n, err := s.num()
		if err != nil {
			return "", err
		}
		return p.str(n, false), nil
	}
}

// action reads the action, returning constants for the known values.
func (p *Parser) action(s *scanner) (string, error) {
	if s.peek() == '"' {
		save := s.i
		raw, esc, err := s.str()
		if err != nil {
			return "", err
		}
		if !esc {
			switch string(raw) {
			case "added":
				return "added", nil
			case "removed":
				return "removed", nil
			case "snapshot":
				return "snapshot", nil
			}
		}
		s.i = save
	}
	return p.stringValue(s, "action")
}

// intValue reads a number given as a JSON number or a numeric string.
func intValue(s *scanner, key string) (int64, error) {
	var txt []byte
	switch s.peek() {
	case '"':
		raw, esc, err := s.str()
		if err != nil {
			return 0, err
		}
		if esc {
			raw = []byte(unescape(raw))
		}
		txt = bytes.TrimSpace(raw)
		if len(txt) == 0 {
			return 0, nil
		}
	case 'n':
		return 0, s.lit("null")
	case '{', '[', 't', 'f':
		return 0, wrongType(key, "a number")
	default:
		n, err := s.num()
		if err != nil {
			return 0, err
		}
		txt = n
	}
	if v, err := strconv.ParseInt(string(txt), 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(string(txt), 64)
	if err != nil || f != f || f > 9.2e18 || f < -9.2e18 {
		return 0, wrongType(key, "a number")
	}
	return int64(f), nil
}

func (p *Parser) decorations(s *scanner) (uuid, hostname string, err error) {
	switch s.peek() {
	case 'n':
		return "", "", s.lit("null")
	case '{':
	default:
		return "", "", wrongType("decorations", "an object")
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return "", "", nil
	}
	for {
		k, kesc, err := s.str()
		if err != nil {
			return "", "", err
		}
		if err := s.expect(':'); err != nil {
			return "", "", err
		}
		if kesc {
			k = []byte(unescape(k))
		}
		switch string(k) {
		case "host_uuid":
			uuid, err = p.stringValue(s, "decorations.host_uuid")
		case "hostname":
			hostname, err = p.stringValue(s, "decorations.hostname")
		default:
			err = s.skip(2)
		}
		if err != nil {
			return "", "", err
		}
		more, err := s.next('}')
		if err != nil {
			return "", "", err
		}
		if !more {
			return uuid, hostname, nil
		}
	}
}

func (p *Parser) diffResults(s *scanner) error {
	if s.peek() != '{' {
		return wrongType("diffResults", "an object")
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		k, kesc, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if kesc {
			k = []byte(unescape(k))
		}
		switch string(k) {
		case "added":
			err = p.rows(s, "added", true)
		case "removed":
			err = p.rows(s, "removed", true)
		default:
			err = s.skip(2)
		}
		if err != nil {
			return err
		}
		more, err := s.next('}')
		if err != nil || !more {
			return err
		}
	}
}

// rows reads one row object, or an array of row objects when array is true.
func (p *Parser) rows(s *scanner, action string, array bool) error {
	if !array {
		return p.row(s, action, "columns")
	}
	switch s.peek() {
	case 'n':
		return s.lit("null")
	case '[':
	default:
		return wrongType(action, "an array of rows")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := p.row(s, action, "row"); err != nil {
			return err
		}
		more, err := s.next(']')
		if err != nil || !more {
			return err
		}
	}
}

func (p *Parser) row(s *scanner, action, what string) error {
	if s.peek() != '{' {
		return wrongType(what, "an object")
	}
	s.i++
	start := len(p.fields)
	if s.peek() == '}' {
		s.i++
		p.segs = append(p.segs, segment{start: start, end: start, action: action})
		return nil
	}
	for {
		k, kesc, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		f := field{key: k, kesc: kesc}
		switch s.peek() {
		case '"':
			f.val, f.vesc, err = s.str()
		case 'n':
			err = s.lit("null")
		case 't':
			f.val = s.b[s.i : s.i+min(4, len(s.b)-s.i)]
			err = s.lit("true")
		case 'f':
			f.val = s.b[s.i : s.i+min(5, len(s.b)-s.i)]
			err = s.lit("false")
		case '{', '[':
			err = wrongType("column "+text(k, kesc), "a string or number")
		default:
			f.val, err = s.num()
		}
		if err != nil {
			return err
		}
		p.fields = append(p.fields, f)
		more, err := s.next('}')
		if err != nil {
			return err
		}
		if !more {
			p.segs = append(p.segs, segment{start: start, end: len(p.fields), action: action})
			return nil
		}
	}
}
