// Package tail follows a log file that osquery (or Fleet) appends to and
// rotates. It resumes from a saved offset, recognises the file the offset
// belongs to by a fingerprint of its first bytes, finishes a rotated file
// (the open handle, or after a restart PATH.1 or an older Zstandard-
// compressed PATH.n.zst, then every newer file) before moving to the new
// one, and starts over when a file is truncated.
package tail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/klauspost/compress/zstd"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

// fingerprintLen is how many leading bytes identify a file.
const fingerprintLen = 1024

// Position is where reading stands in a file.
type Position struct {
	Offset int64  // byte offset of the next unread line
	Line   int64  // number of the next line (1-based)
	FileID string // fingerprint of the file's first bytes (hex sha256 and length)
}

// Handler receives lines. pos is the position after the line. Returning an
// error stops the follower.
type Handler func(source string, l resultlog.Line) error

// Checkpoint is called after a run of lines with the position reached; the
// caller persists it together with whatever the lines produced.
type Checkpoint func(pos Position) error

// Follower follows one path.
type Follower struct {
	Path       string
	Poll       time.Duration
	MaxLine    int
	Every      int  // checkpoint at least every this many lines (default 1000)
	Once       bool // return at the end of the data instead of waiting
	Logger     hclog.Logger
	Handle     Handler
	Checkpoint Checkpoint
}

type openFile struct {
	f    *os.File
	zr   *zstd.Decoder // set for PATH.n.zst
	name string        // the path it was opened by
	pos  Position
}

// Run follows the file from start until ctx ends (or, with Once, until all
// data present is read). It returns nil when ctx is cancelled.
func (fl *Follower) Run(ctx context.Context, start Position) error {
	if fl.Poll <= 0 {
		fl.Poll = time.Second
	}
	if fl.Every <= 0 {
		fl.Every = 1000
	}
	if fl.Logger == nil {
		fl.Logger = hclog.NewNullLogger()
	}
	chain, err := fl.resume(start)
	if err != nil {
		return err
	}
	var cur *openFile
	defer func() {
		for _, c := range chain {
			if c != nil && c != cur {
				c.Close()
			}
		}
		if cur != nil {
			cur.f.Close()
		}
	}()
	// Older rotated files, if the saved offset is in one, are read to their
	// end first, oldest first; the last element is the live file (or nil).
	for i, of := range chain {
		if i == len(chain)-1 && of.zr == nil && of.name == fl.Path {
			cur = of
			break
		}
		err := fl.drainRotated(ctx, of)
		of.Close()
		chain[i] = nil
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	chain = nil
	for {
		if cur == nil {
			cur, err = fl.open(fl.Path, Position{Line: 1})
			if err != nil {
				return err
			}
		}
		if cur != nil {
			if err := fl.drain(ctx, cur, false); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			rotated, truncated, err := fl.changed(cur)
			if err != nil {
				return err
			}
			switch {
			case rotated:
				// Finish the old file through its open handle, then move on.
				if err := fl.drain(ctx, cur, true); err != nil {
					return err
				}
				if ctx.Err() != nil {
					return nil
				}
				fl.Logger.Info("log rotated", "path", fl.Path, "offset", cur.pos.Offset)
				cur.f.Close()
				cur = nil
				continue
			case truncated:
				fl.Logger.Warn("log truncated, reading from the start", "path", fl.Path)
				cur.pos = Position{Line: 1}
				continue
			}
		}
		if fl.Once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(fl.Poll):
		}
	}
}

// maxRotated bounds the search for rotated files (osquery keeps
// --logger_rotate_max_files, 25 by default).
const maxRotated = 100

// rotatedName is the name osquery gives the n-th rotated file: PATH.1 is
// plain, older ones are Zstandard-compressed PATH.n.zst.
func rotatedName(path string, n int) string {
	if n == 1 {
		return path + ".1"
	}
	return path + "." + strconv.Itoa(n) + ".zst"
}

// resume finds the file the saved position belongs to: the current file,
// PATH.1, or an older PATH.n.zst if the follower was stopped through
// several rotations. It returns that file and every newer one up to PATH,
// all opened (so later renames do not matter), oldest first.
func (fl *Follower) resume(start Position) ([]*openFile, error) {
	if start.FileID == "" {
		of, err := fl.open(fl.Path, Position{Line: 1})
		if err != nil || of == nil {
			return nil, err
		}
		return []*openFile{of}, nil
	}
	if start.Line < 1 {
		start.Line = 1
	}
	for n := 0; n <= maxRotated; n++ {
		name := fl.Path
		if n > 0 {
			name = rotatedName(fl.Path, n)
		}
		of, err := fl.open(name, Position{Line: 1})
		if err != nil {
			return nil, err
		}
		if of == nil {
			if n >= 2 {
				break // no older files
			}
			continue
		}
		id, size, err := of.fingerprint(start.FileID)
		if err != nil {
			of.Close()
			return nil, err
		}
		if id != start.FileID || (size >= 0 && size < start.Offset) {
			of.Close()
			continue
		}
		of.pos = start
		chain := []*openFile{of}
		if n > 0 {
			fl.Logger.Info("resuming in rotated file", "path", name, "offset", start.Offset)
		}
		for m := n - 1; m >= 0; m-- {
			newer := fl.Path
			if m > 0 {
				newer = rotatedName(fl.Path, m)
			}
			nf, err := fl.open(newer, Position{Line: 1})
			if err != nil {
				for _, c := range chain {
					c.Close()
				}
				return nil, err
			}
			if nf != nil {
				chain = append(chain, nf)
			}
		}
		return chain, nil
	}
	fl.Logger.Warn("saved offset belongs to no file present, reading the current file from the start", "path", fl.Path)
	of, err := fl.open(fl.Path, Position{Line: 1})
	if err != nil || of == nil {
		return nil, err
	}
	return []*openFile{of}, nil
}

func (fl *Follower) open(name string, pos Position) (*openFile, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	of := &openFile{f: f, name: name, pos: pos}
	if strings.HasSuffix(name, ".zst") {
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("zstd reader for %s: %w", name, err)
		}
		of.zr = zr
	}
	return of, nil
}

// Close closes the file and its decoder.
func (of *openFile) Close() {
	if of.zr != nil {
		of.zr.Close()
	}
	of.f.Close()
}

// fingerprint returns the file's id (hashed like `like`, if given) and its
// size (-1 when compressed: unknown without reading it all).
func (of *openFile) fingerprint(like string) (string, int64, error) {
	if of.zr == nil {
		id, err := fileID(of.f, like)
		if err != nil {
			return "", 0, err
		}
		fi, err := of.f.Stat()
		if err != nil {
			return "", 0, fmt.Errorf("stat %s: %w", of.name, err)
		}
		return id, fi.Size(), nil
	}
	head, err := of.head()
	if err != nil {
		return "", 0, err
	}
	return headID(head, like, true), -1, nil
}

// head returns up to fingerprintLen decompressed leading bytes.
func (of *openFile) head() ([]byte, error) {
	if _, err := of.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek %s: %w", of.name, err)
	}
	if err := of.zr.Reset(of.f); err != nil {
		return nil, fmt.Errorf("zstd %s: %w", of.name, err)
	}
	buf := make([]byte, fingerprintLen)
	n, err := io.ReadFull(of.zr, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("zstd %s: %w", of.name, err)
	}
	return buf[:n], nil
}

// drainRotated reads a rotated (complete) file from its position to the end.
func (fl *Follower) drainRotated(ctx context.Context, of *openFile) error {
	if of.zr == nil {
		return fl.drain(ctx, of, true)
	}
	head, err := of.head()
	if err != nil {
		return err
	}
	if of.pos.FileID == "" {
		of.pos.FileID = headID(head, "", true)
	}
	// Decompress from the start and skip to the saved offset.
	if _, err := of.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", of.name, err)
	}
	if err := of.zr.Reset(of.f); err != nil {
		return fmt.Errorf("zstd %s: %w", of.name, err)
	}
	if _, err := io.CopyN(io.Discard, of.zr, of.pos.Offset); errors.Is(err, io.EOF) {
		fl.Logger.Warn("saved offset beyond the end of the rotated file", "path", of.name, "offset", of.pos.Offset)
		return nil
	} else if err != nil {
		return fmt.Errorf("skip to offset %d in %s: %w", of.pos.Offset, of.name, err)
	}
	return fl.readLines(ctx, of, of.zr, true)
}

// changed reports whether PATH now names another file, or the open file
// shrank below the read offset.
func (fl *Follower) changed(cur *openFile) (rotated, truncated bool, err error) {
	if cur.name != fl.Path {
		return true, false, nil // reading PATH.1 after a restart
	}
	open, err := cur.f.Stat()
	if err != nil {
		return false, false, fmt.Errorf("stat %s: %w", cur.name, err)
	}
	now, err := os.Stat(fl.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil // between rename and re-create
	}
	if err != nil {
		return false, false, fmt.Errorf("stat %s: %w", fl.Path, err)
	}
	if !os.SameFile(open, now) {
		return true, false, nil
	}
	return false, open.Size() < cur.pos.Offset, nil
}

// drain reads complete lines from the current offset to the end of the
// file. With final, a last line without a newline is read too.
func (fl *Follower) drain(ctx context.Context, cur *openFile, final bool) error {
	if _, err := cur.f.Seek(cur.pos.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", cur.name, err)
	}
	return fl.readLines(ctx, cur, cur.f, final)
}

// readLines hands the lines of r (positioned at cur.pos) to the handler
// and checkpoints.
func (fl *Follower) readLines(ctx context.Context, cur *openFile, r io.Reader, final bool) error {
	var n int
	pos := cur.pos
	stop := errors.New("stop")
	_, err := resultlog.Split(r, fl.MaxLine, final, pos.Line, pos.Offset, func(l resultlog.Line) error {
		if err := fl.Handle(fl.Path, l); err != nil {
			return err
		}
		pos.Offset, pos.Line = l.End, l.No+1
		n++
		if n%fl.Every == 0 {
			if err := fl.checkpoint(cur, pos); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return fmt.Errorf("follow %s: %w", cur.name, err)
	}
	if pos != cur.pos || cur.pos.FileID == "" {
		return fl.checkpoint(cur, pos)
	}
	return nil
}

func (fl *Follower) checkpoint(cur *openFile, pos Position) error {
	if cur.zr == nil && pos.Offset > 0 && (cur.pos.FileID == "" || idLen(cur.pos.FileID) < fingerprintLen) {
		id, err := fileID(cur.f, "")
		if err != nil {
			return err
		}
		pos.FileID = id
	} else {
		pos.FileID = cur.pos.FileID
	}
	if pos.Offset == 0 {
		return nil
	}
	cur.pos = pos
	return fl.Checkpoint(pos)
}

// fileID fingerprints the first bytes of f. With like set, it hashes as many
// bytes as like did, so a file that has grown still matches.
func fileID(f *os.File, like string) (string, error) {
	n := fingerprintLen
	if like != "" {
		n = idLen(like)
	}
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("fingerprint %s: %w", f.Name(), err)
	}
	return headID(buf[:m], like, false), nil
}

// headID hashes the leading bytes of a file. Without like, a file shorter
// than fingerprintLen is hashed up to its last newline (whole lines only,
// as a live file may be mid-line); with like, as many bytes as like used.
func headID(buf []byte, like string, complete bool) string {
	if like != "" {
		if n := idLen(like); n <= len(buf) {
			buf = buf[:n]
		}
	} else if len(buf) < fingerprintLen && !complete {
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
		}
	}
	sum := sha256.Sum256(buf)
	return fmt.Sprintf("%s:%d", hex.EncodeToString(sum[:16]), len(buf))
}

func idLen(id string) int {
	var n int
	if _, err := fmt.Sscanf(id[bytes.LastIndexByte([]byte(id), ':')+1:], "%d", &n); err != nil {
		return 0
	}
	return n
}
