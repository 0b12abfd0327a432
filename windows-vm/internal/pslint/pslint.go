// Package pslint checks the structure of the Windows VM's PowerShell scripts on a host without
// PowerShell (make vm-check). It is not a parser: it enforces the few rules that keep the scripts
// straight-line install and scenario steps whose failures cannot be missed, and that catch the
// PowerShell semantics that broke the lab before (an array returned with `return ,` arrives wrapped
// in another array; Start-Process without -Wait has no exit code and no complete output yet; native
// stderr under $ErrorActionPreference = 'Stop' becomes a terminating error in Windows PowerShell 5.1).
// The real parse happens in the VM (provision/00-syntax-check.ps1).
package pslint

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Header is the first line of every script.
const Header = "Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'"

// Finding is one rule broken at one line (1-based).
type Finding struct {
	Line int
	Rule string
	Msg  string
}

func (f Finding) String() string { return fmt.Sprintf("%d: %s: %s", f.Line, f.Rule, f.Msg) }

// Options says what a file may do beyond the common rules.
type Options struct {
	// Library: the one file allowed to define functions (lib/common.ps1) and to download.
	Library bool
	// Offline: scenario and runner scripts must not reach the network at all.
	Offline bool
}

var (
	returnComma  = regexp.MustCompile(`(?i)\breturn\s*,`)
	returnValue  = regexp.MustCompile(`(?i)\breturn\s+[^\s;}#]`)
	funcDef      = regexp.MustCompile(`(?i)^\s*function\s+[A-Za-z]`)
	startProcess = regexp.MustCompile(`(?i)\bStart-Process\b`)
	assignProc   = regexp.MustCompile(`(?i)^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*Start-Process\b`)
	exitCodeRead = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)\.ExitCode\b`)
	callNative   = regexp.MustCompile(`(?i)(^|[;{(]\s*)&\s*(['"][^'"]*\.exe['"]|\S*\.exe\b)`)
	badVarColon  = regexp.MustCompile(`\$[A-Za-z_][A-Za-z0-9_]*:([^A-Za-z0-9_:\\]|$)`)
	forbiddenCmd = []struct {
		re  *regexp.Regexp
		msg string
	}{
		{regexp.MustCompile(`(?i)\bConvertFrom-Json\b|\bConvertTo-Json\b`), "JSON is parsed and written by vmassert (Go), not PowerShell"},
		{regexp.MustCompile(`(?i)\bosqueryi\b`), "query osqueryd through vmassert (osquery-go on the extensions socket), not osqueryi"},
		{regexp.MustCompile(`2>&1`), "2>&1 under $ErrorActionPreference = 'Stop' turns native stderr into terminating errors: use Invoke-Checked"},
		{regexp.MustCompile(`(?i)ParseFile\(\s*\$PSCommandPath`), "a script cannot check its own syntax (PowerShell parses the file before running it): provision/00-syntax-check.ps1 parses every script"},
	}
	download    = regexp.MustCompile(`(?i)\bInvoke-WebRequest\b|\bNet\.WebClient\b|\bStart-BitsTransfer\b`)
	paramBlock  = regexp.MustCompile(`(?i)^\s*param\s*\(`)
	waitFlag    = regexp.MustCompile(`(?i)\s-Wait\b`)
	redirect    = regexp.MustCompile(`(?i)-RedirectStandard(Output|Error)\b`)
	waitForExit = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)\.WaitForExit\(`)
)

// Check returns every rule the script breaks.
func Check(data []byte, o Options) []Finding {
	var out []Finding
	add := func(line int, rule, msg string) { out = append(out, Finding{line, rule, msg}) }
	if rest, ok := bytes.CutPrefix(data, []byte{0xEF, 0xBB, 0xBF}); ok {
		add(1, "ascii", "starts with a byte-order mark")
		data = rest
	}
	for i, b := range data {
		if b > 127 {
			add(1+bytes.Count(data[:i], []byte{'\n'}), "ascii", fmt.Sprintf("non-ASCII byte 0x%02x (Windows PowerShell 5.1 reads BOM-less files as ANSI)", b))
			break
		}
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if lines[0] != Header {
		add(1, "header", fmt.Sprintf("first line %q, want %q", lines[0], Header))
	}
	stmts := statements(lines)
	waited := map[string]bool{} // process variables whose exit code is known (Start-Process -Wait or WaitForExit)
	for _, s := range stmts {
		code := s.code
		if returnComma.MatchString(code) {
			add(s.line, "return-comma", "`return ,` hands the caller an array inside an array: write values to files or throw")
		} else if returnValue.MatchString(code) {
			add(s.line, "return-value", "no value-returning helpers: act, write a file, or throw")
		}
		if funcDef.MatchString(code) && !o.Library {
			add(s.line, "function", "functions live in lib/common.ps1 only; keep scripts straight-line")
		}
		for _, f := range forbiddenCmd {
			if f.re.MatchString(code) {
				add(s.line, "forbidden", f.msg)
			}
		}
		if download.MatchString(code) && (o.Offline || !o.Library) {
			add(s.line, "download", "downloads go through Save-PinnedDownload (lib/common.ps1) and never happen in scenarios")
		}
		if callNative.MatchString(code) {
			add(s.line, "native-call", "run native programs with Invoke-Checked (exit code checked, stderr kept out of the error stream)")
		}
		if m := badVarColon.FindString(code); m != "" {
			add(s.line, "var-colon", fmt.Sprintf("%q is parsed as a drive-qualified variable; write ${name}: instead", m))
		}
		if s.line > 1 && paramBlock.MatchString(code) && !o.Library && !s.inBlock {
			add(s.line, "param", "a script-level param() must come before the strict-mode header: take arguments through $args")
		}
		lower := strings.ToLower(code)
		if strings.Contains(lower, "extensions.load") && (strings.Contains(lower, "out-file") || strings.Contains(lower, "set-content") ||
			strings.Contains(lower, "add-content") || strings.Contains(code, "> ")) {
			add(s.line, "bom", "write extensions.load with Write-Utf8NoBom (UTF-8 without BOM)")
		}
		if startProcess.MatchString(code) {
			hasWait := waitFlag.MatchString(code)
			if redirect.MatchString(code) && !hasWait {
				add(s.line, "start-process-wait", "Start-Process with redirected output needs -Wait: without it the output is read before it is written")
			}
			if m := assignProc.FindStringSubmatch(code); m != nil && hasWait {
				waited[strings.ToLower(m[1])] = true
			}
		}
		for _, m := range waitForExit.FindAllStringSubmatch(code, -1) {
			waited[strings.ToLower(m[1])] = true
		}
		for _, m := range exitCodeRead.FindAllStringSubmatch(code, -1) {
			v := strings.ToLower(m[1])
			// A WaitForExit in the same statement, before the read, counts too.
			if !waited[v] {
				add(s.line, "exit-code", fmt.Sprintf("$%s.ExitCode is read before the process is known to have ended: start it with -Wait or call $%s.WaitForExit() first", m[1], m[1]))
			}
		}
	}
	return out
}

type stmt struct {
	line    int    // first line
	code    string // code with comments and here-string bodies removed, continuation lines joined
	inBlock bool   // inside a braces block (function body, script block)
}

// statements joins backtick continuations, drops comments (# outside quotes, <# #> blocks) and the bodies
// of here-strings (@' '@, @" "@), which are data.
func statements(lines []string) []stmt {
	var out []stmt
	depth := 0
	inHere, inComment := "", false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if inHere != "" {
			if strings.HasPrefix(l, inHere) {
				inHere = ""
			}
			continue
		}
		if inComment {
			if strings.Contains(l, "#>") {
				inComment = false
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "<#") {
			inComment = !strings.Contains(l, "#>")
			continue
		}
		first := i + 1
		code := stripComment(l)
		for strings.HasSuffix(strings.TrimRight(code, " \t"), "`") && i+1 < len(lines) {
			i++
			code = strings.TrimSuffix(strings.TrimRight(code, " \t"), "`") + " " + stripComment(lines[i])
		}
		t := strings.TrimRight(code, " \t")
		if strings.HasSuffix(t, "@'") {
			inHere = "'@"
		} else if strings.HasSuffix(t, `@"`) {
			inHere = `"@`
		}
		out = append(out, stmt{line: first, code: code, inBlock: depth > 0})
		depth += strings.Count(code, "{") - strings.Count(code, "}")
	}
	return out
}

// stripComment removes a # comment that is outside single and double quotes.
func stripComment(l string) string {
	var q byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == '#':
			if i == 0 || l[i-1] == ' ' || l[i-1] == '\t' || l[i-1] == ';' {
				return l[:i]
			}
		}
	}
	return l
}
