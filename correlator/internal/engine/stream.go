package engine

import (
	"fmt"
	"io"
	"strconv"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

// LineStats counts input lines.
type LineStats struct {
	Lines     int64 `json:"lines"`
	Empty     int64 `json:"empty_lines"`
	Malformed int64 `json:"malformed_lines"`
	TooLong   int64 `json:"too_long_lines"`
}

// Add adds other to s.
func (s *LineStats) Add(o LineStats) {
	s.Lines += o.Lines
	s.Empty += o.Empty
	s.Malformed += o.Malformed
	s.TooLong += o.TooLong
}

// Reader feeds lines into an Engine. Bad lines and bad rows are counted
// and written to the dead-letter sink with their source and line number;
// the good rows of the input are all processed.
type Reader struct {
	Engine  *Engine
	Parser  *resultlog.Parser
	Dead    resultlog.DeadLetter
	MaxLine int
	Stats   LineStats
	// Emit receives every alert Process returns.
	Emit func(*alert.Alert) error
}

// NewReader returns a Reader for e.
func NewReader(e *Engine, dead resultlog.DeadLetter, emit func(*alert.Alert) error) *Reader {
	if dead == nil {
		dead = &resultlog.DeadLetterMemory{}
	}
	return &Reader{Engine: e, Parser: resultlog.NewParser(), Dead: dead, MaxLine: resultlog.DefaultMaxLine, Emit: emit}
}

// Line handles one line of source.
func (r *Reader) Line(source string, l resultlog.Line) error {
	r.Stats.Lines++
	if l.TooLong {
		r.Stats.TooLong++
		r.Dead.Add(source, l.No, fmt.Sprintf("line too long (%d bytes, max %d)", l.Size, r.MaxLine), nil)
		return nil
	}
	if len(trimSpace(l.Data)) == 0 {
		r.Stats.Empty++
		return nil
	}
	var input string
	var emitErr error
	_, err := r.Parser.Parse(l.Data, func(row *resultlog.Row) error {
		if input == "" {
			input = source + ":" + strconv.FormatInt(l.No, 10)
		}
		out, err := r.Engine.Process(row, input)
		if err != nil {
			r.Dead.Add(source, l.No, "row: "+err.Error(), l.Data)
			return nil
		}
		if r.Emit == nil {
			return nil
		}
		if out.Alert != nil {
			if emitErr = r.Emit(out.Alert); emitErr != nil {
				return emitErr
			}
		}
		if out.Host != nil {
			emitErr = r.Emit(out.Host)
		}
		return emitErr
	})
	if emitErr != nil {
		return emitErr
	}
	if err != nil {
		r.Stats.Malformed++
		reason := err.Error()
		if l.Partial {
			reason = "truncated last line: " + reason
		}
		r.Dead.Add(source, l.No, reason, l.Data)
	}
	return nil
}

// ReadAll reads a whole input (batch mode: a final line without newline is
// processed too).
func (r *Reader) ReadAll(source string, rd io.Reader) error {
	_, err := resultlog.Split(rd, r.MaxLine, true, 1, 0, func(l resultlog.Line) error {
		return r.Line(source, l)
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", source, err)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
