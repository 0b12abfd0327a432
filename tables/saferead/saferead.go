// Package saferead reads files that telemetry names (response files after @ on compiler
// command lines) without letting the command line's author steer the extension, which runs
// as root or SYSTEM: only local regular files, never through a link, within a size cap and a
// time bound.
//
// What is refused, and why:
//
//   - relative paths (they would resolve against the extension's own folder);
//   - on POSIX, anything under /dev, /proc and /sys, any symbolic link in the path (openat2
//     RESOLVE_NO_SYMLINKS on Linux; O_NOFOLLOW for the last element elsewhere), and anything
//     that is not a regular file once open (a FIFO named on a command line would block an
//     open(2) forever: the file is opened O_NONBLOCK and checked with fstat);
//   - on Windows, UNC paths (\\host\share: opening one authenticates to that host with the
//     machine account), \\?\, \\?\UNC\, \\.\ and \??\ device and namespace paths, DOS device
//     names (CON, NUL, COM1, ...), alternate data streams, mapped network drives, and reparse
//     points (symbolic links, junctions, mount points) anywhere in the path;
//   - files larger than the cap, and reads that take longer than the time bound.
//
// A refusal is a *Refusal error; callers record it (compile_lineage puts it in link_evidence
// and telemetry_gaps). Relative paths, paths of another platform and files that are not
// response files are ErrNotApplicable instead: nothing unsafe was asked, so nothing is
// recorded. The path checks are pure functions, tested on every platform.
package saferead

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Default limits.
const (
	// DefaultMaxBytes caps a response file: CodeDom .cmdline files are a few hundred bytes,
	// MSBuild and gcc response files a few KiB.
	DefaultMaxBytes = 64 << 10
	// DefaultTimeout bounds one read, open included.
	DefaultTimeout = 2 * time.Second
)

// Refusal reasons.
const (
	ReasonNotResponseFile = "not_response_file" // not a .rsp or .cmdline file
	ReasonRelative        = "relative"          // not an absolute local path
	ReasonRemote          = "remote"            // UNC path or mapped network drive
	ReasonDevice          = "device"            // device namespace, DOS device name, /dev, /proc, /sys
	ReasonStream          = "stream"            // NTFS alternate data stream
	ReasonLink            = "link"              // symbolic link or reparse point in the path
	ReasonNotRegular      = "not_regular"       // FIFO, socket, device, folder
	ReasonTooLarge        = "too_large"         // larger than the cap
	ReasonTimeout         = "timeout"           // the read did not finish in time
)

// Refusal is the error for a file the extension must not, or did not, read.
type Refusal struct {
	Path   string
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("refused to read %q: %s", r.Path, r.Reason)
}

// RefusalReason returns the reason, for callers that record refusals without importing
// this package.
func (r *Refusal) RefusalReason() string { return r.Reason }

// ErrNotApplicable is the error for a path that names no file this host could read for the
// compile: a relative path whose folder is unknown, a path of another platform (a Windows
// path replayed on Linux), or a file that is not a response file. It is not a refusal: the
// path is simply not used, as a file that is gone.
var ErrNotApplicable = errors.New("not a readable response file path here")

func refuse(path, reason string) error {
	if reason == ReasonRelative || reason == ReasonNotResponseFile {
		return fmt.Errorf("%q: %w (%s)", path, ErrNotApplicable, reason)
	}
	return &Refusal{Path: path, Reason: reason}
}

// Limits bounds a read. Zero fields take the defaults.
type Limits struct {
	MaxBytes int64
	Timeout  time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// ResponseFile reads a compiler response file (.rsp, CodeDom .cmdline) named by telemetry.
// Any other file name is refused: telemetry does not choose what the extension reads.
func ResponseFile(ctx context.Context, path string, lim Limits) ([]byte, error) {
	l := strings.ToLower(path)
	if !strings.HasSuffix(l, ".cmdline") && !strings.HasSuffix(l, ".rsp") {
		return nil, refuse(path, ReasonNotResponseFile)
	}
	return Read(ctx, path, lim)
}

// Read reads a local regular file named by telemetry, or returns a *Refusal, or the error of
// a file that is not there.
func Read(ctx context.Context, path string, lim Limits) ([]byte, error) {
	return readWithin(ctx, path, lim, readLocal)
}

// readWithin checks path, then runs read within the time bound.
func readWithin(ctx context.Context, path string, lim Limits, read func(string, int64) ([]byte, error)) ([]byte, error) {
	lim = lim.withDefaults()
	if reason := pathRefusal(path); reason != "" {
		return nil, refuse(path, reason)
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := read(path, lim.MaxBytes)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		// The open or read is stuck (a hung network file system): give up on it. The
		// goroutine ends when the system call returns.
		return nil, refuse(path, ReasonTimeout)
	}
}

// readLocal opens path without following links (openFile, per platform), checks it is a
// regular file, and reads at most max bytes.
func readLocal(path string, max int64) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, refuse(path, ReasonNotRegular)
	}
	if fi.Size() > max {
		return nil, refuse(path, ReasonTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, refuse(path, ReasonTooLarge)
	}
	return data, nil
}

// IsRefusal reports whether err is a refusal, and its reason.
func IsRefusal(err error) (string, bool) {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason, true
	}
	return "", false
}
