package compilelineage

import (
	"path"
	"strings"
	"testing"
)

// FuzzSharedCompilerCommandLine feeds telemetry command lines and working folders to the
// shared-compilation parsers: they never panic, a build's folders come from its working
// folder or its own arguments, only a process that names VBCSCompiler is a server, and only
// a command line with /shared is the server's client.
func FuzzSharedCompilerCommandLine(f *testing.F) {
	f.Add(`C:\Program Files\dotnet\dotnet.exe`, `dotnet build app\app.csproj -c Release`, `C:\src`)
	f.Add(`C:\Program Files\dotnet\dotnet.exe`, `dotnet.exe exec "C:\sdk\Roslyn\bincore\VBCSCompiler.dll" "-pipename:x"`, `C:\`)
	f.Add("/usr/bin/dotnet", "dotnet build /home/u/app -o /tmp/out", "/home/u")
	f.Fuzz(func(t *testing.T, image, cmdline, cwd string) {
		p := &Proc{Path: image, Cmdline: cmdline, Cwd: cwd}
		lc, lcwd := strings.ToLower(cmdline), strings.ToLower(strings.TrimRight(cwd, `\/`))
		args := strings.ToLower(strings.Join(append(SplitWindows(cmdline), SplitPOSIX(cmdline)...), " "))
		for _, d := range buildFolders(p) {
			ld := strings.ToLower(d)
			if !strings.HasPrefix(ld, lcwd) && !strings.HasPrefix(ld, path.Clean(lcwd)) && !strings.Contains(args, strings.ToLower(BaseName(d))) {
				t.Errorf("folder %q from neither the working folder %q nor the command line %q", d, cwd, cmdline)
			}
		}
		if sharedCompilerRule(image, cmdline) != nil && !strings.Contains(strings.ToLower(image+" "+cmdline), "vbcscompiler") {
			t.Errorf("%q %q taken for a compiler server", image, cmdline)
		}
		if sharedClient(p) && !strings.Contains(lc, "shared") {
			t.Errorf("%q taken for a /shared client", cmdline)
		}
		r := &sharedCompilerRules[0]
		folder, sep := folderForm(cwd)
		_ = r.outputDepth(strings.TrimRight(folder, sep)+sep, cmdline, sep)
	})
}
