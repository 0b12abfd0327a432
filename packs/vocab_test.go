package packs

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// TestQueriesUseTheVocabulary: the checked-in queries carry the vocabulary's lists (run
// `make packs` after changing tables/vocab), and the fallback queries' name lists are marked.
func TestQueriesUseTheVocabulary(t *testing.T) {
	names, err := fs.Glob(queryFiles, "queries/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	markers := 0
	for _, n := range names {
		src, err := queryFiles.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ExpandVocab(n, src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not in step with tables/vocab: run make packs", n)
		}
		markers += bytes.Count(src, []byte("/* vocab:"))
	}
	if markers < 14 {
		t.Errorf("%d vocab markers in the queries, want the 14 fallback name lists", markers)
	}
}

func TestExpandVocab(t *testing.T) {
	src := "SELECT 1 WHERE name IN /* vocab:elastic_dotnet_compilers .exe */ ('stale.exe', ')')\n" +
		"  AND x IN /* vocab:network_tools */ ('nc');"
	got, err := ExpandVocab("q.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 1 WHERE name IN /* vocab:elastic_dotnet_compilers .exe */ ('csc.exe', 'vbc.exe')\n" +
		"  AND x IN /* vocab:network_tools */ ('nc', 'ncat', 'netcat', 'socat', 'telnet');"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for in, msg := range map[string]string{
		"SELECT 1\nWHERE a IN /* vocab:no_such_list */ ('x')": `q.sql:2: no vocabulary list "no_such_list"`,
		"SELECT 1 WHERE a IN /* vocab:network_tools */ ('x'":  "q.sql:1: vocab:network_tools list has no closing parenthesis",
	} {
		if _, err := ExpandVocab("q.sql", []byte(in)); err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("ExpandVocab(%q) error = %v, want %q", in, err, msg)
		}
	}
}
