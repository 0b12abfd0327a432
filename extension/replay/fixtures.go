package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
)

// Fixtures holds the rows of osquery tables loaded from fixture files.
//
// Two file formats are detected per file:
//
//   - a JSON object mapping osquery table names to arrays of row objects, as `osqueryi --json` prints them.
//     Values are strings; JSON numbers are converted to strings; null or a missing column is SQL NULL (osquery
//     returns NULL as "" through its Thrift query API). A table present with [] counts as an enabled
//     subscriber with no events (see osquery_events).
//   - JSON lines of Windows event records (NXLog flat JSON or records with an EventXML field), turned into the
//     windows_events rows osquery itself would produce (see windowsEventRow).
type Fixtures struct {
	rows map[string]*tableRows
}

// LoadFixtures reads and merges fixture files.
func LoadFixtures(paths ...string) (*Fixtures, error) {
	out := newFixtures()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open fixture: %w", err)
		}
		fx, err := ParseFixture(p, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		out.Merge(fx)
	}
	return out, nil
}

func newFixtures() *Fixtures {
	return &Fixtures{rows: map[string]*tableRows{}}
}

// recordingReader keeps what has been read from r, so a stream can be read again from its start.
type recordingReader struct {
	r   io.Reader
	buf bytes.Buffer
	on  bool
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if rr.on {
		rr.buf.Write(p[:n])
	}
	return n, err
}

// ParseFixture parses one fixture; name is used in errors. A table object is decoded as a stream, one row at
// a time, so a large export is never held whole.
func ParseFixture(name string, r io.Reader) (*Fixtures, error) {
	rr := &recordingReader{r: bufio.NewReaderSize(r, 1<<20), on: true}
	dec := json.NewDecoder(rr)
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return newFixtures(), nil
	}
	isObject := err == nil && tok == json.Delim('{')
	var key json.Token
	if isObject {
		key, err = dec.Token()
		if err == nil {
			if _, isKey := key.(string); isKey {
				var next json.Token
				next, err = dec.Token()
				if err == nil && next == json.Delim('[') {
					rr.on = false
					rr.buf = bytes.Buffer{}
					return parseTableStream(name, dec, key.(string))
				}
			} else if key == json.Delim('}') && !dec.More() {
				if _, err := dec.Token(); err == io.EOF {
					return newFixtures(), nil
				}
			}
		}
	}
	// Not a table object: JSON lines of Windows event records, read whole.
	rr.on = false
	data, err := io.ReadAll(io.MultiReader(bytes.NewReader(rr.buf.Bytes()), rr.r))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return newFixtures(), nil
	}
	return parseEventLines(name, data)
}

// parseTableStream reads a table object whose first key, table, has been read with its opening '['.
func parseTableStream(name string, dec *json.Decoder, table string) (*Fixtures, error) {
	schema := Schema()
	out := newFixtures()
	for {
		t, ok := schema[table]
		if !ok {
			return nil, fmt.Errorf("%s: unknown osquery table %q", name, table)
		}
		tr := out.rows[table]
		if tr == nil {
			tr = newTableRows(t)
			out.rows[table] = tr
		}
		rb := newRowBuilder(t)
		for i := 0; dec.More(); i++ {
			where := fmt.Sprintf("%s: table %s row %d", name, table, i)
			var raw map[string]json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			for col, v := range raw {
				if _, ok := t.column(col); !ok {
					return nil, fmt.Errorf("%s: unknown column %q", where, col)
				}
				s, isNull, err := jsonScalar(v)
				if err != nil {
					return nil, fmt.Errorf("%s: column %s: %w", where, col, err)
				}
				if isNull {
					continue
				}
				if err := rb.set(col, s); err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
			}
			row, err := rb.row()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			tr.add(row, originSpan{file: name, start: i})
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, fmt.Errorf("%s: table %s: %w", name, table, err)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if tok == json.Delim('}') {
			break
		}
		next, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want a table name, got %v", name, tok)
		}
		table = next
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return nil, fmt.Errorf("%s: table %s: want an array of rows", name, table)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the table object", name)
	}
	return out, nil
}

// jsonScalar converts a JSON string or number to its string form.
func jsonScalar(v json.RawMessage) (s string, isNull bool, err error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return "", true, nil
	}
	switch v[0] {
	case '"':
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, err
		}
		return s, false, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return "", false, err
		}
		return n.String(), false, nil
	}
	return "", false, fmt.Errorf("value %s is not a string or number", truncate(string(v), 40))
}

// checkValue rejects values osquery could not hold in a numeric column.
func checkValue(c Column, s string) error {
	if s == "" || !isNumeric(c.Type) {
		return nil
	}
	if c.Type == "DOUBLE" {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return fmt.Errorf("column %s (%s): %q is not a number", c.Name, c.Type, s)
		}
		return nil
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		if _, uerr := strconv.ParseUint(s, 10, 64); uerr != nil {
			return fmt.Errorf("column %s (%s): %q is not an integer", c.Name, c.Type, s)
		}
	}
	return nil
}

func parseEventLines(name string, data []byte) (*Fixtures, error) {
	type line struct {
		n   int
		obj orderedObject
	}
	var lines []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		obj, err := parseOrderedObject(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		lines = append(lines, line{n: n, obj: obj})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	objs := make([]orderedObject, len(lines))
	for i, l := range lines {
		objs[i] = l.obj
	}
	offsets := detectOffsets(objs)
	out := newFixtures()
	t := Schema()["windows_events"]
	tr := newTableRows(t)
	out.rows["windows_events"] = tr
	for _, l := range lines {
		m, err := windowsEventRow(l.obj, offsets)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, l.n, err)
		}
		row, err := rowFromMap(t, m)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, l.n, err)
		}
		tr.add(row, originSpan{file: name, start: l.n, line: true})
	}
	return out, nil
}

// Merge appends the rows of o to f.
func (f *Fixtures) Merge(o *Fixtures) {
	if o == nil {
		return
	}
	if f.rows == nil {
		f.rows = map[string]*tableRows{}
	}
	for t, tr := range o.rows {
		have := f.rows[t]
		if have == nil {
			f.rows[t] = tr
			continue
		}
		base := len(have.rows)
		have.rows = append(have.rows, tr.rows...)
		for _, s := range tr.origins {
			s.first += base
			have.origins = append(have.origins, s)
		}
	}
}

// Tables returns the rows by table name (a table present with no rows maps to an empty slice).
func (f *Fixtures) Tables() map[string][]map[string]string {
	out := make(map[string][]map[string]string, len(f.rows))
	for name, tr := range f.rows {
		rows := make([]map[string]string, len(tr.rows))
		for i := range tr.rows {
			rows[i] = tr.toMap(i)
		}
		out[name] = rows
	}
	return out
}

// rowsOf materializes the rows of one table (nil when absent).
func (f *Fixtures) rowsOf(table string) []map[string]string {
	tr := f.rows[table]
	if tr == nil {
		return nil
	}
	out := make([]map[string]string, len(tr.rows))
	for i := range tr.rows {
		out[i] = tr.toMap(i)
	}
	return out
}

// Origin returns where row i of table came from ("file:line" or "file: table t row i").
func (f *Fixtures) Origin(table string, i int) string {
	tr := f.rows[table]
	if tr == nil || i < 0 || i >= len(tr.rows) {
		return ""
	}
	return tr.origin(i)
}

// timeRange returns the oldest and newest `time` over the rows of evented tables (0, 0 if there is none).
func (f *Fixtures) timeRange() (oldest, newest int64) {
	for _, tr := range f.rows {
		if !tr.table.Evented {
			continue
		}
		tc := tr.timeCol()
		for i := range tr.rows {
			v := tr.timeOf(i, tc)
			if v <= 0 {
				continue
			}
			if oldest == 0 || v < oldest {
				oldest = v
			}
			newest = max(newest, v)
		}
	}
	return oldest, newest
}

// Newest returns the newest `time` over the rows of evented tables, 0 if there is none.
func (f *Fixtures) Newest() int64 { _, n := f.timeRange(); return n }

// Oldest returns the oldest `time` over the rows of evented tables, 0 if there is none.
func (f *Fixtures) Oldest() int64 { o, _ := f.timeRange(); return o }

// Platform guesses the osquery platform the fixtures were recorded on: windows when windows-only tables have
// rows, darwin when es_* tables have rows, else linux.
func (f *Fixtures) Platform() string {
	platform := "linux"
	for _, tr := range f.rows {
		t := tr.table
		if len(tr.rows) == 0 || len(t.Platforms) != 1 {
			continue
		}
		switch t.Platforms[0] {
		case "windows":
			return "windows"
		case "darwin":
			platform = "darwin"
		}
	}
	return platform
}

// orderedObject is a JSON object with its keys in file order.
type orderedObject []keyValue

type keyValue struct {
	key   string
	value json.RawMessage
}

func (o orderedObject) get(key string) (json.RawMessage, bool) {
	for _, kv := range o {
		if kv.key == key {
			return kv.value, true
		}
	}
	return nil, false
}

// str returns the value of key as a string (numbers in decimal), "" when absent or not a scalar.
func (o orderedObject) str(key string) string {
	v, ok := o.get(key)
	if !ok {
		return ""
	}
	s, _, err := jsonScalar(v)
	if err != nil {
		return ""
	}
	return s
}

// badJSON wraps a JSON decoding error of one line.
func badJSON(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("bad JSON: %w", err)
}

func parseOrderedObject(data []byte) (orderedObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, badJSON(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("bad JSON: line is not a JSON object")
	}
	var out orderedObject
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badJSON(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("bad JSON: object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, badJSON(err))
		}
		out = append(out, keyValue{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, badJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("bad JSON: data after the object")
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
