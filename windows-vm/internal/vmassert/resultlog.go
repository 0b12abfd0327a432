package vmassert

import (
	"bytes"
	"fmt"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// LogLine is one line of osqueryd's result log: the bytes as written and the rows it holds.
type LogLine struct {
	Raw  []byte
	Rows []expect.ResultRow
}

// ReadResultLog splits a result log (osqueryd.results.log) into lines. osqueryd may be writing the last
// line while it is read: a last line without its newline that does not parse yet is left for the next
// read. Any other line that does not parse is an error naming the file and line.
func ReadResultLog(name string, data []byte) ([]LogLine, error) {
	var out []LogLine
	n := 0
	for len(data) > 0 {
		n++
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rows, err := expect.ParseResultLog(name, bytes.NewReader(line))
		if err != nil {
			if !complete {
				break
			}
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, LogLine{Raw: append([]byte(nil), line...), Rows: rows})
	}
	return out, nil
}
