package compilelineage

import (
	"path"
	"strings"
)

// SplitWindows splits a Windows command line into arguments with the rules of
// CommandLineToArgvW: whitespace separates, double quotes group, 2n backslashes before a
// quote give n backslashes, 2n+1 give n and a literal quote.
func SplitWindows(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQuote = !inQuote
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			have = true
		case c == '"':
			if inQuote && i+1 < len(s) && s[i+1] == '"' {
				cur.WriteByte('"')
				i++
			} else {
				inQuote = !inQuote
			}
			have = true
		case (c == ' ' || c == '\t' || c == '\n' || c == '\r') && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// SplitPOSIX splits a command line as osquery's process_events prints it (arguments joined
// by spaces); single and double quotes group, as a shell would.
func SplitPOSIX(s string) []string {
	var args []string
	var cur strings.Builder
	var quote byte
	have := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			have = true
		case c == ' ' || c == '\t' || c == '\n':
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// Invocation is what a compiler command line says about the compile.
type Invocation struct {
	Args          []string // arguments after the program
	Output        string   // output path named on the command line (joined with cwd when relative)
	Sources       []string // source, project and response files named on the command line
	ResponseFiles []string // @file arguments
	NotCompile    bool     // arguments show this is not a compile (e.g. vbc.exe /stext)
}

var sourceExts = []string{
	".cs", ".vb", ".js", ".il", ".xml", ".csproj", ".vbproj", ".proj", ".targets", ".sln", ".cmdline", ".rsp",
	".c", ".cc", ".cpp", ".cxx", ".c++", ".s", ".go", ".rs", ".aspx", ".asmx", ".ashx", ".xoml", ".applescript", ".csx", ".swift",
}

func isSource(a string) bool {
	l := strings.ToLower(a)
	for _, e := range sourceExts {
		if strings.HasSuffix(l, e) {
			return true
		}
	}
	return false
}

// ParseInvocation reads a compiler command line of the given kind. cwd resolves relative
// output paths; it may be empty.
func ParseInvocation(kind, cmdline, cwd string) Invocation {
	win := windowsKind(kind)
	var args []string
	if win {
		args = SplitWindows(cmdline)
	} else {
		args = SplitPOSIX(cmdline)
	}
	if len(args) > 0 {
		args = args[1:]
	}
	inv := Invocation{Args: args}
	switch kind {
	case kindDotNet, kindILAsm, kindMSBuild, kindCvtres, kindASPNet, kindCSI, kindMSVC, kindRoslyn:
		parseWindowsCompiler(&inv, kind)
	default:
		parsePOSIXCompiler(&inv, kind)
	}
	if inv.Output != "" {
		inv.Output = joinCwd(cwd, inv.Output, win)
	}
	for i, s := range inv.Sources {
		inv.Sources[i] = joinCwd(cwd, s, win)
	}
	for i, s := range inv.ResponseFiles {
		inv.ResponseFiles[i] = joinCwd(cwd, s, win)
	}
	return inv
}

func parseWindowsCompiler(inv *Invocation, kind string) {
	target, compileOnly := "", false
	for _, a := range inv.Args {
		if strings.HasPrefix(a, "@") {
			inv.ResponseFiles = append(inv.ResponseFiles, strings.Trim(a[1:], `"`))
			inv.Sources = append(inv.Sources, strings.Trim(a[1:], `"`))
			continue
		}
		if a != "" && (a[0] == '/' || a[0] == '-') {
			name, val := switchValue(a[1:])
			if kind == kindMSVC && len(a) > 3 && strings.EqualFold(a[1:3], "fe") {
				inv.Output = strings.Trim(strings.TrimPrefix(a[3:], ":"), `"`) // cl /Fe<out> or /Fe:<out>
				continue
			}
			switch name {
			case "out", "output":
				inv.Output = val
			case "target", "t":
				target = strings.ToLower(val)
			case "dll", "ld":
				target = "library"
			case "c":
				if kind == kindMSVC {
					compileOnly = true // cl /c: objects only
				}
			case "stext", "shtml", "sxml", "scomma", "stab", "sjson":
				// Password-recovery tools' report switches, seen when vbc.exe is hollowed.
				inv.NotCompile = true
			}
			continue
		}
		if isSource(a) {
			inv.Sources = append(inv.Sources, a)
		}
	}
	if kind == kindMSBuild || kind == kindCvtres {
		// MSBuild has no single output; cvtres writes a resource object, not an artifact.
		if kind == kindCvtres {
			inv.Output = ""
		}
		return
	}
	if kind == kindCSI || kind == kindRoslyn || compileOnly {
		return // Roslyn scripting compiles in memory; cl /c writes objects only
	}
	if inv.Output == "" && len(inv.Sources) > 0 && len(inv.ResponseFiles) == 0 {
		first := inv.Sources[0]
		ext := ".exe"
		if target == "library" {
			ext = ".dll"
		} else if target == "module" {
			ext = ".netmodule"
		}
		b := first[strings.LastIndexAny(first, `\/`)+1:]
		if i := strings.LastIndexByte(b, '.'); i > 0 {
			b = b[:i]
		}
		inv.Output = b + ext
	}
}

// switchValue splits "out:x", "OUTPUT=x" into a lower-case name and its value.
func switchValue(s string) (string, string) {
	i := strings.IndexAny(s, ":=")
	if i < 0 {
		return strings.ToLower(s), ""
	}
	return strings.ToLower(s[:i]), strings.Trim(s[i+1:], `"`)
}

func parsePOSIXCompiler(inv *Invocation, kind string) {
	linking := true
	for i := 0; i < len(inv.Args); i++ {
		a := inv.Args[i]
		switch {
		case a == "-o" && i+1 < len(inv.Args):
			inv.Output = inv.Args[i+1]
			i++
		case strings.HasPrefix(a, "-o") && len(a) > 2 && kind != kindGo:
			inv.Output = a[2:]
		case a == "-run" && kind == kindCC:
			linking = false // tcc -run compiles in memory and runs: no output
		case a == "-c" || a == "-S" || a == "-E" || a == "-M" || a == "-MM" || a == "--version" || a == "-v" ||
			a == "-dumpversion" || a == "-dumpmachine" || a == "--help":
			linking = false
		case kind == kindGo && (a == "vet" || a == "list" || a == "env" || a == "version"):
			linking = false
		case strings.HasPrefix(a, "@"):
			inv.ResponseFiles = append(inv.ResponseFiles, a[1:])
		case !strings.HasPrefix(a, "-") && isSource(a):
			inv.Sources = append(inv.Sources, a)
		}
	}
	if inv.Output == "" && linking && len(inv.Sources) > 0 {
		switch kind {
		case kindCC, kindLinker, kindSwift:
			inv.Output = "a.out"
		case kindRust:
			b := path.Base(inv.Sources[0])
			inv.Output = strings.TrimSuffix(b, path.Ext(b))
		case kindOSA:
			inv.Output = "a.scpt"
		}
	}
}

func joinCwd(cwd, p string, win bool) string {
	if p == "" || cwd == "" {
		return p
	}
	if win {
		if len(p) > 1 && p[1] == ':' || strings.HasPrefix(p, `\`) {
			return p
		}
		return strings.TrimRight(cwd, `\`) + `\` + p
	}
	if strings.HasPrefix(p, "/") {
		return p
	}
	return path.Join(cwd, p)
}

// ParseResponseFile reads the arguments of a compiler response file (.rsp, CodeDom .cmdline).
func ParseResponseFile(kind string, data []byte, cwd string) Invocation {
	return ParseInvocation(kind, "compiler "+strings.ReplaceAll(string(data), "\r", " "), cwd)
}
