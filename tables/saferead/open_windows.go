//go:build windows

package saferead

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/windows"
)

func pathRefusal(p string) string { return WindowsPathRefusal(p) }

// openFile opens p read-only after refusing mapped network drives and reparse points in its
// folders, without following a reparse point at p itself, and checks the handle is a file
// on a local disk.
func openFile(p string) (*os.File, error) {
	p = strings.ReplaceAll(p, "/", `\`)
	root, err := windows.UTF16PtrFromString(p[:3])
	if err != nil {
		return nil, refuse(p, ReasonRelative)
	}
	switch windows.GetDriveType(root) {
	case windows.DRIVE_REMOTE:
		return nil, refuse(p, ReasonRemote)
	case windows.DRIVE_NO_ROOT_DIR, windows.DRIVE_UNKNOWN:
		return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
	}
	// Every folder on the way: a junction or symbolic link there would lead elsewhere.
	for i := 3; i < len(p); i++ {
		if p[i] != '\\' {
			continue
		}
		fi, err := os.Lstat(p[:i])
		if err != nil {
			return nil, err
		}
		if fi.Mode()&(os.ModeSymlink|os.ModeIrregular) != 0 {
			return nil, refuse(p, ReasonLink)
		}
	}
	name, err := windows.UTF16PtrFromString(p)
	if err != nil {
		return nil, refuse(p, ReasonRelative)
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	if t, err := windows.GetFileType(h); err != nil || t != windows.FILE_TYPE_DISK {
		windows.CloseHandle(h)
		return nil, refuse(p, ReasonNotRegular)
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		windows.CloseHandle(h)
		return nil, refuse(p, ReasonLink)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		windows.CloseHandle(h)
		return nil, refuse(p, ReasonNotRegular)
	}
	return os.NewFile(uintptr(h), p), nil
}
