package compilelineage

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// The process shape of Roslyn's shared compilation (docs/compilers/Compiler Server.md,
// BuildServerConnection.GetServerProcessInfo): the Csc task of MSBuild or the .NET SDK starts
// VBCSCompiler.exe "-pipename:<name>" (the SDK: dotnet exec "...\VBCSCompiler.dll"
// "-pipename:<name>"), which lives on for 600 s after its last compile and serves every build
// of the user; it writes obj\ outputs itself.
const (
	dotnetExe = `C:\Program Files\dotnet\dotnet.exe`
	vbcsExe   = `C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\Roslyn\VBCSCompiler.exe`
	vbcsDLL   = `C:\Program Files\dotnet\sdk\8.0.100\Roslyn\bincore\VBCSCompiler.dll`
	appObj    = `C:\src\app\obj\Debug\net8.0\app.dll`
	libObj    = `C:\src\lib\obj\Debug\net8.0\lib.dll`
)

// vbcsServer is a VBCSCompiler.exe another build started 4 minutes before.
func vbcsServer() Proc {
	return win("{s}", "{old}", -240, vbcsExe, `"`+vbcsExe+`" "-pipename:u.F.MW9E3dnrZddlsgI8MNFfpJyup"`)
}

// dotnetBuild is `dotnet build [args]` in folder, started from cmd.
func dotnetBuild(key string, sec float64, folder, args string) Proc {
	return withCwd(win(key, "{cmd}", sec, dotnetExe, "dotnet build"+args), folder)
}

func serverWrite(path string, sec float64) FileEvent {
	return FileEvent{ProcKey: "{s}", Path: path, Time: at(sec), Source: "sysmon"}
}

func sharedEv(procs []Proc, files ...FileEvent) Events {
	cmd := win("{cmd}", "", -600, windowsSystem32+"cmd.exe", "cmd.exe")
	return winEv(append([]Proc{cmd}, procs...), files, nil)
}

func TestSharedCompilerWrites(t *testing.T) {
	const ev0 = "write:shared_compiler:vbcscompiler"
	tests := []struct {
		name  string
		ev    Events
		build string // key of the build judged
		out   string // its artifact, "" for none written
		via   string // the link evidence of the write, when not write:shared_compiler:vbcscompiler
	}{
		{"server write under the build's obj", sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(appObj, 3)),
			"{b}", appObj, ""},
		{"project path on the command line", sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\Users\u`, ` C:\src\app\app.csproj -c Release`)},
			serverWrite(appObj, 3)), "{b}", appObj, ""},
		{"no build on that folder", sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(libObj, 3)),
			"{b}", "", ""},
		{"write after the build's window", sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(appObj, 1+6*60)),
			"{b}", "", ""},
		{"write before the build started", sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 60, `C:\src\app`, "")}, serverWrite(appObj, 30)),
			"{b}", "", ""},
		{"in the folder but not beneath obj or bin", sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, "")},
			serverWrite(`C:\src\app\tools\app.dll`, 3)), "{b}", "", ""},
		{"two builds, other folder: the lib build gets its write", sharedEv([]Proc{vbcsServer(), dotnetBuild("{a}", 1, `C:\src\app`, ""),
			dotnetBuild("{l}", 1.5, `C:\src\lib`, "")}, serverWrite(libObj, 3)), "{l}", libObj, ""},
		{"two builds, other folder: the app build does not", sharedEv([]Proc{vbcsServer(), dotnetBuild("{a}", 1, `C:\src\app`, ""),
			dotnetBuild("{l}", 1.5, `C:\src\lib`, "")}, serverWrite(libObj, 3)), "{a}", "", ""},
		{"two builds on the same folder: ambiguous", sharedEv([]Proc{vbcsServer(), dotnetBuild("{a}", 1, `C:\src\app`, ""),
			dotnetBuild("{l}", 1.5, `C:\src\app`, "")}, serverWrite(appObj, 3)), "{a}", "", ""},
		{"solution and project builds: the deepest folder", sharedEv([]Proc{vbcsServer(), dotnetBuild("{a}", 1, `C:\src`, ` all.sln`),
			dotnetBuild("{p}", 1.5, `C:\src\app`, "")}, serverWrite(appObj, 3)), "{p}", appObj, ""},
		{"solution build owns its projects' obj", sharedEv([]Proc{vbcsServer(), dotnetBuild("{a}", 1, `C:\src`, ` all.sln`)},
			serverWrite(appObj, 3)), "{a}", appObj, ""},
		{"server the first build started serves the second", sharedEv([]Proc{dotnetBuild("{a}", 1, `C:\src\app`, ""),
			win("{s}", "{a}", 2, vbcsExe, `"`+vbcsExe+`" "-pipename:x"`), dotnetBuild("{l}", 3, `C:\src\lib`, "")},
			serverWrite(libObj, 4)), "{l}", libObj, ""},
		{"the first build does not take it for having started the server", sharedEv([]Proc{dotnetBuild("{a}", 1, `C:\src\app`, ""),
			win("{s}", "{a}", 2, vbcsExe, `"`+vbcsExe+`" "-pipename:x"`), dotnetBuild("{l}", 3, `C:\src\lib`, "")},
			serverWrite(libObj, 4)), "{a}", "", ""},
		{".NET SDK form: dotnet exec VBCSCompiler.dll", sharedEv([]Proc{win("{s}", "{old}", -100, dotnetExe, `dotnet.exe exec "`+vbcsDLL+`" "-pipename:x"`),
			dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(appObj, 3)), "{b}", appObj, ""},
		{"server start outside the buffer: the image Sysmon 11 names", sharedEv([]Proc{dotnetBuild("{b}", 1, `C:\src\app`, "")},
			FileEvent{ProcKey: "{gone}", Image: vbcsExe, Path: appObj, Time: at(3), Source: "sysmon"}), "{b}", appObj, ""},
		{"another dotnet process is no server", sharedEv([]Proc{win("{s}", "{old}", -100, dotnetExe, `dotnet.exe C:\tools\gen.dll`),
			dotnetBuild("{b}", 1, `C:\src\app`, "")}, serverWrite(appObj, 3)), "{b}", "", ""},
		{"build without a working folder keeps its own server's writes", sharedEv([]Proc{withCwd(dotnetBuild("{b}", 1, "", ""), ""),
			win("{s}", "{b}", 2, vbcsExe, `"`+vbcsExe+`" "-pipename:x"`)}, serverWrite(appObj, 3)), "{b}", appObj, "write:process_guid"},
		{"csc /shared: the server writes the output the client names", sharedEv([]Proc{vbcsServer(),
			win("{c}", "{cmd}", 1, fw+"csc.exe", fw+`csc.exe /shared /out:C:\Users\Public\x.exe C:\Users\Public\x.cs`)},
			serverWrite(`C:\Users\Public\x.exe`, 2)), "{c}", `C:\Users\Public\x.exe`, ""},
		{"csc /shared: another path the server writes is not the client's", sharedEv([]Proc{vbcsServer(),
			win("{c}", "{cmd}", 1, fw+"csc.exe", fw+`csc.exe /shared /out:C:\Users\Public\x.exe C:\Users\Public\x.cs`)},
			serverWrite(`C:\Users\Public\y.exe`, 2)), "{c}", "", ""},
		{"csc without /shared compiles itself: the server's write of that path is not its", sharedEv([]Proc{vbcsServer(),
			win("{c}", "{cmd}", 1, fw+"csc.exe", fw+`csc.exe /out:C:\Users\Public\x.exe C:\Users\Public\x.cs`)},
			serverWrite(`C:\Users\Public\x.exe`, 2)), "{c}", "", ""},
		{"a server csc /shared started is no child of its for other writes", sharedEv([]Proc{
			win("{c}", "{cmd}", 1, fw+"csc.exe", fw+`csc.exe /shared /out:C:\Users\Public\x.exe C:\Users\Public\x.cs`),
			win("{s}", "{c}", 1.5, vbcsExe, `"`+vbcsExe+`" "-pipename:x"`)}, serverWrite(`C:\Users\Public\other.dll`, 3)), "{c}", "", ""},
		{"msbuild /nodemode has no folder of its own", sharedEv([]Proc{vbcsServer(),
			withCwd(win("{b}", "{cmd}", 1, vsMSB, `MSBuild.exe /nologo /nodemode:1 /nodeReuse:true`), `C:\src\app`)}, serverWrite(appObj, 3)), "{b}", "", ""},
		{"Linux: dotnet VBCSCompiler.dll by pid", nixEv("linux", []Proc{
			nix(100, 1, -600, "/bin/bash", "bash", "/home/u/app"),
			nix(200, 1, -100, "/usr/lib/dotnet/dotnet", "/usr/lib/dotnet/dotnet /usr/lib/dotnet/sdk/8.0.100/Roslyn/bincore/VBCSCompiler.dll -pipename:u.x", "/"),
			{Key: "b", PID: 300, PPID: 100, Path: "/usr/lib/dotnet/dotnet", Cmdline: "dotnet build", Cwd: "/home/u/app", Time: at(1), Source: "process_events"}},
			[]FileEvent{{PID: 200, Path: "/home/u/app/obj/Debug/net8.0/app.dll", Time: at(3), Source: "process_file_events"}}, nil),
			"b", "/home/u/app/obj/Debug/net8.0/app.dll", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l *Lineage
			for _, x := range Correlate(&tt.ev, Params{}) {
				if x.Compiler.Key == tt.build {
					l = &x
				}
			}
			if l == nil {
				t.Fatalf("no lineage of %s", tt.build)
			}
			got := ""
			if l.Written {
				got = l.OutputPath
			}
			via := ev0
			if tt.via != "" {
				via = tt.via
			}
			if got != tt.out || (tt.out != "") != slices.Contains(l.Evidence, via) {
				t.Errorf("written %q evidence %v, want %q (by %s: %v)", got, l.Evidence, tt.out, via, tt.out != "")
			}
		})
	}
}

// TestSharedCompilerArtifactRuns: an artifact the server wrote for the build, run later from
// where it was written, takes the build to stage executed.
func TestSharedCompilerArtifactRuns(t *testing.T) {
	exe := `C:\src\app\obj\Debug\app.exe`
	ev := sharedEv([]Proc{vbcsServer(), dotnetBuild("{b}", 1, `C:\src\app`, ""), win("{x}", "{cmd}", 3600, exe, "app.exe")}, serverWrite(exe, 3))
	l := lineageOf(t, ev, "dotnet.exe")
	if l.Stage != "executed" || l.Executions != 1 || l.FirstExecTime != at(3600) || !slices.Contains(l.Evidence, "exec:path") {
		t.Errorf("stage %s executions %d first %v evidence %v", l.Stage, l.Executions, l.FirstExecTime, l.Evidence)
	}
	if got := l.FirstExecTime.Sub(l.WrittenTime); got != 3597*time.Second {
		t.Errorf("written %v, run %v", l.WrittenTime, l.FirstExecTime)
	}
}

func TestBuildFolders(t *testing.T) {
	tests := []struct {
		path, cmdline, cwd string
		want               []string
	}{
		{dotnetExe, "dotnet build", `C:\src\app\`, []string{`C:\src\app`}},
		{dotnetExe, `dotnet build app\app.csproj -c Release`, `C:\src`, []string{`C:\src\app`}},
		{dotnetExe, `dotnet msbuild C:\src\all.sln /t:Build`, `C:\Users\u`, []string{`C:\src`}},
		{dotnetExe, `dotnet build C:\src\app`, `C:\Users\u`, []string{`C:\src\app`}},
		{vsMSB, `MSBuild.exe /nodemode:1 /nodeReuse:true`, `C:\src\app`, nil},
		{"/usr/bin/dotnet", "dotnet build /home/u/app/app.csproj", "/tmp", []string{"/home/u/app"}},
		{"/usr/bin/dotnet", "dotnet build", "-", nil},
	}
	for _, tt := range tests {
		if got := buildFolders(&Proc{Path: tt.path, Cmdline: tt.cmdline, Cwd: tt.cwd}); !slices.Equal(got, tt.want) {
			t.Errorf("%s in %s: %q, want %q", tt.cmdline, tt.cwd, got, tt.want)
		}
	}
}

func TestSharedCompilerRuleOf(t *testing.T) {
	for _, tt := range []struct {
		path, cmdline string
		server        bool
	}{
		{vbcsExe, `"` + vbcsExe + `" "-pipename:x"`, true},
		{dotnetExe, `dotnet.exe exec "` + vbcsDLL + `" "-pipename:x"`, true},
		{"/usr/share/dotnet/dotnet", "dotnet /usr/share/dotnet/sdk/8.0.100/Roslyn/bincore/VBCSCompiler.dll -pipename:x", true},
		{dotnetExe, `dotnet.exe exec "C:\sdk\csc.dll" /out:a.exe a.cs`, false},
		{dotnetExe, "dotnet build", false},
		{windowsSystem32 + "cmd.exe", `cmd /c VBCSCompiler.dll`, false},
	} {
		if got := sharedCompilerRule(tt.path, tt.cmdline) != nil; got != tt.server {
			t.Errorf("%s: server %v, want %v", tt.cmdline, got, tt.server)
		}
	}
}

// sqlLog records the SQL a source sends and answers nothing.
type sqlLog []string

func (l *sqlLog) QueryRowsContext(_ context.Context, sql string) ([]map[string]string, error) {
	*l = append(*l, sql)
	return nil, nil
}

// TestSysmonFilesAskForServerWrites: the Sysmon file query adds the server's writes, by
// image, to its one time-bounded scan, and only when a build or a /shared client is among
// the processes.
func TestSysmonFilesAskForServerWrites(t *testing.T) {
	server := strings.ToLower(textLit(`\vbcscompiler.exe`))
	for _, tt := range []struct {
		name  string
		procs []Proc
		want  bool
	}{
		{"a build", []Proc{dotnetBuild("{b}", 1, `C:\src\app`, "")}, true},
		{"csc only", []Proc{win("{c}", "", 1, fw+"csc.exe", "csc.exe a.cs")}, false},
		{"csc /shared", []Proc{win("{c}", "", 1, fw+"csc.exe", "csc.exe /shared /out:a.exe a.cs")}, true},
	} {
		var log sqlLog
		if _, err := (sysmon{}).files(context.Background(), &log, tt.procs, nil, 100, 200); err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || strings.Contains(strings.ToLower(log[0]), server) != tt.want || !strings.Contains(log[0], "time >= 100 AND time <= 200") {
			t.Errorf("%s: %v", tt.name, log)
		}
	}
}
