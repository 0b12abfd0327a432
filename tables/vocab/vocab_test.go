package vocab

import (
	"slices"
	"testing"
)

func TestListsAreClassifiedAsTheirSourceSays(t *testing.T) {
	tests := []struct {
		list    string
		classes []string
	}{
		{ListWindowsDevEnvironment, []string{ClassDevTool, ClassBuildSystem}},
		{ListPosixWebServers, []string{ClassWebServer}},
		{ListElasticDotNetParents, []string{ClassScriptHost, ClassLOLBin, ClassSystemService}},
		{ListRemoteExecHosts, []string{ClassRemoteAdmin, ClassSystemService}},
	}
	for _, tt := range tests {
		items, ok := Items(tt.list)
		if !ok || len(items) == 0 {
			t.Fatalf("list %s missing or empty", tt.list)
		}
		for _, n := range items {
			if c := ClassOf(n + ".exe"); !slices.Contains(tt.classes, c) {
				t.Errorf("%s: %s is %s, want one of %v", tt.list, n, c, tt.classes)
			}
		}
	}
}

func TestClassOf(t *testing.T) {
	tests := map[string]string{
		`C:\Windows\System32\wbem\WmiPrvSE.exe`: ClassSystemService,
		"taskhostw.exe":                         ClassSystemService,
		"/usr/bin/node":                         ClassScriptHost,
		"vstest.console.exe":                    ClassBuildSystem,
		`C:\agent\bin\Agent.Listener.exe`:       ClassBuildSystem,
		"evil.exe":                              ClassUnknown,
		"":                                      ClassUnknown,
	}
	for in, want := range tests {
		if got := ClassOf(in); got != want {
			t.Errorf("ClassOf(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestEveryClassButUnknownHasMembers(t *testing.T) {
	for _, c := range Classes() {
		if n := len(ClassMembers(c)); (c == ClassUnknown) != (n == 0) {
			t.Errorf("class %s has %d members", c, n)
		}
	}
	for n, c := range parentClasses {
		if !slices.Contains(classes, c) {
			t.Errorf("%s has class %q, not one of %v", n, c, classes)
		}
	}
}

func TestCodesAreUniqueAndWorded(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if seen[r.Code] || r.Words == "" || r.When == "" {
			t.Errorf("reason %+v: duplicate or without words", r)
		}
		seen[r.Code] = true
		if w, ok := ReasonWords(r.Code); !ok || w != r.Words {
			t.Errorf("ReasonWords(%s) = %q, %v", r.Code, w, ok)
		}
	}
	if _, ok := ReasonWords("no_such_code"); ok {
		t.Error("ReasonWords knows a code the table does not set")
	}
	names := map[string]bool{}
	for _, l := range Lists() {
		if names[l.Name] || l.Source == "" || len(l.Items) == 0 {
			t.Errorf("list %s: duplicate, without source or empty", l.Name)
		}
		names[l.Name] = true
	}
	cols := map[string]bool{}
	for _, c := range LineageColumns() {
		if cols[c.Name] || c.Description == "" || (c.Type != TypeText && c.Type != TypeInteger && c.Type != TypeBigInt) {
			t.Errorf("column %+v: duplicate, undocumented or of an unknown type", c)
		}
		cols[c.Name] = true
	}
}

func TestCopiesDoNotLeak(t *testing.T) {
	a, _ := Items(ListNetworkTools)
	a[0] = "changed"
	if Has(ListNetworkTools, "changed") {
		t.Fatal("Items handed out the list itself")
	}
	l := Lists()
	l[0].Items[0] = "changed"
	if Has(l[0].Name, "changed") {
		t.Fatal("Lists handed out the list itself")
	}
}

func TestStageRank(t *testing.T) {
	for i, s := range Stages() {
		if StageRank(s) != i {
			t.Errorf("StageRank(%s) = %d, want %d", s, StageRank(s), i)
		}
	}
	if StageRank("bogus") != 0 {
		t.Error("unknown stage must rank as compile")
	}
}
