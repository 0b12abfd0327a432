// Package glob matches simple case-insensitive wildcard patterns: '*'
// matches any run of characters (including path separators) and '?' one
// character. There are no escapes, so Windows paths with backslashes can be
// written as they are.
package glob

import (
	"strings"
	"unicode/utf8"
)

// Match reports whether s matches pattern, ignoring case.
func Match(pattern, s string) bool {
	return match(strings.ToLower(pattern), strings.ToLower(s))
}

func match(p, s string) bool {
	// Iterative matcher with backtracking to the last '*'.
	var starP, starS = -1, 0
	pi, si := 0, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			default:
				if p[pi] == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
