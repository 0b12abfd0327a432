//go:build unix

package batch

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only, so the output pass
// reads documents without a system call each.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map score spool: %w", err)
	}
	return b, nil
}

func unmapFile(b []byte) error {
	if b == nil {
		return nil
	}
	if err := syscall.Munmap(b); err != nil {
		return fmt.Errorf("unmap score spool: %w", err)
	}
	return nil
}
