package compilelineage

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// textLit returns an SQL expression for the string s that cannot break out of its place:
// the text travels as a hex blob literal, so no character of s is ever read as SQL.
// osquery's query API takes no bound parameters, and the strings come from telemetry.
func textLit(s string) string {
	return "CAST(X'" + hex.EncodeToString([]byte(s)) + "' AS TEXT)"
}

// textList is "(lit, lit, ...)" for an IN clause; ok is false when vals is empty.
func textList(vals []string) (string, bool) {
	if len(vals) == 0 {
		return "", false
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = textLit(v)
	}
	return "(" + strings.Join(parts, ", ") + ")", true
}

// intList is "(1, 2, ...)" for an IN clause; ok is false when vals is empty.
func intList(vals []int64) (string, bool) {
	if len(vals) == 0 {
		return "", false
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return "(" + strings.Join(parts, ", ") + ")", true
}

// suffixAny is "(substr(lower(expr), -length(L1)) = L1 OR ...)" matching any of the
// lower-case suffixes; ok is false when there are none.
func suffixAny(expr string, suffixes []string) (string, bool) {
	if len(suffixes) == 0 {
		return "", false
	}
	parts := make([]string, len(suffixes))
	for i, s := range suffixes {
		l := textLit(strings.ToLower(s))
		parts[i] = "substr(lower(" + expr + "), -length(" + l + ")) = " + l
	}
	return "(" + strings.Join(parts, " OR ") + ")", true
}

// chunks splits a list so that no single query carries thousands of literals.
func chunks[T any](vals []T, n int) [][]T {
	var out [][]T
	for len(vals) > n {
		out = append(out, vals[:n])
		vals = vals[n:]
	}
	if len(vals) > 0 {
		out = append(out, vals)
	}
	return out
}
