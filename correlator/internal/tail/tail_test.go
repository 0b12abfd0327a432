package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

type collector struct {
	mu    sync.Mutex
	lines []string
	pos   Position
	// stopAfter cancels after this many lines (0: never).
	stopAfter int
	cancel    context.CancelFunc
}

func (c *collector) follower(path string, once bool) *Follower {
	return &Follower{
		Path:  path,
		Poll:  2 * time.Millisecond,
		Every: 3,
		Once:  once,
		Handle: func(_ string, l resultlog.Line) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.lines = append(c.lines, string(l.Data))
			if c.stopAfter > 0 && len(c.lines) >= c.stopAfter && c.cancel != nil {
				c.cancel()
			}
			return nil
		},
		Checkpoint: func(p Position) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.pos = p
			return nil
		},
	}
}

func lines(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%40)))
	}
	return out
}

func write(t *testing.T, path string, ls []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(ls, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// rotate does what osquery's filesystem logger does: PATH.n.zst shift up,
// PATH.1 is compressed to PATH.2.zst, PATH becomes PATH.1.
func rotate(t *testing.T, path string) {
	t.Helper()
	for n := 20; n >= 2; n-- {
		if _, err := os.Stat(rotatedName(path, n)); err == nil {
			if err := os.Rename(rotatedName(path, n), rotatedName(path, n+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if data, err := os.ReadFile(path + ".1"); err == nil {
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rotatedName(path, 2), enc.EncodeAll(data, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		enc.Close()
		if err := os.Remove(path + ".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
}

func TestResumeThroughCompressedRotations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "osqueryd.results.log")
	write(t, path, lines(0, 50))
	c := &collector{stopAfter: 20}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if err := c.follower(path, false).Run(ctx, Position{Line: 1}); err != nil {
		t.Fatal(err)
	}
	if len(c.lines) != 20 || c.pos.Offset == 0 || c.pos.Line != 21 {
		t.Fatalf("first run read %d lines, position %+v; want 20 lines and line 21 next", len(c.lines), c.pos)
	}
	// While stopped: two rotations; the unread rest of the first file ends
	// up in PATH.2.zst.
	rotate(t, path)
	write(t, path, lines(50, 80))
	rotate(t, path)
	write(t, path, lines(80, 100))
	if _, err := os.Stat(path + ".2.zst"); err != nil {
		t.Fatalf("rotation did not produce .2.zst: %v", err)
	}
	c.stopAfter = 0
	if err := c.follower(path, true).Run(context.Background(), c.pos); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.lines, lines(0, 100)) {
		t.Fatalf("read %d lines, want 100 in order, each once; first differences: %v", len(c.lines), firstDiff(c.lines, lines(0, 100)))
	}
	// The saved position is in the live file and a resume reads nothing more.
	before := len(c.lines)
	if err := c.follower(path, true).Run(context.Background(), c.pos); err != nil {
		t.Fatal(err)
	}
	if len(c.lines) != before {
		t.Errorf("resume at the end re-read %d lines", len(c.lines)-before)
	}
}

func TestRotationAndTruncationWhileRunning(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "osqueryd.results.log")
	write(t, path, lines(0, 10))
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.follower(path, false).Run(ctx, Position{Line: 1}) }()
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			c.mu.Lock()
			got := len(c.lines)
			c.mu.Unlock()
			if got >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("timed out waiting for %d lines", n)
	}
	wait(10)
	write(t, path, lines(10, 15))
	rotate(t, path)
	write(t, path, lines(15, 30))
	wait(30)
	// Truncation (copytruncate-style): the file is emptied and rewritten.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	write(t, path, lines(30, 32))
	wait(32)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Equal(c.lines, lines(0, 32)) {
		t.Errorf("read %v", firstDiff(c.lines, lines(0, 32)))
	}
}

func TestPartialLineWaitsForNewline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.log")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n{\"b\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := c.follower(path, true).Run(context.Background(), Position{Line: 1}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.lines, []string{`{"a":1}`}) || c.pos.Offset != 8 {
		t.Fatalf("lines %v position %+v; want only the complete line, offset 8", c.lines, c.pos)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("2}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := c.follower(path, true).Run(context.Background(), c.pos); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.lines, []string{`{"a":1}`, `{"b":2}`}) {
		t.Errorf("lines %v", c.lines)
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d got %q want %q (len %d vs %d)", i, g, w, len(got), len(want))
		}
	}
	return "none"
}
