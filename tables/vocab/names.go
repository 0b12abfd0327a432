package vocab

import (
	"slices"
	"strings"
)

// A List is a named list of process names, command-line markers or folders. Name is how the
// packs generator refers to it in a fallback query (/* vocab:<name> */).
type List struct {
	Name   string
	Source string // where the list comes from
	Items  []string
}

// Process-name lists are lower-case base names without ".exe" unless a list says otherwise.
var lists = []List{
	{"elastic_dotnet_parents", `Elastic "Suspicious .NET Code Compilation": parents of csc.exe / vbc.exe`,
		[]string{"wscript", "mshta", "cscript", "wmic", "svchost", "rundll32", "cmstp", "regsvr32"}},
	{"elastic_dotnet_compilers", `Elastic "Suspicious .NET Code Compilation": the compilers it watches`,
		[]string{"csc", "vbc"}},
	{"an1381_compilers", "MITRE AN1381 (T1027.004 on Windows): the .NET compilers the fallback query watches",
		[]string{"csc", "ilasm", "msbuild"}},
	{"windows_compilers", "Windows compilers and compile hosts compile_lineage reads (README, What it detects); with .exe",
		[]string{"csc.exe", "vbc.exe", "jsc.exe", "ilasm.exe", "msbuild.exe", "cvtres.exe", "aspnet_compiler.exe",
			"microsoft.workflow.compiler.exe"}},
	{"windows_dev_environment", "MITRE AN1381 development environments on Windows: IDEs, the .NET CLI, test runners and CI agents (each is a dev_tool or build_system parent class)",
		[]string{"devenv", "dotnet", "vbcscompiler", "servicehub.host.clr.x86", "rider64", "code", "vstest.console",
			"testhost", "agent.worker", "agent.listener", "runner.worker", "runner.listener", "gitlab-runner", "buildagent"}},
	{"remote_exec_hosts", `Elastic "MSBuild Started by a System Process": WMI, WinRM and PsExec hosts (reason parent_remote_admin)`,
		[]string{"wmiprvse", "wsmprovhost", "psexesvc", "winrshost"}},
	{"network_tools", "programs that commonly carry a reverse shell (reason network_tool_ancestry)",
		[]string{"nc", "ncat", "netcat", "socat", "telnet"}},
	{"posix_cc_compilers", "C compiler drivers by plain name (versioned and target-prefixed names are matched by pattern)",
		[]string{"cc", "c++", "c89", "c99", "gcc", "g++", "clang", "clang++", "tcc"}},
	{"darwin_fallback_compilers", "compilers the extension-free macOS fallback query watches by plain name: C drivers, Swift, Mono C# and AppleScript (versioned gcc by pattern)",
		[]string{"cc", "c++", "gcc", "g++", "clang", "clang++", "swiftc", "mcs", "osacompile"}},
	{"posix_web_servers", `Elastic "Suspicious Web Server Child Process": Linux web and application servers by plain name (php-fpm*, php-cgi* by pattern)`,
		[]string{"nginx", "apache2", "httpd", "lighttpd", "caddy", "uwsgi", "gunicorn"}},
	{"posix_web_server_users", "accounts Linux distributions run web servers as (Debian www-data, RHEL apache, Arch http, SUSE wwwrun)",
		[]string{"www-data", "apache", "nginx", "http", "wwwrun", "lighttpd"}},
	{"encoded_powershell_markers", `Elastic Endpoint "Managed .NET Code Execution via PowerShell", Sigma: lower-case PowerShell command-line markers (reason parent_encoded_powershell)`,
		[]string{" -enc", " -e ", " -ec ", "-encodedcommand", "frombase64string", "iex", "invoke-expression",
			"downloadstring", "downloadfile", "downloaddata", "net.webclient", "reflection.assembly", "invoke-webrequest"}},
	{"windows_user_writable_dirs", "MITRE AN1381/AN1382, Sigma: Windows temp and user-writable folders, lower-case with backslashes (reasons temp_output, temp_source)",
		[]string{`\appdata\local\temp\`, `\windows\temp\`, `\windows\systemtemp\`, `\users\public\`, `\perflogs\`,
			`\appdata\roaming\`, `\downloads\`, `\desktop\`, `\windows\tasks\`, `\temporary internet files\`,
			`\inetcache\`, `\favorites\`, `\favourites\`, `\contacts\`, `\pictures\`, `\$recycle.bin\`,
			`\windows\debug\`, `\windows\tracing\`, `\windows\registration\crmlog\`}},
	{"posix_user_writable_dirs", "POSIX world-writable and per-user temp folders (reasons temp_output, temp_source)",
		[]string{"/tmp/", "/var/tmp/", "/dev/shm/", "/private/tmp/", "/private/var/tmp/", "/run/user/", "/Users/Shared/"}},
	{"build_scratch_sources", "files build tools generate in temp folders and pass to the compiler on every build, as lower-case base-name patterns (path.Match): MSBuild on .NET Framework 4.x writes %TEMP%\\.NETFramework,Version=v4.x.AssemblyAttributes.cs (Microsoft.Common.targets, GenerateTargetFrameworkMonikerAttribute; C:\\Windows\\TEMP for a SYSTEM build agent); not temp_source",
		[]string{`.netframework,version=v*.assemblyattributes.cs`, `.netframework,version=v*.assemblyattributes.vb`}},
	{"windows_dev_install_dirs", "where Visual Studio, its Build Tools, the .NET SDK and JetBrains IDEs install compilers; lower-case",
		[]string{`\microsoft visual studio\`, `\dotnet\sdk\`, `\jetbrains\`}},
	{"windows_compiler_dirs", `Splunk "Suspicious msbuild path": where Windows, Visual Studio and the .NET SDK install compilers; lower-case (reason unusual_compiler_path)`,
		[]string{`\windows\microsoft.net\framework`, `\microsoft visual studio\`, `\msbuild\`, `\dotnet\sdk\`,
			`\program files\`, `\program files (x86)\`, `\windows\winsxs\`}},
}

// Lists returns every list, each with its own copy of the items.
func Lists() []List {
	out := make([]List, len(lists))
	for i, l := range lists {
		out[i] = List{l.Name, l.Source, slices.Clone(l.Items)}
	}
	return out
}

// Items returns a copy of the named list's items; ok is false for an unknown name.
func Items(name string) ([]string, bool) {
	for _, l := range lists {
		if l.Name == name {
			return slices.Clone(l.Items), true
		}
	}
	return nil, false
}

// Has reports whether the named list holds item exactly. It panics on an unknown list
// name, which is a programming error caught by the first test that runs the caller.
func Has(name, item string) bool {
	return slices.Contains(mustList(name), item)
}

// Any calls match on the named list's items until it returns true.
func Any(name string, match func(item string) bool) bool {
	return slices.ContainsFunc(mustList(name), match)
}

// ContainsAny reports whether s contains any item of the named list.
func ContainsAny(name, s string) bool {
	return Any(name, func(item string) bool { return strings.Contains(s, item) })
}

// listsByName indexes lists for the membership tests the lineage runs per event.
var listsByName = func() map[string][]string {
	m := make(map[string][]string, len(lists))
	for _, l := range lists {
		m[l.Name] = l.Items
	}
	return m
}()

func mustList(name string) []string {
	items, ok := listsByName[name]
	if !ok {
		panic("vocab: no list " + name)
	}
	return items
}

// List names, for callers that test membership.
const (
	ListElasticDotNetParents    = "elastic_dotnet_parents"
	ListElasticDotNetCompilers  = "elastic_dotnet_compilers"
	ListAN1381Compilers         = "an1381_compilers"
	ListWindowsCompilers        = "windows_compilers"
	ListWindowsDevEnvironment   = "windows_dev_environment"
	ListRemoteExecHosts         = "remote_exec_hosts"
	ListNetworkTools            = "network_tools"
	ListPosixCCCompilers        = "posix_cc_compilers"
	ListDarwinFallbackCompilers = "darwin_fallback_compilers"
	ListPosixWebServers         = "posix_web_servers"
	ListPosixWebServerUsers     = "posix_web_server_users"
	ListEncodedPowerShell       = "encoded_powershell_markers"
	ListWindowsUserWritable     = "windows_user_writable_dirs"
	ListPosixUserWritable       = "posix_user_writable_dirs"
	ListWindowsDevInstallDirs   = "windows_dev_install_dirs"
	ListBuildScratchSources     = "build_scratch_sources"
	ListWindowsCompilerDirs     = "windows_compiler_dirs"
)

func sortStrings(s []string) { slices.Sort(s) }
