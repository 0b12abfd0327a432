package vmassert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// ParseShellJSON reads what `osqueryi --connect <socket> --json <sql>` prints. With --connect the
// shell first prints "Connected to extension socket <socket> for debugging" on stdout
// (osquery/devtools/shell.cpp, connect_socket, in bold escapes when stdin is a terminal), so the JSON
// array starts on a later line. Lines before the array that are not that preamble are an error naming
// the line, and so is anything after it.
func ParseShellJSON(name string, data []byte) ([]map[string]string, error) {
	// The bold escapes wrap the preamble's pieces and the reset lands at the start of the next line;
	// raw escape bytes cannot occur inside JSON strings, so removing them everywhere is safe.
	rest := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\x1b[1m"), nil), []byte("\x1b[0m"), nil)
	for n := 1; ; n++ {
		trimmed := bytes.TrimSpace(rest)
		if len(trimmed) == 0 {
			return nil, nil
		}
		if trimmed[0] == '[' {
			break
		}
		line, after, _ := bytes.Cut(rest, []byte{'\n'})
		plain := bytes.TrimSpace(line)
		if len(plain) > 0 && !(bytes.HasPrefix(plain, []byte("Connected to extension socket ")) && bytes.HasSuffix(plain, []byte(" for debugging"))) {
			return nil, fmt.Errorf("%s:%d: not osqueryi JSON output: %q", name, n, truncate(plain, 120))
		}
		rest = after
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.UseNumber()
	var raw []map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more output after the JSON array", name)
	}
	out := make([]map[string]string, 0, len(raw))
	for _, r := range raw {
		row := make(map[string]string, len(r))
		for k, v := range r {
			switch x := v.(type) {
			case string:
				row[k] = x
			case json.Number:
				row[k] = x.String()
			case nil:
				row[k] = ""
			case bool:
				row[k] = strconv.FormatBool(x)
			default:
				return nil, fmt.Errorf("%s: column %s: unexpected %T", name, k, v)
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
