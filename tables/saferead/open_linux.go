//go:build linux

package saferead

import (
	"errors"

	"golang.org/x/sys/unix"
)

// openNoLinks refuses a symbolic link anywhere in the path (openat2 RESOLVE_NO_SYMLINKS,
// Linux 5.6+), falling back to O_NOFOLLOW for the last element on older kernels.
func openNoLinks(p string) (int, error) {
	flags := uint64(unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY)
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{Flags: flags,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) { // no openat2, or a sandbox that forbids it
		return unix.Open(p, int(flags), 0)
	}
	return fd, err
}
