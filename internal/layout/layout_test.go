package layout

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/compilelineage/compile-lineage/"

// rules say, per package prefix, which of the module's packages it may import: a package
// matching a prefix may import only module packages matching one of the allowed prefixes.
var rules = []struct {
	pkg     string
	allowed []string
}{
	{"tables/vocab", nil},                                                    // the contract: standard library only
	{"tables/saferead", nil},                                                 // safe reads: standard library and x/sys only
	{"tables/compilelineage", []string{"tables/vocab"}},                      // pure core and osquery edge; no osquery-go
	{"packs", []string{"packs", "tables/vocab"}},                             // queries take names from the vocabulary only
	{"correlator", []string{"correlator", "tables/vocab"}},                   // reads result logs; never the extension
	{"windows-vm/internal/expect", []string{"tables/vocab"}},                 // scenario checks
	{"windows-vm/internal/vmassert", []string{"windows-vm/internal/expect"}}, // in-VM checks: osquery-go, never the extension
	{"windows-vm/internal/pslint", nil},                                      // PowerShell structure lint
	{"internal/datasets", nil},                                               // test helper
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module)
		for _, r := range rules {
			if rel != r.pkg && !strings.HasPrefix(rel, r.pkg+"/") {
				continue
			}
			checked++
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, "github.com/osquery/") && strings.HasPrefix(rel, "tables/") {
					t.Errorf("%s imports %s: only package tables speaks osquery-go", rel, imp)
				}
				dep, ok := strings.CutPrefix(imp, module)
				if !ok {
					continue
				}
				if !slices.ContainsFunc(r.allowed, func(a string) bool { return dep == a || strings.HasPrefix(dep, a+"/") }) {
					t.Errorf("%s imports %s; it may import only %v of the module", rel, dep, r.allowed)
				}
			}
			break
		}
	}
	if checked < 15 {
		t.Errorf("checked %d packages; the rules match fewer than expected", checked)
	}
}
