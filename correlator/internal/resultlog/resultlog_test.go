package resultlog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

type gotRow struct {
	Query    string
	Host     Host
	UnixTime int64
	Epoch    int64
	Counter  int64
	Action   string
	Columns  map[string]string
}

func parseAll(t testing.TB, line string) ([]gotRow, error) {
	t.Helper()
	p := NewParser()
	var out []gotRow
	_, err := p.Parse([]byte(line), func(r *Row) error {
		out = append(out, gotRow{r.Query, r.Host, r.UnixTime, r.Epoch, r.Counter, r.Action, r.Columns.Map()})
		return nil
	})
	return out, err
}

func TestParseShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want []gotRow
	}{
		{
			name: "event line, nested decorations, numbers",
			line: `{"name":"pack/Global/q","hostIdentifier":"h1","calendarTime":"x","unixTime":1764000000,"epoch":7,"counter":3,"numerics":false,"decorations":{"host_uuid":"U1","hostname":"H1"},"columns":{"a":"1","b":"C:\\x.exe"},"action":"added"}`,
			want: []gotRow{{"pack/Global/q", Host{"U1", "h1", "H1"}, 1764000000, 7, 3, "added", map[string]string{"a": "1", "b": `C:\x.exe`}}},
		},
		{
			name: "event line, strings for numbers, top-level decorations, columns before metadata",
			line: `{"columns":{"a":"x"},"action":"removed","unixTime":"1764000001","epoch":"0","counter":"12","host_uuid":"U2","hostname":"H2","name":"q"}`,
			want: []gotRow{{"q", Host{"U2", "", "H2"}, 1764000001, 0, 12, "removed", map[string]string{"a": "x"}}},
		},
		{
			name: "batch diffResults with hostname key",
			line: `{"name":"q","hostname":"H3","unixTime":"5","diffResults":{"removed":[{"a":"old"}],"added":[{"a":"new1"},{"a":"new2"}]}}`,
			want: []gotRow{
				{"q", Host{"", "", "H3"}, 5, 0, 0, "removed", map[string]string{"a": "old"}},
				{"q", Host{"", "", "H3"}, 5, 0, 0, "added", map[string]string{"a": "new1"}},
				{"q", Host{"", "", "H3"}, 5, 0, 0, "added", map[string]string{"a": "new2"}},
			},
		},
		{
			name: "snapshot array",
			line: `{"snapshot":[{"a":"1"},{"a":"2","b":"3"}],"action":"snapshot","name":"s","hostIdentifier":"h","unixTime":9,"counter":0}`,
			want: []gotRow{
				{"s", Host{"", "h", ""}, 9, 0, 0, "snapshot", map[string]string{"a": "1"}},
				{"s", Host{"", "h", ""}, 9, 0, 0, "snapshot", map[string]string{"a": "2", "b": "3"}},
			},
		},
		{
			name: "snapshot event line",
			line: `{"name":"s","hostIdentifier":"h","unixTime":9,"columns":{"a":"1"},"action":"snapshot"}`,
			want: []gotRow{{"s", Host{"", "h", ""}, 9, 0, 0, "snapshot", map[string]string{"a": "1"}}},
		},
		{
			name: "numerics, escapes, unicode, null and unknown fields",
			line: `{"name":"q\u00e9","numerics":true,"unknown":{"deep":[1,{"x":null}]},"columns":{"n":42,"f":-1.5e3,"t":true,"z":null,"s":"a\"b\\c\ud83d\ude00\n"},"action":"added"}`,
			want: []gotRow{{"qé", Host{}, 0, 0, 0, "added", map[string]string{"n": "42", "f": "-1.5e3", "t": "true", "z": "", "s": "a\"b\\c😀\n"}}},
		},
		{
			name: "status-like line without rows",
			line: `{"name":"q","hostIdentifier":"h"}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseAll(t, tt.line)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line string
		wrongType  bool
	}{
		{"truncated", `{"name":"q","columns":{"a":"1"`, false},
		{"not an object", `[1,2]`, false},
		{"garbage", `hello`, false},
		{"trailing data", `{"name":"q"} x`, false},
		{"unixTime object", `{"unixTime":{"a":1},"columns":{}}`, true},
		{"counter not numeric", `{"counter":"abc","columns":{}}`, true},
		{"columns string", `{"columns":"x"}`, true},
		{"column value object", `{"columns":{"a":{"b":1}}}`, true},
		{"snapshot not array", `{"snapshot":{"a":"1"}}`, true},
		{"decorations array", `{"decorations":[1],"columns":{}}`, true},
		{"bad escape", `{"name":"\x"}`, false},
		{"control char", "{\"name\":\"a\x01\"}", false},
		{"too deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false},
		{"bad number", `{"unixTime":01}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := parseAll(t, tt.line)
			if err == nil {
				t.Fatalf("Parse(%q) = %v rows, want error", tt.line, len(rows))
			}
			if rows != nil {
				t.Errorf("rows delivered before the error: %v", rows)
			}
			if got := errors.Is(err, ErrWrongType); got != tt.wrongType {
				t.Errorf("errors.Is(%v, ErrWrongType) = %v, want %v", err, got, tt.wrongType)
			}
		})
	}
}

func TestHostKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		h        Host
		key, nam string
	}{
		{Host{"U", "I", "N"}, "U", "N"},
		{Host{"", "I", "N"}, "I", "N"},
		{Host{"", "", "N"}, "N", "N"},
		{Host{"U", "", ""}, "U", "U"},
	}
	for _, tt := range tests {
		if got := tt.h.Key(); got != tt.key {
			t.Errorf("%+v.Key() = %q, want %q", tt.h, got, tt.key)
		}
		if got := tt.h.Name(); got != tt.nam {
			t.Errorf("%+v.Name() = %q, want %q", tt.h, got, tt.nam)
		}
	}
}

// reference decodes a line with encoding/json into the same shape as the
// parser's rows.
func reference(line []byte) ([]gotRow, bool) {
	if !json.Valid(line) {
		return nil, false
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	str := func(v any) (string, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return string(x), true
		case nil:
			return "", true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	}
	num := func(v any) (int64, bool) {
		s, ok := str(v)
		if !ok {
			return 0, false
		}
		if _, isBool := v.(bool); isBool {
			return 0, false
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, true
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f || f > 9.2e18 || f < -9.2e18 {
			return 0, false
		}
		return int64(f), true
	}
	var base gotRow
	var ok bool
	var topHost, topUUID, decHost, decUUID string
	for k, v := range m {
		switch k {
		case "name":
			if base.Query, ok = str(v); !ok {
				return nil, false
			}
		case "hostIdentifier":
			if base.Host.Identifier, ok = str(v); !ok {
				return nil, false
			}
		case "hostname":
			if topHost, ok = str(v); !ok {
				return nil, false
			}
		case "host_uuid":
			if topUUID, ok = str(v); !ok {
				return nil, false
			}
		case "action":
			if base.Action, ok = str(v); !ok {
				return nil, false
			}
		case "unixTime":
			if base.UnixTime, ok = num(v); !ok {
				return nil, false
			}
		case "epoch":
			if base.Epoch, ok = num(v); !ok {
				return nil, false
			}
		case "counter":
			if base.Counter, ok = num(v); !ok {
				return nil, false
			}
		case "decorations":
			if v == nil {
				continue
			}
			d, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			if x, has := d["host_uuid"]; has {
				if decUUID, ok = str(x); !ok {
					return nil, false
				}
			}
			if x, has := d["hostname"]; has {
				if decHost, ok = str(x); !ok {
					return nil, false
				}
			}
		}
	}
	base.Host.UUID = firstOf(decUUID, topUUID)
	base.Host.Hostname = firstOf(decHost, topHost)
	toRow := func(v any, action string) (gotRow, bool) {
		obj, isMap := v.(map[string]any)
		if !isMap {
			return gotRow{}, false
		}
		r := base
		r.Action = action
		r.Columns = map[string]string{}
		for k, x := range obj {
			s, ok := str(x)
			if !ok {
				return gotRow{}, false
			}
			r.Columns[k] = s
		}
		return r, true
	}
	var out []gotRow
	// The parser emits rows in line order; compare as order of keys seen.
	order := keyOrder(line)
	for _, k := range order {
		v := m[k]
		switch k {
		case "columns":
			r, ok := toRow(v, base.Action)
			if !ok {
				return nil, false
			}
			out = append(out, r)
		case "snapshot":
			if v == nil {
				continue
			}
			arr, isArr := v.([]any)
			if !isArr {
				return nil, false
			}
			for _, x := range arr {
				r, ok := toRow(x, "snapshot")
				if !ok {
					return nil, false
				}
				out = append(out, r)
			}
		case "diffResults":
			d, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			var raws map[string]json.RawMessage
			_ = json.Unmarshal(line, &raws)
			for _, a := range keyOrder(raws["diffResults"]) {
				if a != "added" && a != "removed" {
					continue
				}
				if d[a] == nil {
					continue
				}
				arr, isArr := d[a].([]any)
				if !isArr {
					return nil, false
				}
				for _, x := range arr {
					r, ok := toRow(x, a)
					if !ok {
						return nil, false
					}
					out = append(out, r)
				}
			}
		}
	}
	return out, true
}

// keyOrder lists the top-level keys of a JSON object in order, once each.
func keyOrder(line []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		if !seen[k] {
			keys = append(keys, k)
			seen[k] = true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"name":"q","hostIdentifier":"h","unixTime":1,"epoch":0,"counter":1,"decorations":{"host_uuid":"U","hostname":"H"},"columns":{"lineage_id":"x","stage":"compile"},"action":"added"}`,
		`{"name":"q","hostname":"H","unixTime":"5","diffResults":{"removed":[{"a":"1"}],"added":[{"a":"2"}]}}`,
		`{"snapshot":[{"a":"1"}],"action":"snapshot","name":"s","counter":"0"}`,
		`{"columns":{"a":1.5,"b":null,"c":true},"host_uuid":"U"}`,
		`{"name":"\u00e9\ud800","columns":{"k\"":"v\\"}}`,
		`{"columns":{"a":"1"`,
		`{"unixTime":{"a":1}}`,
		`[]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := parseAll(t, string(line))
		if err != nil && got != nil {
			t.Fatalf("rows delivered with error %v", err)
		}
		if !utf8.Valid(line) || hasDuplicateKeys(line) {
			return
		}
		want, ok := reference(line)
		if !ok {
			if err == nil && json.Valid(line) {
				// The reference rejects wrong types the parser also must reject.
				t.Fatalf("parser accepted a line the reference rejects: %q", line)
			}
			return
		}
		if err != nil {
			t.Fatalf("parser rejected a valid line %q: %v", line, err)
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("line %q\n got  %+v\n want %+v", line, got, want)
		}
	})
}

// hasDuplicateKeys reports duplicate keys in any object (the parser keeps
// every occurrence, encoding/json only the last; both are fine).
func hasDuplicateKeys(line []byte) bool {
	if !json.Valid(line) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	var check func() bool
	check = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return false
				}
				k := fmt.Sprint(kt)
				if seen[k] {
					return true
				}
				seen[k] = true
				if check() {
					return true
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if check() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	return check()
}

func TestColumnsIntAndAppendValue(t *testing.T) {
	t.Parallel()
	line := `{"columns":{"a":"42","b":"-7","c":" 12 ","d":"1.9","e":"x","f":"","g":99999999999999999999,"h":"+3","i":"\u0035","j":"C:\\x"}}`
	want := map[string]int64{"a": 42, "b": -7, "c": 12, "d": 1, "e": 0, "f": 0, "g": 0, "h": 3, "i": 5, "j": 0}
	p := NewParser()
	_, err := p.Parse([]byte(line), func(r *Row) error {
		for i := range r.Columns.Len() {
			k := r.Columns.Key(i)
			if got := r.Columns.Int(i); got != want[k] {
				t.Errorf("Int(%s) = %d, want %d", k, got, want[k])
			}
			if got, wantV := string(r.Columns.AppendValue([]byte("pre:"), i)), "pre:"+r.Columns.Value(i); got != wantV {
				t.Errorf("AppendValue(%s) = %q, want %q", k, got, wantV)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSpecialInWord checks the eight-byte test against the byte table for
// every byte value at every position, among plain and high bytes.
func TestSpecialInWord(t *testing.T) {
	t.Parallel()
	for _, fill := range []byte{'a', 0x7f, 0x80, 0xff, '!', '#', '[', ']'} {
		for pos := range 8 {
			for c := range 256 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				want := strSpecial[c] || strSpecial[fill]
				if got := specialInWord(binary.LittleEndian.Uint64(w)); got != want {
					t.Fatalf("word %x: special %v, want %v", w, got, want)
				}
			}
		}
	}
}
