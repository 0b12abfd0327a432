// Package tail follows a log file that osquery (or Fleet) appends to and
// rotates. It resumes from a saved offset, recognises the file the offset
// belongs to by a fingerprint of its first bytes, finishes a rotated file
// (the open handle, or PATH.1 after a restart) before moving to the new one,
// and starts over when a file is truncated.
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
	"time"

	"github.com/hashicorp/go-hclog"

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
	name string // the path it was opened by
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
	cur, err := fl.resume(start)
	if err != nil {
		return err
	}
	defer func() {
		if cur != nil {
			cur.f.Close()
		}
	}()
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

// resume opens the file the saved position belongs to: the current file,
// or PATH.1 if the file was rotated while the follower was stopped.
func (fl *Follower) resume(start Position) (*openFile, error) {
	if start.FileID == "" {
		return fl.open(fl.Path, Position{Line: 1})
	}
	if start.Line < 1 {
		start.Line = 1
	}
	for _, name := range []string{fl.Path, fl.Path + ".1"} {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		id, err := fileID(f, start.FileID)
		if err != nil {
			f.Close()
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("stat %s: %w", name, err)
		}
		if id == start.FileID && fi.Size() >= start.Offset {
			of := &openFile{f: f, name: name, pos: start}
			if name != fl.Path {
				// Read the rest of the rotated file, then the current one.
				fl.Logger.Info("resuming in rotated file", "path", name, "offset", start.Offset)
			}
			return of, nil
		}
		f.Close()
	}
	fl.Logger.Warn("saved offset belongs to no file present, reading the current file from the start", "path", fl.Path)
	return fl.open(fl.Path, Position{Line: 1})
}

func (fl *Follower) open(name string, pos Position) (*openFile, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return &openFile{f: f, name: name, pos: pos}, nil
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
	var n int
	pos := cur.pos
	stop := errors.New("stop")
	_, err := resultlog.Split(cur.f, fl.MaxLine, final, pos.Line, pos.Offset, func(l resultlog.Line) error {
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
	if pos.Offset > 0 && (cur.pos.FileID == "" || idLen(cur.pos.FileID) < fingerprintLen) {
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
	buf = buf[:m]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 && like == "" && m < fingerprintLen {
		buf = buf[:i+1] // only whole lines while the file is short
	}
	sum := sha256.Sum256(buf)
	return fmt.Sprintf("%s:%d", hex.EncodeToString(sum[:16]), len(buf)), nil
}

func idLen(id string) int {
	var n int
	if _, err := fmt.Sscanf(id[bytes.LastIndexByte([]byte(id), ':')+1:], "%d", &n); err != nil {
		return 0
	}
	return n
}
