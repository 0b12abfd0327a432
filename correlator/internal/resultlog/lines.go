package resultlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// DefaultMaxLine is the longest line accepted (16 MiB). Longer lines are
// skipped and reported as too long.
const DefaultMaxLine = 16 << 20

// Line is one line of input.
type Line struct {
	Data    []byte // without the trailing newline; nil when TooLong
	No      int64  // 1-based line number
	End     int64  // byte offset just after the line (and its newline)
	Size    int64  // length of the line in bytes
	TooLong bool
	Partial bool // last line of the input had no newline
}

// Split reads rd line by line and calls fn for each line. Data is only
// valid during the call. A final line without a newline is passed with
// Partial set when final is true, and left unread otherwise (follow mode
// waits for the rest). firstNo and base give the number and offset of the
// first line. Split returns the offset after the last line passed to fn.
// Lines longer than maxLine are passed with TooLong set and no Data; memory
// stays bounded by maxLine whatever the line length.
func Split(rd io.Reader, maxLine int, final bool, firstNo, base int64, fn func(Line) error) (int64, error) {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	br := bufio.NewReaderSize(rd, 64<<10)
	var long []byte // start of a line longer than the read buffer
	var longSize int64
	off := base
	no := firstNo
	emit := func(chunk []byte, partial bool) error {
		size := longSize + int64(len(chunk)) // including the newline, if any
		body := size
		if !partial {
			body--
		}
		l := Line{No: no, End: off + size, Size: body, Partial: partial}
		if body > int64(maxLine) {
			l.TooLong = true
		} else {
			if long != nil {
				l.Data = append(long, chunk...)
			} else {
				l.Data = chunk
			}
			if !partial {
				l.Data = l.Data[:len(l.Data)-1]
			}
			l.Data = trimCR(l.Data)
		}
		if err := fn(l); err != nil {
			return err
		}
		off += size
		no++
		long, longSize = long[:0], 0
		return nil
	}
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if err := emit(chunk, false); err != nil {
				return off, err
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if longSize+int64(len(chunk)) <= int64(maxLine)+1 {
				long = append(long, chunk...)
			}
			longSize += int64(len(chunk))
		case errors.Is(err, io.EOF):
			if longSize+int64(len(chunk)) == 0 || !final {
				return off, nil
			}
			if err := emit(chunk, true); err != nil {
				return off, err
			}
			return off, nil
		default:
			return off, fmt.Errorf("read line %d: %w", no, err)
		}
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// DeadLetter receives lines that could not be used.
type DeadLetter interface {
	Add(source string, line int64, reason string, data []byte)
}

// DeadLetterEntry is one record of the dead-letter file.
type DeadLetterEntry struct {
	Source  string `json:"source"`
	Line    int64  `json:"line"`
	Reason  string `json:"reason"`
	Size    int    `json:"size"`
	Excerpt string `json:"excerpt"`
}

// maxExcerpt bounds how much of a bad line is kept in the dead-letter file.
const maxExcerpt = 4096

// DeadLetterFile appends JSON-line entries to a file created with mode 0600.
type DeadLetterFile struct {
	mu sync.Mutex
	f  *os.File
	n  int64
}

// OpenDeadLetter opens (creating if needed) a dead-letter file for appending.
func OpenDeadLetter(path string) (*DeadLetterFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter file %s: %w", path, err)
	}
	return &DeadLetterFile{f: f}, nil
}

// Add writes one entry. Write errors are counted, not returned: the run goes on.
func (d *DeadLetterFile) Add(source string, line int64, reason string, data []byte) {
	e := DeadLetterEntry{Source: source, Line: line, Reason: reason, Size: len(data)}
	if len(data) > maxExcerpt {
		data = data[:maxExcerpt]
	}
	e.Excerpt = string(data)
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		d.n++
	}
}

// WriteErrors is the number of entries that could not be written.
func (d *DeadLetterFile) WriteErrors() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Close closes the file.
func (d *DeadLetterFile) Close() error { return d.f.Close() }

// DeadLetterMemory keeps entries in memory (tests, and when no file is set).
type DeadLetterMemory struct {
	mu      sync.Mutex
	Entries []DeadLetterEntry
}

// Add records one entry.
func (d *DeadLetterMemory) Add(source string, line int64, reason string, data []byte) {
	if len(data) > maxExcerpt {
		data = data[:maxExcerpt]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Entries = append(d.Entries, DeadLetterEntry{Source: source, Line: line, Reason: reason, Size: len(data), Excerpt: string(data)})
}
