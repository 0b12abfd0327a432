//go:build !windows

package saferead

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func pathRefusal(p string) string { return PosixPathRefusal(p) }

// openFile opens p read-only without blocking on FIFOs or devices and without following a
// link (openNoLinks, per system).
func openFile(p string) (*os.File, error) {
	fd, err := openNoLinks(p)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EXDEV) {
			return nil, refuse(p, ReasonLink)
		}
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	if f == nil {
		return nil, fmt.Errorf("open %s: bad file descriptor", p)
	}
	return f, nil
}
