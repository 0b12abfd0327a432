package compilelineage

import (
	"strings"
	"testing"
)

// FuzzSharedCompilerCommandLine feeds telemetry command lines and working folders to the
// shared-compilation parsers: they never panic, a build's folders come from its working
// folder or its own arguments, and only a process that names VBCSCompiler is a server.
func FuzzSharedCompilerCommandLine(f *testing.F) {
	f.Add(`C:\Program Files\dotnet\dotnet.exe`, `dotnet build app\app.csproj -c Release`, `C:\src`)
	f.Add(`C:\Program Files\dotnet\dotnet.exe`, `dotnet.exe exec "C:\sdk\Roslyn\bincore\VBCSCompiler.dll" "-pipename:x"`, `C:\`)
	f.Add("/usr/bin/dotnet", "dotnet build /home/u/app -o /tmp/out", "/home/u")
	f.Fuzz(func(t *testing.T, path, cmdline, cwd string) {
		p := &Proc{Path: path, Cmdline: cmdline, Cwd: cwd}
		lc, lcwd := strings.ToLower(cmdline), strings.ToLower(strings.TrimRight(cwd, `\/`))
		for _, d := range buildFolders(p) {
			ld := strings.ToLower(d)
			if !strings.HasPrefix(ld, lcwd) && !strings.Contains(lc, strings.ToLower(BaseName(d))) {
				t.Errorf("folder %q from neither the working folder %q nor the command line %q", d, cwd, cmdline)
			}
		}
		if sharedCompilerRule(path, cmdline) != nil && !strings.Contains(strings.ToLower(path+" "+cmdline), "vbcscompiler") {
			t.Errorf("%q %q taken for a compiler server", path, cmdline)
		}
		r := &sharedCompilerRules[0]
		folder, sep := folderForm(cwd)
		_ = r.outputDepth(strings.TrimRight(folder, sep)+sep, cmdline, sep)
	})
}
