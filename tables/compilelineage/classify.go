package compilelineage

import (
	"path"
	"regexp"
	"strings"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Parent classes, as documented in the README; vocab owns them.
const (
	ClassScriptHost    = vocab.ClassScriptHost
	ClassOffice        = vocab.ClassOffice
	ClassLOLBin        = vocab.ClassLOLBin
	ClassSystemService = vocab.ClassSystemService
	ClassWebServer     = vocab.ClassWebServer
	ClassShell         = vocab.ClassShell
	ClassRemoteAdmin   = vocab.ClassRemoteAdmin
	ClassDevTool       = vocab.ClassDevTool
	ClassBuildSystem   = vocab.ClassBuildSystem
	ClassUnknown       = vocab.ClassUnknown
)

// ClassifyParent returns the class of a parent process from its base name.
func ClassifyParent(name string) string { return vocab.ClassOf(name) }

// Compiler kinds.
const (
	kindNone    = ""
	kindDotNet  = "dotnet"  // csc, vbc, jsc
	kindILAsm   = "ilasm"   // ilasm
	kindMSBuild = "msbuild" // msbuild
	kindCvtres  = "cvtres"  // resource converter, a csc/vbc/jsc helper
	kindASPNet  = "aspnet"  // aspnet_compiler, Microsoft.Workflow.Compiler
	kindCC      = "cc"      // gcc, clang, cc, tcc and friends
	kindGo      = "go"
	kindRust    = "rustc"
	kindOSA     = "osacompile" // macOS AppleScript / JXA compiler
	kindLinker  = "ld"         // ld started on its own
	kindHelper  = "helper"     // cc1, as, collect2, go's compile/link: never a row of its own
)

var resolvedCC = regexp.MustCompile(`^(?:[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(?:-[a-z0-9_]+)?-)?(?:gcc|g\+\+|c\+\+|cc|c89|c99|clang|clang\+\+|tcc)(?:-[0-9][0-9.]*)?$`)

// compilerKind says which compiler a process is, from its base name and, on Windows,
// the PE original file name (which survives renaming).
func compilerKind(name, originalName, cmdline string) string {
	s := stem(name)
	if k := windowsCompiler(s); k != kindNone {
		return k
	}
	if o := stem(originalName); o != "" {
		if k := windowsCompiler(o); k != kindNone {
			return k
		}
	}
	switch {
	case resolvedCC.MatchString(s):
		return kindCC
	case s == "rustc":
		return kindRust
	case s == "osacompile":
		return kindOSA
	case s == "go":
		if goBuilds(cmdline) {
			return kindGo
		}
		return kindNone
	case s == "ld" || s == "ld.bfd" || s == "ld.gold" || s == "ld.lld" || s == "lld" || s == "mold":
		return kindLinker
	case s == "cc1" || s == "cc1plus" || s == "cc1obj" || s == "as" || s == "collect2" ||
		s == "compile" || s == "link" || s == "asm" || s == "cgo" || s == "lto-wrapper" || s == "lto1":
		return kindHelper
	}
	return kindNone
}

func windowsCompiler(s string) string {
	switch s {
	case "csc", "vbc", "jsc":
		return kindDotNet
	case "ilasm":
		return kindILAsm
	case "msbuild":
		return kindMSBuild
	case "cvtres":
		return kindCvtres
	case "aspnet_compiler", "microsoft.workflow.compiler":
		return kindASPNet
	}
	return kindNone
}

// goBuilds reports whether a go command line compiles code.
func goBuilds(cmdline string) bool {
	args := SplitPOSIX(cmdline)
	rest := args[min(1, len(args)):]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "-C" {
			i++ // -C takes a directory
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		switch a {
		case "build", "run", "install", "test":
			return true
		}
		return false
	}
	return false
}

// drivers start helpers; a compiler started under one of them is part of its compile.
func isDriverKind(k string) bool {
	return k == kindDotNet || k == kindCC || k == kindGo || k == kindRust || k == kindILAsm
}

// BaseName returns the last element of a Windows or POSIX path, lower-cased.
func BaseName(p string) string { return vocab.BaseName(p) }

// stem is the lower-case base name without a trailing ".exe".
func stem(p string) string { return vocab.Stem(p) }

// windowsPath reports whether a path looks like a Windows path.
func windowsPath(p string) bool {
	return strings.Contains(p, `\`) || (len(p) > 1 && p[1] == ':')
}

// NormalizePath returns a comparable form of a path: Windows paths are lower-cased, use
// backslashes, and lose the \??\ and \\?\ prefixes and the drive letter's device form.
func NormalizePath(p string) string {
	p = strings.TrimSpace(strings.Trim(p, `"`))
	if !windowsPath(p) {
		return p
	}
	p = strings.ToLower(strings.ReplaceAll(p, "/", `\`))
	for _, prefix := range []string{`\??\`, `\\?\`, `\\.\`} {
		p = strings.TrimPrefix(p, prefix)
	}
	if strings.HasPrefix(p, `\device\harddiskvolume`) {
		if i := strings.IndexByte(p[len(`\device\harddiskvolume`):], '\\'); i >= 0 {
			p = p[len(`\device\harddiskvolume`)+i:]
		}
	}
	return p
}

// SamePath compares two paths the way the lineage does: exactly for POSIX paths, and for
// Windows paths case-insensitively, ignoring a missing drive letter on one side and
// accepting 8.3 short names (ADMIN_~1) for the long name they abbreviate.
func SamePath(a, b string) bool {
	a, b = NormalizePath(a), NormalizePath(b)
	if a == b {
		return a != ""
	}
	if !windowsPath(a) || !windowsPath(b) {
		return false
	}
	a, b = stripDrive(a), stripDrive(b)
	if a == b {
		return true
	}
	ac, bc := strings.Split(a, `\`), strings.Split(b, `\`)
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		if ac[i] != bc[i] && !shortNameMatch(ac[i], bc[i]) && !shortNameMatch(bc[i], ac[i]) {
			return false
		}
	}
	return true
}

func stripDrive(p string) string {
	if len(p) > 1 && p[1] == ':' {
		return p[2:]
	}
	return p
}

var shortName = regexp.MustCompile(`^([^~.]{1,6})~[0-9]+(\.[^.]{0,3})?$`)

// shortNameMatch reports whether short is an 8.3 name that can stand for long.
func shortNameMatch(short, long string) bool {
	m := shortName.FindStringSubmatch(short)
	if m == nil {
		return false
	}
	stemLong := long
	if m[2] != "" {
		stemLong = strings.TrimSuffix(long, m[2])
	}
	// Windows drops spaces and replaces characters 8.3 names cannot hold with '_'.
	squashed := strings.NewReplacer(" ", "", ".", "_", "+", "_", ",", "_", ";", "_", "=", "_", "[", "_", "]", "_").Replace(stemLong)
	if !strings.HasPrefix(squashed, m[1]) && !strings.HasPrefix(strings.ReplaceAll(stemLong, " ", ""), m[1]) {
		return false
	}
	return m[2] == "" || strings.HasSuffix(long, m[2])
}

// BuildScratch reports whether a source file named on a compiler command line is one a build tool
// generates itself in a temp folder on every routine build (vocab list build_scratch_sources, matched
// against the lower-case base name), so that it does not count as temp_source.
func BuildScratch(p string) bool {
	n := NormalizePath(p)
	base := strings.ToLower(n[strings.LastIndexAny(n, `\/`)+1:])
	return vocab.Any(vocab.ListBuildScratchSources, func(pattern string) bool {
		ok, err := path.Match(pattern, base)
		return ok && err == nil
	})
}

// UserWritable reports whether a path lies in a temp or user-writable folder. Go's own
// build cache folders (go-build*) are excluded: every `go run` and `go test` uses them.
func UserWritable(p string) bool {
	n := NormalizePath(p)
	if n == "" || strings.Contains(n, "go-build") {
		return false
	}
	if windowsPath(n) {
		if vocab.ContainsAny(vocab.ListWindowsUserWritable, n) {
			return true
		}
		// Files directly under ProgramData or the AppData\Local root.
		if i := strings.Index(n, `\programdata\`); i >= 0 && !strings.Contains(n[i+len(`\programdata\`):], `\`) {
			return true
		}
		if i := strings.Index(n, `\appdata\local\`); i >= 0 && !strings.Contains(n[i+len(`\appdata\local\`):], `\`) {
			return true
		}
		return false
	}
	if vocab.Any(vocab.ListPosixUserWritable, func(d string) bool { return strings.HasPrefix(n, d) }) {
		return true
	}
	return strings.Contains(n, "/Downloads/")
}

// devInstall reports whether a compiler runs from an IDE or SDK installation (Visual Studio,
// its Build Tools, the .NET SDK, JetBrains): developer prompts and IDE builds use those copies.
func devInstall(p string) bool {
	return vocab.ContainsAny(vocab.ListWindowsDevInstallDirs, NormalizePath(p))
}

// expectedWindowsCompilerDir reports whether a .NET compiler runs from where Windows, Visual
// Studio or the .NET SDK install it.
func expectedWindowsCompilerDir(p string) bool {
	return vocab.ContainsAny(vocab.ListWindowsCompilerDirs, NormalizePath(p))
}
