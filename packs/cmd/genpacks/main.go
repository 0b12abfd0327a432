// Command genpacks writes the osquery packs and Fleet YAML generated from packs/queries/*.sql, and the Fleet
// role labels and policies generated from packs/labels/*.sql and packs/policies/*.sql.
//
// Usage (from the repository root): go run ./packs/cmd/genpacks [-dir packs] [-check]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/compilelineage/compile-lineage/packs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "genpacks:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("genpacks", flag.ContinueOnError)
	dir := fs.String("dir", "packs", "packs directory to write into")
	check := fs.Bool("check", false, "only report files that are out of date (exit 1 if any)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	qs, err := packs.Embedded()
	if err != nil {
		return err
	}
	files, err := packs.Generate(qs)
	if err != nil {
		return err
	}
	ls, err := packs.EmbeddedLabels()
	if err != nil {
		return err
	}
	ps, err := packs.EmbeddedPolicies()
	if err != nil {
		return err
	}
	roleFiles, err := packs.GenerateRoles(ls, ps)
	if err != nil {
		return err
	}
	for n, b := range roleFiles {
		files[n] = b
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var stale []string
	for _, n := range names {
		p := filepath.Join(*dir, filepath.FromSlash(n))
		old, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if bytes.Equal(old, files[n]) {
			continue
		}
		stale = append(stale, p)
		if *check {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, files[n], 0o640); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		fmt.Println("wrote", p)
	}
	readme := filepath.Join(*dir, "README.md")
	doc, err := os.ReadFile(readme)
	if err != nil {
		return fmt.Errorf("read %s: %w", readme, err)
	}
	updated, err := packs.ReplaceBlock(doc, packs.DocsBegin, packs.DocsEnd, packs.QueryDocs(qs))
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if updated, err = packs.ReplaceBlock(updated, packs.RolesDocsBegin, packs.RolesDocsEnd, packs.RolesDocs(ls, ps)); err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if !bytes.Equal(doc, updated) {
		stale = append(stale, readme)
		if !*check {
			if err := os.WriteFile(readme, updated, 0o640); err != nil {
				return fmt.Errorf("write %s: %w", readme, err)
			}
			fmt.Println("wrote", readme)
		}
	}
	if *check && len(stale) > 0 {
		return fmt.Errorf("out of date: %v (run go run ./packs/cmd/genpacks)", stale)
	}
	return nil
}
