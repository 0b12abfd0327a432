package saferead

import (
	"path"
	"strings"
)

// PosixPathRefusal returns why a POSIX path named by telemetry must not be opened, or "".
// It looks at the text only; links are refused when the file is opened.
func PosixPathRefusal(p string) string {
	if p == "" || p[0] != '/' || strings.IndexByte(p, 0) >= 0 {
		return ReasonRelative
	}
	clean := path.Clean(p)
	if strings.HasPrefix(clean, "/dev/shm/") {
		return "" // a tmpfs of regular files, where delivered code is often staged
	}
	for _, dir := range []string{"/dev", "/proc", "/sys"} {
		if clean == dir || strings.HasPrefix(clean, dir+"/") {
			return ReasonDevice
		}
	}
	return ""
}

// dosDevices are the names Windows maps to devices in every folder, with any extension
// (NUL.rsp is the NUL device).
var dosDevices = map[string]bool{"con": true, "prn": true, "aux": true, "nul": true, "conin$": true, "conout$": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true, "com6": true, "com7": true, "com8": true, "com9": true,
	"com¹": true, "com²": true, "com³": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true, "lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true,
	"lpt¹": true, "lpt²": true, "lpt³": true}

// WindowsPathRefusal returns why a Windows path named by telemetry must not be opened, or "".
// Only drive-letter paths (C:\...) pass; mapped network drives and reparse points are refused
// when the file is opened, where the system can tell.
func WindowsPathRefusal(p string) string {
	if strings.IndexByte(p, 0) >= 0 {
		return ReasonRelative
	}
	s := strings.ReplaceAll(p, "/", `\`)
	switch {
	case strings.HasPrefix(s, `\\?\UNC\`), strings.HasPrefix(strings.ToLower(s), `\\?\unc\`):
		return ReasonRemote
	case strings.HasPrefix(s, `\\?\`), strings.HasPrefix(s, `\\.\`), strings.HasPrefix(s, `\??\`):
		return ReasonDevice
	case strings.HasPrefix(s, `\\`):
		return ReasonRemote
	}
	if len(s) < 3 || !isLetter(s[0]) || s[1] != ':' || s[2] != '\\' {
		return ReasonRelative // C:x (relative to the drive's folder), \x (the current drive), x
	}
	rest := s[3:]
	if strings.IndexByte(rest, ':') >= 0 {
		return ReasonStream
	}
	for _, part := range strings.Split(rest, `\`) {
		if part == ".." {
			return ReasonRelative
		}
		// Windows drops trailing dots and spaces, and a device name keeps its meaning with
		// any extension.
		name := strings.ToLower(strings.TrimRight(part, ". "))
		if i := strings.IndexByte(name, '.'); i >= 0 {
			name = name[:i]
		}
		if dosDevices[strings.TrimRight(name, " ")] {
			return ReasonDevice
		}
	}
	return ""
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
