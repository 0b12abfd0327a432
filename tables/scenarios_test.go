package tables_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// scenarioRow is what a detection engineer expects of one compile_lineage row of a scenario.
type scenarioRow struct {
	compiler, parent, ancestry, stage, suspicious, output, origin, user string
	executions, connections                                             string
	reasons, notReasons, evidence                                       []string
}

// TestScenarios replays attack and routine-build scenarios through the harness over Thrift,
// one fixture per scenario under testdata/scenarios, built from the public sources named.
func TestScenarios(t *testing.T) {
	tests := []struct {
		file, source string
		rows         []scenarioRow
	}{
		{"windows_regsvr32_dll", "Atomic Red Team T1218.010 (regsvr32 /s of a DLL); LOLBAS Regsvr32", []scenarioRow{
			{compiler: "csc.exe", parent: "cmd.exe", stage: "network", suspicious: "1", output: `C:\Users\Public\sct.dll`, origin: "artifact",
				executions: "1", connections: "1", reasons: []string{"temp_output", "user_space_parent_non_dev"},
				evidence: []string{"exec:proxy:regsvr32", "net:artifact_guid"}},
		}},
		{"windows_image_load", "Sysmon event 7: a compiled DLL loaded by a PowerShell older than the buffer ([Reflection.Assembly]::LoadFile)", []scenarioRow{
			{compiler: "csc.exe", parent: "powershell.exe", stage: "network", suspicious: "1", output: `C:\Users\u\AppData\Local\Temp\inj.dll`,
				origin: "artifact", executions: "1", connections: "1", evidence: []string{"exec:image_load", "net:artifact_guid"}},
		}},
		{"windows_aspnet_recycle", "ASP.NET compiles pages into Temporary ASP.NET Files after an app-pool recycle (Microsoft Learn)", []scenarioRow{
			{compiler: "csc.exe", parent: "w3wp.exe", stage: "written", suspicious: "0", user: `IIS APPPOOL\DefaultAppPool`,
				evidence: []string{"quiet:aspnet_recycle"}, notReasons: []string{"parent_web_server"}},
		}},
		{"windows_aspnet_webshell", "Microsoft, Web shell attacks continue to rise (2021): w3wp writes an .aspx, then compiles it", []scenarioRow{
			{compiler: "csc.exe", parent: "w3wp.exe", stage: "written", suspicious: "1",
				reasons: []string{"web_page_written_by_server", "parent_web_server"}},
		}},
		{"windows_msbuild_rsp", "Visual Studio build: MSBuild hands csc %TEMP%\\MSBuildTemp<user>\\tmp<hex>.rsp (dotnet/msbuild ToolTask)", []scenarioRow{
			{compiler: "msbuild.exe", parent: "devenv.exe", stage: "written", suspicious: "0"},
			{compiler: "csc.exe", parent: "msbuild.exe", stage: "written", suspicious: "0", evidence: []string{"scratch:msbuild_rsp"},
				notReasons: []string{"temp_source"}},
		}},
		{"windows_pwsh_addtype", "PowerShell 7 Add-Type compiles with Roslyn in process (Sysmon 7 Microsoft.CodeAnalysis.CSharp.dll), then the host runs cmd and connects 25 minutes later", []scenarioRow{
			{compiler: "pwsh.exe", parent: "pwsh.exe", ancestry: "explorer.exe > pwsh.exe > pwsh.exe", stage: "network", suspicious: "1", origin: "parent",
				connections: "1", reasons: []string{"user_space_parent_non_dev"}, notReasons: []string{"renamed_compiler"}, evidence: []string{"net:parent_guid"}},
		}},
		{"linux_ldso_noexec", "GTFOBins ld.so; noexec /dev/shm bypass by a PHP webshell (php-fpm8.2 worker older than the buffer, www-data)", []scenarioRow{
			{compiler: "gcc", parent: "dash", ancestry: "php-fpm8.2 > dash > gcc", stage: "network", suspicious: "1", output: "/dev/shm/x",
				origin: "artifact", user: "www-data", executions: "1", connections: "1",
				reasons: []string{"parent_web_server", "temp_output"}, evidence: []string{"exec:proxy:ld_so", "net:artifact_pid"}},
		}},
		{"linux_insmod_module", "Atomic Red Team T1547.006: a kernel module built (x86_64-linux-gnu-ld.bfd) and insmod-ed", []scenarioRow{
			{compiler: "x86_64-linux-gnu-ld.bfd", parent: "make", stage: "executed", suspicious: "1", output: "/tmp/rk/rk.ko", executions: "1",
				reasons: []string{"temp_output"}, evidence: []string{"exec:proxy:insmod"}},
		}},
		{"linux_pip_build", "pip install of a C extension from source (pip temp_dir kinds)", []scenarioRow{
			{compiler: "x86_64-linux-gnu-gcc", parent: "python3.11", stage: "compile", suspicious: "0", evidence: []string{"scratch:pip_build"}},
			{compiler: "x86_64-linux-gnu-gcc", parent: "python3.11", stage: "written", suspicious: "0", connections: "0",
				evidence: []string{"scratch:pip_build", "net:build_tool_fetch"}},
		}},
		{"linux_go_modules", "go build downloading modules from proxy.golang.org", []scenarioRow{
			{compiler: "go", stage: "written", suspicious: "0", output: "/home/u/bin/app", connections: "0", evidence: []string{"net:build_tool_fetch"}},
		}},
		{"darwin_osacompile_app", "Red Canary Atomic T1059.002 (osacompile an applet, open it); per-user temp /var/folders/*/*/T", []scenarioRow{
			{compiler: "osacompile", parent: "zsh", stage: "executed", suspicious: "1", output: "/var/folders/x7/k2l_9b0s1qz4/T/upd.app",
				executions: "2", reasons: []string{"temp_output", "temp_source"}, evidence: []string{"exec:bundle", "exec:proxy:open"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rows, _ := replayQuery(t, "SELECT * FROM compile_lineage ORDER BY time, compiler_pid", filepath.Join("testdata", "scenarios", tt.file+".json"))
			if len(rows) != len(tt.rows) {
				t.Fatalf("%s: %d rows, want %d: %v", tt.source, len(rows), len(tt.rows), rows)
			}
			for i, w := range tt.rows {
				checkScenarioRow(t, i, rows[i], w)
			}
		})
	}
}

func checkScenarioRow(t *testing.T, i int, r map[string]string, w scenarioRow) {
	t.Helper()
	for col, want := range map[string]string{"compiler_name": w.compiler, "parent_name": w.parent, "ancestry": w.ancestry, "stage": w.stage,
		"suspicious": w.suspicious, "output_path": w.output, "connection_origin": w.origin, "compiler_user": w.user,
		"executions": w.executions, "connections": w.connections} {
		if want != "" && r[col] != want {
			t.Errorf("row %d: %s = %q, want %q", i, col, r[col], want)
		}
	}
	checkLists(t, i, r, w.reasons, w.notReasons, w.evidence)
}

// checkLists checks a row's reasons (held and not held) and link evidence.
func checkLists(t *testing.T, i int, r map[string]string, reasons, notReasons, evidence []string) {
	t.Helper()
	for _, reason := range reasons {
		if !contains(r["reasons"], reason) {
			t.Errorf("row %d: reasons %q lack %s", i, r["reasons"], reason)
		}
	}
	for _, reason := range notReasons {
		if contains(r["reasons"], reason) {
			t.Errorf("row %d: reasons %q hold %s", i, r["reasons"], reason)
		}
	}
	for _, e := range evidence {
		if !contains(r["link_evidence"], e) {
			t.Errorf("row %d: link_evidence %q lacks %s", i, r["link_evidence"], e)
		}
	}
}

// ciAgent writes a GitHub Actions runner building a C project: Runner.Worker > bash > make >
// n gcc compiles, each with its cc1/as/collect2/ld chain, objects and binaries in the work tree.
func ciAgent(t *testing.T, n int) string {
	t.Helper()
	const start = 1764300000
	var procs, files []map[string]string
	pid := 2000
	proc := func(parent, at int, path, cmdline string) int {
		pid++
		procs = append(procs, map[string]string{"pid": strconv.Itoa(pid), "parent": strconv.Itoa(parent), "path": path, "cmdline": cmdline,
			"cwd": "/home/runner/work/app/app", "uid": "1001", "auid": "1001", "time": strconv.Itoa(start + at), "syscall": "execve"})
		return pid
	}
	worker := proc(1, 0, "/home/runner/actions-runner/bin/Runner.Worker", "Runner.Worker spawnclient 110 113")
	shell := proc(worker, 1, "/usr/bin/bash", "/usr/bin/bash -e /home/runner/work/_temp/step.sh")
	mk := proc(shell, 1, "/usr/bin/make", "make -j2")
	for i := range n {
		at := 2 + i/10
		out := fmt.Sprintf("/home/runner/work/app/app/build/t%d", i)
		gcc := proc(mk, at, "/usr/bin/gcc", fmt.Sprintf("gcc -O2 -o %s src/t%d.c", out, i))
		proc(gcc, at, "/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "cc1 src/t.c")
		proc(gcc, at, "/usr/bin/as", "as -o /tmp/cc1.o")
		c2 := proc(gcc, at, "/usr/libexec/gcc/x86_64-linux-gnu/12/collect2", "collect2 -o "+out)
		ld := proc(c2, at, "/usr/bin/ld", "ld -o "+out)
		files = append(files, map[string]string{"operation": "write", "pid": strconv.Itoa(ld), "ppid": strconv.Itoa(c2),
			"time": strconv.Itoa(start + at), "executable": "/usr/bin/ld", "path": out, "cwd": "/home/runner/work/app/app"})
		if i%4 == 0 { // the test step runs some of them
			proc(mk, at+1, out, out+" --selftest")
		}
	}
	data, err := json.Marshal(map[string]any{"process_events": procs, "process_file_events": files})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ci.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCIAgentStaysQuiet: hundreds of routine compiles on a CI runner give one row each, all
// linked (written, and executed where the test step ran them), none suspicious.
func TestCIAgentStaysQuiet(t *testing.T) {
	const n = 300
	rows, st := replayQuery(t, "SELECT stage, suspicious, reasons FROM compile_lineage", ciAgent(t, n))
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	stages := map[string]int{}
	for _, r := range rows {
		stages[r["stage"]]++
		if r["suspicious"] != "0" {
			t.Errorf("routine CI compile flagged: %v", r)
		}
	}
	if stages["executed"] != n/4 || stages["written"] != n-n/4 {
		t.Errorf("stages %v, want %d executed and %d written", stages, n/4, n-n/4)
	}
	if st.Queries > 12 {
		t.Errorf("%d queries for one generate: the lookups must ride on the same passes", st.Queries)
	}
}

// TestLiveParentNeverAReusedPID: the live process holding the parent's pid started after the
// compile, so it is another process: it is not taken as the parent.
func TestLiveParentNeverAReusedPID(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "scenarios", "linux_ldso_noexec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx map[string][]map[string]string
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	fx["processes"][0]["start_time"] = "1764200100" // after the compile at 1764200001
	fx["processes"][0]["path"] = "/usr/bin/unrelated"
	out, err := json.Marshal(fx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reused.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	rows, _ := replayQuery(t, "SELECT ancestry, compiler_user, reasons FROM compile_lineage", path)
	if len(rows) != 1 || rows[0]["ancestry"] != "dash > gcc" || !contains(rows[0]["reasons"], "parent_web_server") {
		t.Fatalf("rows %v: want ancestry dash > gcc (no reused-pid parent), still a web-server compile by its user", rows)
	}
}
