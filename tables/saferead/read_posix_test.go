//go:build !windows

package saferead

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadRefusesWhatTelemetryMustNotOpen(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.rsp")
	if err := os.WriteFile(ok, []byte("-o /tmp/x a.c"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.rsp")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.rsp")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	linkDir := filepath.Join(dir, "linkdir")
	if err := os.Symlink(dir, linkDir); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.rsp")
	if err := os.WriteFile(big, make([]byte, DefaultMaxBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "folder.rsp")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, reason string
	}{
		{"fifo (would block open forever)", fifo, ReasonNotRegular},
		{"dev zero (endless)", "/dev/zero", ReasonDevice},
		{"dev zero by a dotted path", "/tmp/../dev/zero", ReasonDevice},
		{"proc", "/proc/self/environ", ReasonDevice},
		{"symlink as the file", link, ReasonLink},
		{"symlink in the folders", filepath.Join(linkDir, "ok.rsp"), ReasonLink},
		{"too large", big, ReasonTooLarge},
		{"a folder", sub, ReasonNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() {
				defer close(done)
				data, err = Read(context.Background(), tt.path, Limits{})
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Read blocked")
			}
			reason, refused := IsRefusal(err)
			if data != nil || !refused || reason != tt.reason {
				t.Fatalf("Read(%s) = %d bytes, %v; want refusal %s", tt.path, len(data), err, tt.reason)
			}
		})
	}
	data, err := ResponseFile(context.Background(), ok, Limits{})
	if err != nil || string(data) != "-o /tmp/x a.c" {
		t.Fatalf("regular file: %q, %v", data, err)
	}
	if _, err := ResponseFile(context.Background(), filepath.Join(dir, "gone.rsp"), Limits{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want not exist (not a refusal)", err)
	}
	// Not unsafe, only not applicable: not recorded as refusals.
	for _, p := range []string{"/etc/passwd", "x.rsp", `C:\Users\u\AppData\Local\Temp\a.cmdline`} {
		_, err := ResponseFile(context.Background(), p, Limits{})
		if _, refused := IsRefusal(err); refused || !errors.Is(err, ErrNotApplicable) {
			t.Errorf("ResponseFile(%s) = %v, want ErrNotApplicable", p, err)
		}
	}
}

func TestReadTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := func(string, int64) ([]byte, error) { <-release; return []byte("late"), nil } // a hung file system
	data, err := readWithin(context.Background(), "/mnt/nfs/a.rsp", Limits{Timeout: 20 * time.Millisecond}, stuck)
	if r, ok := IsRefusal(err); data != nil || !ok || r != ReasonTimeout {
		t.Fatalf("data %q, err %v; want the timeout refusal", data, err)
	}
}
