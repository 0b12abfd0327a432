package compilelineage

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Rule kinds.
const (
	RuleReason  = "reason"  // a reason code in `reasons`
	RuleLink    = "link"    // a link rule, named in `link_evidence`
	RuleScratch = "scratch" // a build tool's own scratch path: no temp_source / temp_output
	RuleQuiet   = "quiet"   // a routine build pattern that silences reasons
)

// Rule is one named detection, link or quieting rule and where it comes from. Every rule
// has a paired positive and negative test (rules_test.go) and is listed in the README.
type Rule struct {
	Name   string
	Kind   string
	Anchor string // the public rule, documentation or report the rule follows
	Doc    string
}

// ProxyRule links an artifact to a later process that runs or loads it through another
// program: the artifact's path (or its name resolved against the proxy's working folder) is
// an argument of that program. Evidence is "exec:proxy:<Name>".
type ProxyRule struct {
	Name     string
	Programs []string // lower-case base names without .exe; a trailing '*' matches a prefix
	// Paths are where the programs live, for the SQL pre-filter (exact, lower-case on
	// Windows; the IN list costs one lookup per row).
	Paths  []string
	Exts   []string // artifact types the program runs ("" = no extension, POSIX binaries)
	ByName bool     // the program takes a name, not a path (modprobe): compare the stem
	Anchor string
}

var (
	sys32     = []string{`c:\windows\system32\`, `c:\windows\syswow64\`}
	frameworx = []string{`c:\windows\microsoft.net\framework\v4.0.30319\`, `c:\windows\microsoft.net\framework64\v4.0.30319\`,
		`c:\windows\microsoft.net\framework\v2.0.50727\`, `c:\windows\microsoft.net\framework64\v2.0.50727\`}
	linuxBins = []string{"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"}
)

func under(dirs []string, names ...string) []string {
	var out []string
	for _, d := range dirs {
		for _, n := range names {
			out = append(out, d+n)
		}
	}
	return out
}

// proxyRules are the programs that run or load an artifact named on their command line.
var proxyRules = []ProxyRule{
	{Name: "rundll32", Programs: []string{"rundll32"}, Paths: under(sys32, "rundll32.exe"), Exts: []string{".dll", ".cpl", ".ocx", ".exe", ".tmp"},
		Anchor: "LOLBAS Rundll32; Sigma proc_creation_win_rundll32_susp_*; ART T1218.011"},
	{Name: "regsvr32", Programs: []string{"regsvr32"}, Paths: under(sys32, "regsvr32.exe"), Exts: []string{".dll", ".ocx", ".sct", ".tmp"},
		Anchor: "LOLBAS Regsvr32; ART T1218.010"},
	{Name: "regasm", Programs: []string{"regasm"}, Paths: under(frameworx, "regasm.exe"), Exts: []string{".dll"},
		Anchor: "LOLBAS Regasm; ART T1218.009 (csc /target:library then regasm /U)"},
	{Name: "regsvcs", Programs: []string{"regsvcs"}, Paths: under(frameworx, "regsvcs.exe"), Exts: []string{".dll"},
		Anchor: "LOLBAS Regsvcs; ART T1218.009"},
	{Name: "installutil", Programs: []string{"installutil"}, Paths: under(frameworx, "installutil.exe"), Exts: []string{".dll", ".exe"},
		Anchor: "LOLBAS Installutil; ART T1218.004"},
	{Name: "msiexec", Programs: []string{"msiexec"}, Paths: under(sys32, "msiexec.exe"), Exts: []string{".msi", ".dll"},
		Anchor: "LOLBAS Msiexec (/y, /z DLL registration); ART T1218.007"},
	{Name: "odbcconf", Programs: []string{"odbcconf"}, Paths: under(sys32, "odbcconf.exe"), Exts: []string{".dll", ".rsp"},
		Anchor: "LOLBAS Odbcconf (REGSVR); ART T1218.008"},
	{Name: "ld_so", Programs: []string{"ld-linux*", "ld.so", "ld-musl*"},
		Paths: []string{"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
			"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2", "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
			"/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "/lib/ld-musl-x86_64.so.1", "/lib/ld-musl-aarch64.so.1"},
		Exts: []string{"", ".so", ".bin", ".out", ".elf"}, Anchor: "GTFOBins ld.so; noexec /dev/shm bypass (ld.so ./binary)"},
	{Name: "insmod", Programs: []string{"insmod", "kmod"}, Paths: under(linuxBins, "insmod", "kmod"), Exts: []string{".ko"},
		Anchor: "ART T1547.006 (insmod of a freshly built module); Elastic \"Kernel Module Load via insmod\""},
	{Name: "modprobe", Programs: []string{"modprobe"}, Paths: under(linuxBins, "modprobe"), Exts: []string{".ko"}, ByName: true,
		Anchor: "ART T1547.006; Elastic \"Kernel Driver Load\""},
	{Name: "open", Programs: []string{"open"}, Paths: []string{"/usr/bin/open"}, Exts: []string{".app"},
		Anchor: "Apple open(1); osacompile applets run with open (Red Canary Atomic T1059.002)"},
}

// proxyPaths lists every proxy program path, for the SQL pre-filter.
func proxyPaths(windows bool) []string {
	var out []string
	for _, r := range proxyRules {
		for _, p := range r.Paths {
			if windowsPath(p) == windows {
				out = append(out, p)
			}
		}
	}
	return out
}

func matchProgram(patterns []string, name string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
			return true
		}
	}
	return false
}

// proxyRuleFor returns the rule of a process that can run artifacts, or nil. kmod counts
// only when started as insmod (argv[0]).
func proxyRuleFor(p *Proc) *ProxyRule {
	name := stem(p.Path)
	for i := range proxyRules {
		r := &proxyRules[i]
		if !matchProgram(r.Programs, name) {
			continue
		}
		if name == "kmod" {
			if a := SplitPOSIX(p.Cmdline); len(a) == 0 || BaseName(a[0]) != "insmod" {
				continue
			}
		}
		return r
	}
	return nil
}

// proxyArgs lists the candidate paths among a command line's arguments: "a.dll,Entry"
// gives a.dll, "/i:x" and "-f=x" give x, "{REGSVR a.dll}" gives a.dll.
func proxyArgs(p *Proc) []string {
	var args []string
	if windowsPath(p.Path) {
		args = SplitWindows(p.Cmdline)
	} else {
		args = SplitPOSIX(p.Cmdline)
	}
	if len(args) > 0 {
		args = args[1:]
	}
	var out []string
	for _, a := range args {
		for _, part := range strings.Split(a, ",") {
			part = strings.Trim(part, `{}"' `)
			if part == "" {
				continue
			}
			if part[0] == '/' && windowsPath(p.Path) || part[0] == '-' {
				if i := strings.IndexAny(part, ":="); i > 0 {
					part = part[i+1:]
				} else {
					continue
				}
			}
			out = append(out, part)
		}
	}
	return out
}

// proxyRuns reports whether proxy process p runs or loads the artifact at path.
func proxyRuns(r *ProxyRule, p *Proc, artifact string) bool {
	ext := ""
	if b := BaseName(artifact); strings.Contains(b, ".") {
		ext = b[strings.LastIndexByte(b, '.'):]
	}
	if !slices.Contains(r.Exts, ext) {
		return false
	}
	win := windowsPath(artifact)
	for _, a := range proxyArgs(p) {
		if r.ByName {
			if strings.TrimSuffix(BaseName(a), ".ko") == strings.TrimSuffix(BaseName(artifact), ".ko") {
				return true
			}
			continue
		}
		full := joinCwd(p.Cwd, a, win)
		if SamePath(full, artifact) || SamePath(a, artifact) {
			return true
		}
		if ext == ".app" && strings.HasPrefix(NormalizePath(full)+"/", strings.TrimSuffix(NormalizePath(artifact), "/")+"/") {
			return true
		}
	}
	return false
}

// insideBundle reports whether an image path runs from inside an .app bundle artifact
// (Contents/MacOS/applet after `open x.app`).
func insideBundle(image, bundle string) bool {
	if !strings.HasSuffix(strings.ToLower(bundle), ".app") {
		return false
	}
	return strings.HasPrefix(image, strings.TrimSuffix(bundle, "/")+"/")
}

// ScratchRule is a build tool's own temporary path: a compile reading or writing there is not
// temp_source or temp_output when one of Tools is in the compile's ancestry (an attacker
// writing into a look-alike folder from a shell is not quieted).
type ScratchRule struct {
	Name    string
	Pattern *regexp.Regexp // over NormalizePath output
	Tools   []string       // ancestor base names (stems; trailing '*' = prefix)
	Anchor  string
}

var scratchRules = []ScratchRule{
	{Name: "msbuild_rsp", Pattern: regexp.MustCompile(`\\(?:appdata\\local\\temp|windows\\temp|windows\\systemtemp)\\(?:msbuildtemp[^\\]*\\)?tmp[0-9a-f]{1,32}\.(?:rsp|tmp)$`),
		Tools:  []string{"msbuild", "dotnet", "devenv"},
		Anchor: "MSBuild ToolTask writes the compiler's arguments to FileUtilities.GetTemporaryFile(\".rsp\") in %TEMP% (dotnet/msbuild src/Utilities/ToolTask.cs)"},
	{Name: "pip_build", Pattern: regexp.MustCompile(`^/(?:private/)?(?:tmp|var/tmp)/pip-(?:install|build-env|req-build|wheel|build|modern-metadata|ephem-wheel-cache|target|unpack)-[a-z0-9_]+/`),
		Tools:  []string{"pip", "pip3", "pip3.*", "python", "python3", "python3.*", "uv"},
		Anchor: "pip's TempDirectory kinds (pip/_internal/utils/temp_dir.py); Sigma linux tmp-compile FP note for pip wheels"},
	{Name: "cargo_build", Pattern: regexp.MustCompile(`^/(?:private/)?tmp/(?:cargo-install[A-Za-z0-9]+|rustc[A-Za-z0-9]+)/`),
		Tools:  []string{"cargo", "rustc"},
		Anchor: "cargo install builds in a cargo-install* temp dir; rustc links through a rustc* temp dir (rustc_codegen_ssa back/link.rs)"},
	{Name: "go_build", Pattern: regexp.MustCompile(`/go-(?:build|link-)[0-9]+[/\\]`),
		Tools:  []string{"go"},
		Anchor: "cmd/go WorkDir go-build*, cmd/link -tmpdir go-link-* (external linking through gcc)"},
}

// scratchRule returns the scratch rule a path falls under for a compile with this ancestry.
func scratchRule(path string, ancestry []string) *ScratchRule {
	n := NormalizePath(path)
	for i := range scratchRules {
		r := &scratchRules[i]
		if !r.Pattern.MatchString(n) {
			continue
		}
		for _, a := range ancestry {
			if matchProgram(r.Tools, stem(a)) {
				return r
			}
		}
	}
	return nil
}

// fetchPorts are the ports package registries serve on.
var fetchPorts = []int64{443, 80}

// isBuildFetch reports whether a connection by process p is a build tool's package download:
// a build tool (or `python -m pip`, a pip script run by python) on a web port.
func isBuildFetch(p *Proc, port int64) bool {
	if !slices.Contains(fetchPorts, port) {
		return false
	}
	name := versionless(stem(p.Path))
	if vocab.Has(vocab.ListBuildFetchTools, name) {
		return true
	}
	if name == "python" || name == "python3" {
		args := SplitPOSIX(p.Cmdline)
		for _, a := range args[min(1, len(args)):] {
			if b := versionless(stem(a)); b == "pip" || b == "pip3" {
				return true
			}
		}
	}
	return false
}

// sourceSkew widens the skew for monitors that log late under load: pid-less file monitors
// batch their events, so a write can be logged seconds after the artifact already ran.
var sourceSkew = map[string]time.Duration{"file_events": 30 * time.Second, "ntfs_journal_events": 30 * time.Second}

func (ix *index) skewFor(source string) time.Duration {
	if d, ok := sourceSkew[source]; ok && d > ix.p.Skew {
		return d
	}
	return ix.p.Skew
}

// versionSuffix matches the version or variant a name carries: php-fpm8.2, python3.11,
// nc.traditional, nc.openbsd.
var versionSuffix = regexp.MustCompile(`(?:-?[0-9]+(?:\.[0-9]+)*|\.(?:traditional|openbsd))$`)

// versionless drops a trailing version or variant from a base name (python3.11 -> python,
// php-fpm8.2 -> php-fpm, nc.openbsd -> nc).
func versionless(name string) string {
	if n := versionSuffix.ReplaceAllString(name, ""); n != "" {
		return n
	}
	return name
}

// webServerUser reports whether a compile ran as a web-server account: a web-server compile
// whatever started it (the worker may be older than the buffer).
func webServerUser(user string) bool {
	u := strings.ToLower(user)
	if strings.HasPrefix(u, `iis apppool\`) {
		return true
	}
	return vocab.Has(vocab.ListPosixWebServerUsers, u)
}

// hiddenPath reports whether a POSIX path has a hidden folder component (/.x/, ~/.config/.x/)
// or is a hidden file, outside the tool caches builds use.
func hiddenPath(p string) bool {
	n := NormalizePath(p)
	if windowsPath(n) {
		return false
	}
	if vocab.ContainsAny(vocab.ListHiddenDirExempt, n) {
		return false
	}
	for _, part := range strings.Split(n, "/") {
		if len(part) > 1 && part[0] == '.' && part != ".." {
			return true
		}
	}
	return false
}

// webRoot reports whether a path lies in a web root or upload folder.
func webRoot(p string) bool {
	return vocab.ContainsAny(vocab.ListWebRootDirs, NormalizePath(p))
}

// aspNetTempDir is where ASP.NET compiles pages (routine after every app-pool recycle).
const aspNetTempDir = `\temporary asp.net files\`

// SharedCompilerRule attributes the writes of a long-lived compiler server, which is no child
// of the build that asks it to compile, to that build: a write beneath obj\ or bin\ (Folders)
// of the project folder of the one build (msbuild, dotnet build) running at that time on it.
// A compiler run as the server's client (csc /shared) gets the server's write of the output
// its command line names. Evidence is "write:shared_compiler:<Name>".
type SharedCompilerRule struct {
	Name    string
	Images  []string // the server's own image stems
	Hosted  []string // assemblies the .NET host (dotnet [exec] X.dll) runs as the server, lower-case
	Folders []string // the build's output folders beneath a project folder
	Anchor  string
}

var sharedCompilerRules = []SharedCompilerRule{
	{Name: "vbcscompiler", Images: []string{"vbcscompiler"}, Hosted: []string{"vbcscompiler.dll"}, Folders: []string{"obj", "bin"},
		Anchor: "Roslyn docs/compilers/Compiler Server.md (the Csc/Vbc MSBuild task starts VBCSCompiler.exe and sends it the command " +
			"line; the server lives on, keepalive 600 s) and BuildServerConnection.GetServerProcessInfo (.NET SDK: " +
			"dotnet exec \"...\\VBCSCompiler.dll\" \"-pipename:<name>\"); the tasks' UseSharedCompilation property (Roslyn src/Compilers/Core/MSBuildTask, ManagedCompiler)"},
}

// sharedCompilerRule returns the rule of a compiler server process (its image, or the
// assembly the .NET host runs), or nil.
func sharedCompilerRule(path, cmdline string) *SharedCompilerRule {
	name := stem(path)
	for i := range sharedCompilerRules {
		r := &sharedCompilerRules[i]
		if slices.Contains(r.Images, name) {
			return r
		}
		if name != "dotnet" {
			continue
		}
		args := SplitWindows(cmdline)
		if !windowsPath(path) {
			args = SplitPOSIX(cmdline)
		}
		for _, a := range args[min(1, len(args)):] {
			if la := strings.ToLower(a); la == "exec" || strings.HasPrefix(la, "-") {
				continue
			}
			if slices.Contains(r.Hosted, BaseName(a)) {
				return r
			}
			break
		}
	}
	return nil
}

// sharedCompilerImages lists the servers' image names (with .exe), for the SQL pre-filter of
// the file writes a source names by image (Sysmon event 11).
func sharedCompilerImages() []string {
	var out []string
	for _, r := range sharedCompilerRules {
		for _, im := range r.Images {
			out = append(out, `\`+im+".exe")
		}
	}
	return out
}

// isBuild reports whether p is a build a shared compiler server serves: msbuild (also
// renamed, by its PE name) or `dotnet build|msbuild|publish...`. The name test comes first:
// this runs over every process.
func isBuild(p *Proc) bool {
	if !baseIs(p.Path, "msbuild.exe", "msbuild", "dotnet.exe", "dotnet") && !baseIs(p.OriginalName, "msbuild.exe", "msbuild") {
		return false
	}
	return compilerKind(BaseName(p.Path), p.OriginalName, p.Cmdline) == kindMSBuild
}

// sharedClient reports whether p is a compiler run as a client of the shared compiler server
// (csc or vbc /shared[:pipe]: the server compiles and writes the output, csc only forwards
// the command line).
func sharedClient(p *Proc) bool {
	if !baseIs(p.Path, "csc.exe", "vbc.exe", "csc", "vbc", "dotnet.exe", "dotnet") && !baseIs(p.OriginalName, "csc.exe", "vbc.exe") ||
		!containsFold(p.Cmdline, "shared") {
		return false
	}
	if compilerKind(BaseName(p.Path), p.OriginalName, p.Cmdline) != kindDotNet {
		return false
	}
	for _, a := range SplitWindows(p.Cmdline) {
		if la := strings.ToLower(a); la == "/shared" || la == "-shared" || strings.HasPrefix(la, "/shared:") || strings.HasPrefix(la, "-shared:") {
			return true
		}
	}
	return false
}

// servedByServer reports whether a shared compiler server may write for p: a build, or a
// /shared client.
func servedByServer(p *Proc) bool {
	if !baseIs(p.Path, "msbuild.exe", "dotnet.exe", "csc.exe", "vbc.exe", "msbuild", "dotnet", "csc", "vbc") &&
		(p.OriginalName == "" || !baseIs(p.OriginalName, "msbuild.exe", "csc.exe", "vbc.exe")) {
		return false // the common case, decided in one pass over the name
	}
	return isBuild(p) || sharedClient(p)
}

// containsFold reports whether s holds sub, ignoring case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// baseIs reports whether a path's base name is one of names, ignoring case, without
// allocating.
func baseIs(path string, names ...string) bool {
	b := path[strings.LastIndexAny(path, `\/`)+1:]
	for _, n := range names {
		if len(b) == len(n) && strings.EqualFold(b, n) {
			return true
		}
	}
	return false
}

// dotnetValueOptions are the .NET CLI build options whose value is the next argument.
var dotnetValueOptions = []string{"-c", "--configuration", "-f", "--framework", "-o", "--output", "-r", "--runtime", "-a", "--arch",
	"--os", "-v", "--verbosity", "-s", "--source", "--version-suffix", "--artifacts-path", "--packages", "-p", "--property"}

// buildFolders are the project folders a build works on: the folders of the projects or
// solutions its command line names (or a folder named instead), else its working folder.
// MSBuild worker nodes (/nodemode:) serve whatever build asks and have none.
func buildFolders(p *Proc) []string {
	win := windowsPath(p.Path)
	args := SplitPOSIX(p.Cmdline)
	if win {
		args = SplitWindows(p.Cmdline)
	}
	var out []string
	rest := args[min(1, len(args)):]
	for i := 0; i < len(rest); i++ {
		a, la := rest[i], strings.ToLower(rest[i])
		if strings.Contains(la, "nodemode:") {
			return nil
		}
		switch {
		case slices.Contains(dotnetValueOptions, la):
			i++ // -c Release, -o <dir>: the value is no project
		case a == "" || a[0] == '-' || (win && a[0] == '/'):
		case i == 0 && stem(p.Path) == "dotnet": // the verb: build, msbuild, publish ...
		case strings.HasSuffix(la, "proj") || strings.HasSuffix(la, ".sln") || strings.HasSuffix(la, ".slnx"):
			full := joinCwd(p.Cwd, a, win)
			out = append(out, full[:max(0, strings.LastIndexAny(full, `\/`))])
		case strings.ContainsAny(a, `\/`) && !strings.Contains(BaseName(a), "."):
			out = append(out, strings.TrimRight(joinCwd(p.Cwd, a, win), `\/`))
		}
	}
	if len(out) == 0 && p.Cwd != "" && !placeholderName(p.Cwd) {
		out = append(out, strings.TrimRight(p.Cwd, `\/`))
	}
	return out
}

// folderForm is the comparable form of a path for folder tests: NormalizePath without the
// drive letter, and the path's separator.
func folderForm(p string) (string, string) {
	n := NormalizePath(p)
	if windowsPath(n) {
		return stripDrive(n), `\`
	}
	return n, "/"
}

// outputDepth returns how deep folder is when path lies beneath one of the rule's output
// folders under it (folder\obj\..., folder\sub\bin\...), else -1. Both are in folderForm, the
// folder ending with its separator.
func (r *SharedCompilerRule) outputDepth(folder, path, sep string) int {
	rest, ok := strings.CutPrefix(path, folder)
	if !ok || len(folder) <= len(sep) {
		return -1
	}
	parts := strings.Split(rest, sep)
	for _, part := range parts[:len(parts)-1] {
		if slices.Contains(r.Folders, part) {
			return strings.Count(folder, sep)
		}
	}
	return -1
}

// linkRules are the link and quieting rules that are not proxy or scratch rules; reason
// rules come from the vocabulary, which owns the reason codes and their anchors.
var linkRules = []Rule{
	{Name: vocab.EvidenceExecPath, Kind: RuleLink, Anchor: "MITRE AN1381: the compiled artifact runs from where it was written"},
	{Name: vocab.EvidenceExecBundle, Kind: RuleLink, Anchor: "macOS LaunchServices starts Contents/MacOS/<name> of an opened .app bundle"},
	{Name: vocab.EvidenceExecImageLoad, Kind: RuleLink, Anchor: "Sysmon event 7 (ImageLoaded): the artifact loaded as a module"},
	{Name: vocab.EvidenceNetBuildFetch, Kind: RuleQuiet, Anchor: "go modules, cargo, dotnet restore, NuGet, npm and pip download from registries during builds"},
	{Name: vocab.EvidenceQuietPrefix + "aspnet_recycle", Kind: RuleQuiet,
		Anchor: "ASP.NET dynamic compilation into Temporary ASP.NET Files after an app-pool recycle (Microsoft Learn: ASP.NET compilation overview)"},
}

// Rules lists every named rule, for the README and the paired tests.
func Rules() []Rule {
	var out []Rule
	for _, r := range vocab.Reasons() {
		out = append(out, Rule{Name: r.Code, Kind: RuleReason, Anchor: r.Anchor, Doc: r.When})
	}
	out = append(out, linkRules...)
	for _, p := range proxyRules {
		out = append(out, Rule{Name: vocab.EvidenceExecProxyPrefix + p.Name, Kind: RuleLink, Anchor: p.Anchor})
	}
	for _, s := range scratchRules {
		out = append(out, Rule{Name: vocab.EvidenceScratchPrefix + s.Name, Kind: RuleScratch, Anchor: s.Anchor})
	}
	for _, r := range sharedCompilerRules {
		out = append(out, Rule{Name: vocab.EvidenceWriteSharedPrefix + r.Name, Kind: RuleLink, Anchor: r.Anchor})
	}
	return out
}

// placeholderName reports whether a parent name is a placeholder for "unknown" ("-", "?",
// empty), never an ancestor.
func placeholderName(p string) bool {
	switch strings.TrimSpace(p) {
	case "", "-", "?", "<unknown>", "unknown":
		return true
	}
	return false
}

// inMemoryHost reports whether p compiles into its own process (PowerShell Add-Type, MSBuild
// inline tasks, Roslyn scripting): what it does later, for its whole life, is the compile's.
func inMemoryHost(p *Proc) bool {
	return p != nil && vocab.Has(vocab.ListInMemoryCompileHosts, stem(p.Path))
}
