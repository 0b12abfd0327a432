package saferead

import (
	"path"
	"strings"
	"testing"
)

// FuzzWindowsPathRefusal: whatever a command line names, an accepted path is a plain
// drive-letter path with no device, stream, UNC or parent-folder form. The seed corpus
// (testdata/fuzz) holds response-file paths from the real recordings and the attack forms.
func FuzzWindowsPathRefusal(f *testing.F) {
	f.Add(`C:\Users\IEUser\AppData\Local\Temp\0xqpayvt.cmdline`)
	f.Add(`\\host\share\x.rsp`)
	f.Fuzz(func(t *testing.T, p string) {
		if WindowsPathRefusal(p) != "" {
			return
		}
		s := strings.ReplaceAll(p, "/", `\`)
		if len(s) < 3 || s[1] != ':' || s[2] != '\\' || !isLetter(s[0]) {
			t.Fatalf("accepted %q: not a drive-letter path", p)
		}
		if strings.ContainsAny(s[3:], ":\x00") || strings.HasPrefix(s, `\\`) {
			t.Fatalf("accepted %q: stream, NUL or UNC", p)
		}
		for _, part := range strings.Split(s[3:], `\`) {
			base := strings.ToLower(strings.TrimRight(part, ". "))
			if part == ".." || dosDevices[strings.TrimRight(strings.SplitN(base, ".", 2)[0], " ")] {
				t.Fatalf("accepted %q: parent folder or device %q", p, part)
			}
		}
	})
}

// FuzzPosixPathRefusal: an accepted path is absolute and, once cleaned, outside /dev (but
// /dev/shm), /proc and /sys.
func FuzzPosixPathRefusal(f *testing.F) {
	f.Add("/tmp/build/args.rsp")
	f.Add("/tmp/../dev/zero")
	f.Fuzz(func(t *testing.T, p string) {
		if PosixPathRefusal(p) != "" {
			return
		}
		c := path.Clean(p)
		if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 {
			t.Fatalf("accepted %q: relative or NUL", p)
		}
		for _, d := range []string{"/proc", "/sys", "/dev"} {
			if (c == d || strings.HasPrefix(c, d+"/")) && !strings.HasPrefix(c, "/dev/shm/") {
				t.Fatalf("accepted %q (cleaned %q) under %s", p, c, d)
			}
		}
	})
}
