package compilelineage

import (
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// coreFiles are the pure linking and reasoning: events in, lineages out. The osquery-facing
// code (sources.go, collect.go, sql.go) is everything else in the package.
var coreFiles = []string{"model.go", "classify.go", "cmdline.go", "correlate.go"}

// TestCoreIsPure fails when a core file imports I/O, the network, the clock or the process
// environment, or calls time.Now: the core must give the same lineages for the same events.
func TestCoreIsPure(t *testing.T) {
	banned := []string{"context", "os", "io", "io/fs", "net", "net/http", "syscall", "os/exec", "path/filepath",
		"math/rand", "math/rand/v2", "sync", "runtime", "unsafe"}
	fset := token.NewFileSet()
	for _, name := range coreFiles {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if slices.Contains(banned, p) {
				t.Errorf("%s imports %q: the core does no I/O and has no clock", name, p)
			}
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"time.Now(", "time.Since(", "time.Sleep("} {
			if strings.Contains(string(data), call) {
				t.Errorf("%s calls %s: the core has no clock", name, call)
			}
		}
	}
}

func TestRefusedResponseFileIsRecorded(t *testing.T) {
	ev := Events{Platform: "windows", Procs: []Proc{
		win("{c}", "", 1, fw+"csc.exe", `csc.exe /noconfig @"\\host\share\x.rsp" C:\src\a.cs`),
	}, ResponseFiles: map[string]ResponseFile{`\\host\share\x.rsp`: {Refused: "remote"}}}
	got := Correlate(&ev, Params{})
	if len(got) != 1 {
		t.Fatalf("got %d lineages, want 1", len(got))
	}
	l := got[0]
	if !slices.Contains(l.Evidence, vocab.EvidenceResponseRefused) || slices.Contains(l.Evidence, vocab.EvidenceOutputResponse) {
		t.Errorf("evidence = %v, want %s and no %s", l.Evidence, vocab.EvidenceResponseRefused, vocab.EvidenceOutputResponse)
	}
	if !slices.Contains(l.Gaps, vocab.GapResponseFileRefused) {
		t.Errorf("gaps = %v, want %s", l.Gaps, vocab.GapResponseFileRefused)
	}
	if l.OutputPath != "" {
		t.Errorf("output = %q, want none (the response file was not read)", l.OutputPath)
	}
}

// TestCoreReadsOnlyItsInput: a response file the input does not hold is not used, whatever
// is on disk; the same input gives the same row.
func TestCoreReadsOnlyItsInput(t *testing.T) {
	mk := func() Events {
		return Events{Platform: "linux", Procs: []Proc{
			nix(10, 1, 1, "/usr/bin/gcc", "gcc @/etc/hostname", "/"),
		}}
	}
	a, b := mk(), mk()
	la, lb := Correlate(&a, Params{}), Correlate(&b, Params{})
	if len(la) != 1 || len(lb) != 1 || la[0].String() != lb[0].String() {
		t.Fatalf("differ: %v %v", la, lb)
	}
	if slices.Contains(la[0].Evidence, vocab.EvidenceOutputResponse) {
		t.Fatalf("evidence %v: the core read a file it was not given", la[0].Evidence)
	}
}

// TestCoreSpeaksTheVocabulary fails when the core sets a reason or gap code the vocabulary
// does not document, or the vocabulary documents a reason the core never sets.
func TestCoreSpeaksTheVocabulary(t *testing.T) {
	var src strings.Builder
	for _, name := range append(slices.Clone(coreFiles), "collect.go") {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(data)
	}
	set := map[string]bool{}
	for _, m := range regexp.MustCompile(`add\("([a-z_]+)"\)`).FindAllStringSubmatch(src.String(), -1) {
		set[m[1]] = true
		if _, ok := vocab.ReasonWords(m[1]); !ok {
			t.Errorf("the core sets reason %q, which vocab does not document", m[1])
		}
	}
	for _, code := range vocab.ReasonCodes() {
		if !set[code] {
			t.Errorf("vocab documents reason %q, which the core never sets", code)
		}
	}
	for _, m := range regexp.MustCompile(`Gaps, "([a-z_]+)"\)`).FindAllStringSubmatch(src.String(), -1) {
		if !slices.Contains(vocab.Gaps(), m[1]) {
			t.Errorf("the core sets gap %q, which vocab does not document", m[1])
		}
	}
}

// TestCompilerListsAreCompilers: the compiler names the fallback queries watch are compilers
// to the table too.
func TestCompilerListsAreCompilers(t *testing.T) {
	for _, list := range []string{vocab.ListPosixCCCompilers, vocab.ListWindowsCompilers, vocab.ListAN1381Compilers,
		vocab.ListElasticDotNetCompilers} {
		items, _ := vocab.Items(list)
		for _, n := range items {
			if k := compilerKind(n, "", n+" -o x a.c"); k == kindNone || k == kindHelper {
				t.Errorf("%s: %s is not a compiler to the table (kind %q)", list, n, k)
			}
		}
	}
}
