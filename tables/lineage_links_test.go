package tables_test

import (
	"path/filepath"
	"testing"
)

// replayScenario replays a scenario fixture and checks its rows against want, in order.
func replayScenario(t *testing.T, fixture, order string, want []scenarioRow) []map[string]string {
	t.Helper()
	rows, _ := replayQuery(t, "SELECT * FROM compile_lineage ORDER BY "+order, filepath.Join("testdata", "scenarios", fixture+".json"))
	if len(rows) != len(want) {
		t.Fatalf("%s: %d rows, want %d: %v", fixture, len(rows), len(want), rows)
	}
	for i, w := range want {
		checkScenarioRow(t, i, rows[i], w)
	}
	return rows
}

// TestDarwinPIDReuse: on macOS, pid plus pidversion (es_process_events) is the process
// identity. Within one second a backgrounded gcc's shell (pid 700) and the gcc itself
// (pid 710) exit and both pids are reused by a LaunchAgent's bash and its clang. The reused
// processes must neither take the compile's parent nor its artifact, and the compile keeps
// its own parent, its ld helper's write and the run of what it built. pidversion comes from
// one counter that grows at every fork and is kept across exec (XNU bsd/kern/kern_fork.c,
// forkproc: p_idversion = OSIncrementAtomic(&nextpidversion); exec copies it).
func TestDarwinPIDReuse(t *testing.T) {
	rows := replayScenario(t, "darwin_pid_reuse", "time, compiler_guid", []scenarioRow{
		{compiler: "gcc", parent: "zsh", ancestry: "terminal > zsh > gcc", stage: "executed", output: "/Users/amy/bin/tool",
			executions: "1", connections: "0", evidence: []string{"write:pid", "exec:path"}},
		{compiler: "clang", parent: "bash", ancestry: "bash > clang", stage: "compile", output: "/Users/Shared/sync/agent",
			executions: "0", connections: "0"},
	})
	if g := rows[0]["compiler_guid"]; g != "es_process_events:710:5001#102" {
		t.Errorf("gcc's key %q, want pid:pidversion#global_seq_num", g)
	}
	if rows[1]["link_evidence"] != "" || rows[1]["output_source"] != "cmdline" {
		t.Errorf("the reused pid's clang inherited: link_evidence %q output_source %q", rows[1]["link_evidence"], rows[1]["output_source"])
	}
}

// TestSharedCompilerReplay: Roslyn's shared compilation, through the harness over Thrift.
// Process shapes from Roslyn's docs/compilers/Compiler Server.md (the Csc task starts
// VBCSCompiler.exe and hands it the command line; the server lives on, keepalive 600 s) and
// BuildServerConnection.GetServerProcessInfo (.NET SDK: dotnet exec "...\VBCSCompiler.dll"
// "-pipename:<name>"). The first `dotnet build` (lib) starts the server; the second (app) is
// served by it though the server is no child of its own; Visual Studio's MSBuild is served by
// a VBCSCompiler.exe started before the buffer, and the tool it built runs an hour later. A
// server write after every build ended is nobody's.
func TestSharedCompilerReplay(t *testing.T) {
	shared := []string{"write:shared_compiler:vbcscompiler"}
	rows := replayScenario(t, "windows_vbcscompiler_shared", "time, compiler_pid", []scenarioRow{
		{compiler: "dotnet.exe", parent: "cmd.exe", stage: "written", suspicious: "0", output: `C:\src\lib\obj\Debug\net8.0\lib.dll`, evidence: shared},
		{compiler: "dotnet.exe", parent: "cmd.exe", stage: "written", suspicious: "0", output: `C:\src\app\obj\Debug\net8.0\app.dll`, evidence: shared},
		{compiler: "msbuild.exe", parent: "cmd.exe", stage: "executed", suspicious: "0", output: `C:\src\tool\obj\Release\tool.exe`,
			executions: "1", evidence: append(shared, "exec:path")},
	})
	if rows[2]["first_exec_time"] != "1764403660" {
		t.Errorf("tool first run %s, want 1764403660", rows[2]["first_exec_time"])
	}
}

// TestSharedCompilerReplayPOSIX: the .NET SDK's server on Linux (audit) and macOS
// (EndpointSecurity): `dotnet exec .../VBCSCompiler.dll -pipename:<name>`, started by the
// lib build, writes the app build's apphost under obj/, which runs ten minutes later.
func TestSharedCompilerReplayPOSIX(t *testing.T) {
	for _, tt := range []struct{ fixture, out string }{
		{"linux_vbcscompiler_shared", "/home/dev/src/app/obj/Debug/net8.0/app"},
		{"darwin_vbcscompiler_shared", "/Users/dev/src/app/obj/Debug/net8.0/app"},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			rows := replayScenario(t, tt.fixture, "time, compiler_pid", []scenarioRow{
				{compiler: "dotnet", stage: "compile", executions: "0"},
				{compiler: "dotnet", stage: "executed", output: tt.out, executions: "1",
					evidence: []string{"write:shared_compiler:vbcscompiler", "exec:path"}},
			})
			if rows[0]["link_evidence"] != "" {
				t.Errorf("the lib build took a write: %s", rows[0]["link_evidence"])
			}
		})
	}
}

// TestSharedClientReplay: `csc /shared` (Roslyn docs/compilers/Compiler Server.md: csc only
// forwards the command line, the server compiles) from a hidden PowerShell; the write of the
// output is VBCSCompiler.exe's, yet the compile keeps its artifact, its run and its connection.
func TestSharedClientReplay(t *testing.T) {
	replayScenario(t, "windows_csc_shared", "time, compiler_pid", []scenarioRow{
		{compiler: "csc.exe", parent: "powershell.exe", stage: "network", suspicious: "1", output: `C:\Users\Public\upd.exe`,
			origin: "artifact", executions: "1", connections: "1", reasons: []string{"temp_output", "temp_source"},
			evidence: []string{"write:shared_compiler:vbcscompiler", "exec:path", "net:artifact_guid"}},
	})
}
