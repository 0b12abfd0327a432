//go:build !windows && !linux

package saferead

import "golang.org/x/sys/unix"

// openNoLinks refuses a link as the last element (O_NOFOLLOW); the path checks keep out
// /dev and friends.
func openNoLinks(p string) (int, error) {
	return unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
}
