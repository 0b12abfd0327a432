package packs

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// The fallback queries take their IN (...) lists of process names from tables/vocab, the
// lists compile_lineage itself uses. In a query file a list is written after a marker
// naming the vocabulary list, and an optional suffix added to each item:
//
//	WHERE name IN /* vocab:an1381_compilers .exe */ ('csc.exe', 'ilasm.exe', 'msbuild.exe')
//
// ExpandVocab rewrites the parenthesised list after each marker from the vocabulary, so
// `make packs` keeps the files in step with the table and `genpacks -check` fails when
// they drift.
var vocabMarker = regexp.MustCompile(`/\* vocab:([a-z0-9_]+)((?: \.[a-z]+)?) \*/ \(`)

// listWidth is the column after which a generated list continues on the next line.
// A list that does not fit after its marker starts on the next line, indented by four.
const listWidth = 104

// ExpandVocab returns src with every marked IN list written from the vocabulary. file names
// the source in errors.
func ExpandVocab(file string, src []byte) ([]byte, error) {
	var out bytes.Buffer
	rest := src
	for {
		loc := vocabMarker.FindSubmatchIndex(rest)
		if loc == nil {
			out.Write(rest)
			return out.Bytes(), nil
		}
		name, suffix := string(rest[loc[2]:loc[3]]), strings.TrimSpace(string(rest[loc[4]:loc[5]]))
		line := 1 + bytes.Count(src[:len(src)-len(rest)+loc[0]], []byte("\n"))
		items, ok := vocab.Items(name)
		if !ok {
			return nil, fmt.Errorf("%s:%d: no vocabulary list %q (tables/vocab/names.go)", file, line, name)
		}
		open := loc[1] - 1 // the "("
		end := closingParen(rest, open)
		if end < 0 {
			return nil, fmt.Errorf("%s:%d: vocab:%s list has no closing parenthesis", file, line, name)
		}
		out.Write(rest[:open])
		lineStart := bytes.LastIndexByte(out.Bytes(), '\n') + 1
		cur := out.Bytes()[lineStart:]
		indent := string(cur[:len(cur)-len(bytes.TrimLeft(cur, " "))]) + "    "
		out.WriteString(renderList(items, suffix, len(cur), indent))
		rest = rest[end+1:]
	}
}

// closingParen returns the index of the ")" closing the "(" at open, outside SQL strings.
func closingParen(s []byte, open int) int {
	inString := false
	for i := open + 1; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inString = !inString // '' inside a string toggles twice
		case s[i] == ')' && !inString:
			return i
		}
	}
	return -1
}

// renderList writes ('a', 'b', ...) on the rest of the line when it fits in listWidth
// columns (col is where it starts), else on lines of its own indented by indent.
func renderList(items []string, suffix string, col int, indent string) string {
	lits := make([]string, len(items))
	for i, it := range items {
		lits[i] = "'" + strings.ReplaceAll(it+suffix, "'", "''") + "'"
	}
	one := "(" + strings.Join(lits, ", ") + ")"
	if col+len(one) <= listWidth {
		return one
	}
	var b strings.Builder
	b.WriteString("(\n" + indent)
	width := len(indent)
	for i, lit := range lits {
		if i > 0 {
			b.WriteByte(',')
			width++
			if width+1+len(lit) > listWidth {
				b.WriteString("\n" + indent)
				width = len(indent)
			} else {
				b.WriteByte(' ')
				width++
			}
		}
		b.WriteString(lit)
		width += len(lit)
	}
	b.WriteByte(')')
	return b.String()
}
