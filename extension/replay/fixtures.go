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
	rows   map[string][]map[string]string
	origin map[string][]string // per row: "file:line" or "file table[i]"
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
	return &Fixtures{rows: map[string][]map[string]string{}, origin: map[string][]string{}}
}

// ParseFixture parses one fixture; name is used in errors.
func ParseFixture(name string, r io.Reader) (*Fixtures, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return newFixtures(), nil
	}
	if isTableObject(trimmed) {
		return parseTableObject(name, trimmed)
	}
	return parseEventLines(name, data)
}

// isTableObject reports whether data is a single JSON object whose values are all arrays.
func isTableObject(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return false
	}
	if dec.More() {
		return false
	}
	for _, v := range obj {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '[' {
			return false
		}
	}
	return true
}

func parseTableObject(name string, data []byte) (*Fixtures, error) {
	var obj map[string][]map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	schema := Schema()
	out := newFixtures()
	tableNames := make([]string, 0, len(obj))
	for t := range obj {
		tableNames = append(tableNames, t)
	}
	sort.Strings(tableNames)
	for _, tname := range tableNames {
		t, ok := schema[tname]
		if !ok {
			return nil, fmt.Errorf("%s: unknown osquery table %q", name, tname)
		}
		rows := make([]map[string]string, 0, len(obj[tname]))
		origin := make([]string, 0, len(obj[tname]))
		for i, raw := range obj[tname] {
			where := fmt.Sprintf("%s: table %s row %d", name, tname, i)
			row := make(map[string]string, len(raw))
			for col, v := range raw {
				c, ok := t.column(col)
				if !ok {
					return nil, fmt.Errorf("%s: unknown column %q", where, col)
				}
				s, isNull, err := jsonScalar(v)
				if err != nil {
					return nil, fmt.Errorf("%s: column %s: %w", where, col, err)
				}
				if isNull {
					continue
				}
				if err := checkValue(c, s); err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
				row[col] = s
			}
			rows = append(rows, row)
			origin = append(origin, where)
		}
		out.rows[tname] = rows
		out.origin[tname] = origin
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
	for _, l := range lines {
		row, err := windowsEventRow(l.obj, offsets)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, l.n, err)
		}
		out.rows["windows_events"] = append(out.rows["windows_events"], row)
		out.origin["windows_events"] = append(out.origin["windows_events"], fmt.Sprintf("%s:%d", name, l.n))
	}
	if out.rows["windows_events"] == nil {
		out.rows["windows_events"] = []map[string]string{}
	}
	return out, nil
}

// Merge appends the rows of o to f.
func (f *Fixtures) Merge(o *Fixtures) {
	if o == nil {
		return
	}
	if f.rows == nil {
		f.rows = map[string][]map[string]string{}
		f.origin = map[string][]string{}
	}
	for t, rows := range o.rows {
		if f.rows[t] == nil {
			f.rows[t] = []map[string]string{}
		}
		f.rows[t] = append(f.rows[t], rows...)
		f.origin[t] = append(f.origin[t], o.origin[t]...)
	}
}

// Tables returns the rows by table name (a table present with no rows maps to an empty slice).
func (f *Fixtures) Tables() map[string][]map[string]string {
	return f.rows
}

// Origin returns where row i of table came from ("file:line" or "file: table t row i").
func (f *Fixtures) Origin(table string, i int) string {
	if i < 0 || i >= len(f.origin[table]) {
		return ""
	}
	return f.origin[table][i]
}

// Newest returns the newest `time` over the rows of evented tables, 0 if there is none.
func (f *Fixtures) Newest() int64 {
	var newest int64
	schema := Schema()
	for tname, rows := range f.rows {
		t, ok := schema[tname]
		if !ok || !t.Evented {
			continue
		}
		for _, r := range rows {
			if v, err := strconv.ParseInt(r["time"], 10, 64); err == nil && v > newest {
				newest = v
			}
		}
	}
	return newest
}

// Oldest returns the oldest `time` over the rows of evented tables, 0 if there is none.
func (f *Fixtures) Oldest() int64 {
	var oldest int64
	schema := Schema()
	for tname, rows := range f.rows {
		t, ok := schema[tname]
		if !ok || !t.Evented {
			continue
		}
		for _, r := range rows {
			if v, err := strconv.ParseInt(r["time"], 10, 64); err == nil && v > 0 && (oldest == 0 || v < oldest) {
				oldest = v
			}
		}
	}
	return oldest
}

// Platform guesses the osquery platform the fixtures were recorded on: windows when windows-only tables have
// rows, darwin when es_* tables have rows, else linux.
func (f *Fixtures) Platform() string {
	schema := Schema()
	platform := "linux"
	for tname, rows := range f.rows {
		t, ok := schema[tname]
		if !ok || len(rows) == 0 || len(t.Platforms) != 1 {
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
