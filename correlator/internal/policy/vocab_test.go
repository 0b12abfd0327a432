package policy

import (
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// TestPolicyCoversTheVocabulary: every reason code the table sets has points and words,
// every parent class has points, and a parent has the same class here as in the table.
func TestPolicyCoversTheVocabulary(t *testing.T) {
	t.Parallel()
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range vocab.Reasons() {
		if _, ok := p.ReasonLR[r.Code]; !ok {
			t.Errorf("reason %s has no likelihood ratio in the default policy", r.Code)
		}
		if r.Words == "" {
			t.Errorf("reason %s has no words", r.Code)
		}
	}
	for code := range p.ReasonLR {
		if _, ok := vocab.ReasonWords(code); !ok {
			t.Errorf("the policy scores reason %s, which the table never sets", code)
		}
	}
	for _, c := range vocab.Classes() {
		if _, ok := p.ParentClassLR[c]; !ok {
			t.Errorf("parent class %s has no likelihood ratio in the default policy", c)
		}
	}
	for c := range p.ParentClassLR {
		if len(vocab.ClassMembers(c)) == 0 && c != vocab.ClassUnknown {
			t.Errorf("the policy scores parent class %s, which the table never gives", c)
		}
	}
	for _, c := range vocab.Classes() {
		for _, name := range vocab.ClassMembers(c) {
			for _, form := range []string{name, name + ".exe", strings.ToUpper(name) + ".EXE"} {
				if got := p.ParentClass(form); got != c {
					t.Errorf("ParentClass(%s) = %s, the table says %s", form, got, c)
				}
			}
		}
	}
	for _, role := range p.Roles {
		for _, c := range role.RoutineParentClasses {
			if _, ok := p.ParentClassLR[c]; !ok {
				t.Errorf("routine parent class %s is not a parent class", c)
			}
		}
	}
	for rule, codes := range p.FallbackReasons {
		for _, code := range codes {
			if _, ok := vocab.ReasonWords(code); !ok {
				t.Errorf("fallback %s implies reason %s, which the table never sets", rule, code)
			}
		}
	}
}

func TestPolicyRejectsUnknownClassAndMissingPoints(t *testing.T) {
	t.Parallel()
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("site.yaml", strings.NewReader("parent_classes:\n  tool.exe: build_sytem\n"), base); err == nil ||
		!strings.Contains(err.Error(), `tool.exe has class "build_sytem"`) {
		t.Errorf("misspelt class: err = %v", err)
	}
	p, err := Parse("site.yaml", strings.NewReader("parent_classes:\n  ourbuild.exe: build_system\n"), base)
	if err != nil {
		t.Fatal(err)
	}
	if p.ParentClass("OurBuild.exe") != vocab.ClassBuildSystem || p.ParentClass("mshta.exe") != vocab.ClassScriptHost {
		t.Errorf("override or table class lost: %s %s", p.ParentClass("OurBuild.exe"), p.ParentClass("mshta.exe"))
	}
}
