// Package datasets locates the third-party recordings the tests replay: ../shared/datasets
// beside the repository, never copied into it. Test helpers only.
//
// Without the recordings a test skips, except in CI (the CI environment variable set, as
// .ci/run does), where a missing recording or a tool the test needs is a failure: a green
// CI must mean the real recordings were checked.
package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI.
func InCI() bool { return os.Getenv("CI") != "" }

// Unavailable ends a test that cannot run here: a skip on a workstation, a failure in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI is set: this must not be skipped)", msg)
		return
	}
	t.Skip(msg)
}

// Dir returns the absolute path of ../shared/datasets beside the module root, or ends the
// test with Unavailable when it is missing.
func Dir(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "datasets")
	if _, err := os.Stat(dir); err != nil {
		Unavailable(t, "real recordings not found at %s (they live beside the repository in ../shared/datasets): %v", dir, err)
	}
	return dir
}

// ModuleRoot returns the folder of go.mod above the working folder.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working folder: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working folder")
		}
		dir = parent
	}
}
