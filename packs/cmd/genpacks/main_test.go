package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/packs"
)

func TestRunWritesAndChecks(t *testing.T) {
	dir := t.TempDir()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Start from a README whose generated block is stale.
	stale, err := packs.ReplaceBlock(readme, packs.DocsBegin, packs.DocsEnd, "\nold\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-dir", dir, "-check"}); err == nil || !strings.Contains(err.Error(), "out of date") {
		t.Fatalf("-check on an empty dir: err = %v, want out of date", err)
	}
	if err := run([]string{"-dir", dir}); err != nil {
		t.Fatalf("generate: %v", err)
	}
	qs, err := packs.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	want, err := packs.Generate(qs)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := packs.EmbeddedLabels()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := packs.EmbeddedPolicies()
	if err != nil {
		t.Fatal(err)
	}
	roles, err := packs.GenerateRoles(ls, ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 4 {
		t.Fatalf("%d generated label and policy files, want 4", len(roles))
	}
	for name, content := range roles {
		if _, dup := want[name]; dup {
			t.Fatalf("%s generated twice", name)
		}
		want[name] = content
	}
	for name, content := range want {
		p := filepath.Join(dir, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: not written as generated (err %v)", name, err)
		}
		if st, err := os.Stat(p); err == nil && st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", name, st.Mode().Perm())
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !bytes.Equal(got, readme) {
		t.Errorf("README.md block not regenerated")
	}
	if err := run([]string{"-dir", dir, "-check"}); err != nil {
		t.Fatalf("-check after generate: %v", err)
	}
	for _, f := range []string{packs.FallbackPackFile, packs.GitOpsLabelsFile, packs.ApplyPoliciesFile} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		good, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := run([]string{"-dir", dir, "-check"}); err == nil || !strings.Contains(err.Error(), filepath.FromSlash(f)) {
			t.Fatalf("-check with an edited %s: err = %v", f, err)
		}
		if err := os.WriteFile(p, good, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// A stale label and policy reference in the README is caught too.
	staleRoles, err := packs.ReplaceBlock(readme, packs.RolesDocsBegin, packs.RolesDocsEnd, "\nold\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), staleRoles, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-dir", dir, "-check"}); err == nil || !strings.Contains(err.Error(), "README.md") {
		t.Fatalf("-check with a stale roles block: err = %v", err)
	}
}
