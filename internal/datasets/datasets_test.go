package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder records how a test was ended instead of ending it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = format }
func (r *recorder) Skip(args ...any)                  { r.skip = args[0].(string) }

func TestUnavailableFailsInCI(t *testing.T) {
	t.Setenv("CI", "1")
	r := &recorder{TB: t}
	Unavailable(r, "recordings missing at %s", "/x")
	if !strings.Contains(r.fatal, "CI is set") || r.skip != "" {
		t.Fatalf("in CI: fatal %q skip %q, want a failure", r.fatal, r.skip)
	}
	t.Setenv("CI", "")
	r = &recorder{TB: t}
	Unavailable(r, "recordings missing at %s", "/x")
	if r.fatal != "" || r.skip != "recordings missing at /x" {
		t.Fatalf("outside CI: fatal %q skip %q, want a skip", r.fatal, r.skip)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.HasPrefix(string(mod), "module github.com/compilelineage/compile-lineage\n") {
		t.Fatalf("root %q: go.mod %v, want this module's", root, err)
	}
}
