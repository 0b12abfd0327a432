package vocab

import "strings"

// Parent classes of the parent_class column (README, "Parent classes"). The correlator's
// policy gives each of them points.
const (
	ClassScriptHost    = "script_host"    // script hosts and interpreters
	ClassOffice        = "office"         // Office applications
	ClassLOLBin        = "lolbin"         // signed binary proxies (LOLBAS project)
	ClassSystemService = "system_service" // service hosts, schedulers, init systems
	ClassWebServer     = "web_server"     // web and application servers
	ClassShell         = "shell"          // command shells and the desktop shell
	ClassRemoteAdmin   = "remote_admin"   // WMI, WinRM, PsExec, SSH and remote-desktop hosts
	ClassDevTool       = "dev_tool"       // interactive development tools (IDEs, editors, debuggers)
	ClassBuildSystem   = "build_system"   // build systems, SDK drivers, test runners and CI agents
	ClassUnknown       = "unknown"        // anything else (a delivered binary, a RAT)
)

var classes = []string{ClassScriptHost, ClassOffice, ClassLOLBin, ClassSystemService, ClassWebServer,
	ClassShell, ClassRemoteAdmin, ClassDevTool, ClassBuildSystem, ClassUnknown}

// Classes returns every parent class, unknown last.
func Classes() []string { return append([]string(nil), classes...) }

// parentClasses maps a lower-case process base name (".exe" removed) to its class.
// Sources: Elastic "Suspicious .NET Code Compilation", "MSBuild Started by an Office
// Application", "Suspicious Web Server Child Process", "MSBuild Started by a System
// Process"; the LOLBAS project; MITRE AN1381 (development environments).
var parentClasses = map[string]string{
	// Script hosts and interpreters.
	"wscript": ClassScriptHost, "cscript": ClassScriptHost, "mshta": ClassScriptHost,
	"powershell": ClassScriptHost, "pwsh": ClassScriptHost, "powershell_ise": ClassScriptHost,
	"python": ClassScriptHost, "python3": ClassScriptHost, "perl": ClassScriptHost, "ruby": ClassScriptHost,
	"php": ClassScriptHost, "node": ClassScriptHost, "osascript": ClassScriptHost,
	// Office.
	"winword": ClassOffice, "excel": ClassOffice, "powerpnt": ClassOffice, "outlook": ClassOffice,
	"onenote": ClassOffice, "msaccess": ClassOffice, "mspub": ClassOffice, "eqnedt32": ClassOffice,
	"fltldr": ClassOffice, "visio": ClassOffice,
	// Signed binary proxies (LOLBins).
	"rundll32": ClassLOLBin, "regsvr32": ClassLOLBin, "cmstp": ClassLOLBin, "wmic": ClassLOLBin,
	"msiexec": ClassLOLBin, "installutil": ClassLOLBin, "regasm": ClassLOLBin, "regsvcs": ClassLOLBin,
	"certutil": ClassLOLBin, "bitsadmin": ClassLOLBin, "forfiles": ClassLOLBin, "pcalua": ClassLOLBin,
	"msxsl": ClassLOLBin, "odbcconf": ClassLOLBin, "hh": ClassLOLBin, "more": ClassLOLBin,
	// System services.
	"svchost": ClassSystemService, "services": ClassSystemService, "wmiprvse": ClassSystemService,
	"taskeng": ClassSystemService, "taskhostw": ClassSystemService, "winlogon": ClassSystemService,
	"spoolsv": ClassSystemService, "sdiagnhost": ClassSystemService, "systemd": ClassSystemService,
	"cron": ClassSystemService, "crond": ClassSystemService, "atd": ClassSystemService,
	"launchd": ClassSystemService, "init": ClassSystemService,
	// Web servers and application servers.
	"w3wp": ClassWebServer, "httpd": ClassWebServer, "apache2": ClassWebServer, "nginx": ClassWebServer,
	"php-fpm": ClassWebServer, "php-cgi": ClassWebServer, "lighttpd": ClassWebServer, "caddy": ClassWebServer,
	"gunicorn": ClassWebServer, "uwsgi": ClassWebServer, "iisexpress": ClassWebServer, "tomcat": ClassWebServer,
	// Shells.
	"cmd": ClassShell, "explorer": ClassShell, "sh": ClassShell, "bash": ClassShell, "dash": ClassShell,
	"zsh": ClassShell, "ksh": ClassShell, "fish": ClassShell, "tcsh": ClassShell, "csh": ClassShell,
	"busybox": ClassShell,
	// Remote administration.
	"wsmprovhost": ClassRemoteAdmin, "psexesvc": ClassRemoteAdmin, "winrshost": ClassRemoteAdmin,
	"sshd": ClassRemoteAdmin, "teamviewer": ClassRemoteAdmin, "anydesk": ClassRemoteAdmin,
	"screenconnect.clientservice": ClassRemoteAdmin, "mstsc": ClassRemoteAdmin,
	// Development tools (interactive).
	"devenv": ClassDevTool, "code": ClassDevTool, "rider64": ClassDevTool, "idea64": ClassDevTool,
	"idea": ClassDevTool, "clion": ClassDevTool, "servicehub.host.clr.x86": ClassDevTool,
	"servicehub.host.netfx.x86": ClassDevTool, "vsdbg": ClassDevTool, "xcodebuild": ClassDevTool,
	"xcode": ClassDevTool, "gopls": ClassDevTool, "vim": ClassDevTool, "nvim": ClassDevTool, "emacs": ClassDevTool,
	// Build systems, test runners and CI agents.
	"msbuild": ClassBuildSystem, "dotnet": ClassBuildSystem, "tracker": ClassBuildSystem, "make": ClassBuildSystem,
	"gmake": ClassBuildSystem, "cmake": ClassBuildSystem, "ninja": ClassBuildSystem, "bazel": ClassBuildSystem,
	"cargo": ClassBuildSystem, "gradle": ClassBuildSystem, "mvn": ClassBuildSystem, "nuget": ClassBuildSystem,
	"vstest.console": ClassBuildSystem, "testhost": ClassBuildSystem,
	"agent.worker": ClassBuildSystem, "agent.listener": ClassBuildSystem, // Azure Pipelines agent
	"runner.worker": ClassBuildSystem, "runner.listener": ClassBuildSystem, // GitHub Actions runner
	"gitlab-runner": ClassBuildSystem, "buildkite-agent": ClassBuildSystem, "jenkins": ClassBuildSystem,
	"teamcity-agent": ClassBuildSystem, "buildagent": ClassBuildSystem, // TeamCity
	"vbcscompiler": ClassBuildSystem, "go": ClassBuildSystem, "rustc": ClassBuildSystem,
	"gcc": ClassBuildSystem, "cc": ClassBuildSystem, "clang": ClassBuildSystem,
}

// ClassOf returns the parent class of a process from its image path or name: the
// lower-case base name without ".exe" is looked up; anything not listed is unknown.
func ClassOf(nameOrPath string) string {
	if c, ok := parentClasses[Stem(nameOrPath)]; ok {
		return c
	}
	return ClassUnknown
}

// ClassMembers returns the base names (without ".exe") listed under a class, sorted.
func ClassMembers(class string) []string {
	var out []string
	for n, c := range parentClasses {
		if c == class {
			out = append(out, n)
		}
	}
	sortStrings(out)
	return out
}

// BaseName returns the last element of a Windows or POSIX path, lower-cased.
func BaseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		p = p[i+1:]
	}
	return strings.ToLower(p)
}

// Stem is the lower-case base name without a trailing ".exe".
func Stem(p string) string {
	return strings.TrimSuffix(BaseName(p), ".exe")
}
