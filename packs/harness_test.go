package packs

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/extension/replay"
)

// FallbackColumns is the column convention of every fallback query (the correlator scores these rows).
var FallbackColumns = []string{"time", "compiler_pid", "compiler_path", "compiler_name", "compiler_cmdline",
	"parent_pid", "parent_path", "parent_name", "parent_cmdline", "compiler_user", "fallback"}

// startHarness starts the replay harness (fake osquery core + the real extension over Thrift) on fixture files.
func startHarness(t testing.TB, files ...string) *replay.Harness {
	t.Helper()
	fx, err := replay.LoadFixtures(files...)
	if err != nil {
		t.Fatalf("load fixtures %v: %v", files, err)
	}
	return startHarnessFixtures(t, fx)
}

func startHarnessFixtures(t testing.TB, fx *replay.Fixtures) *replay.Harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := replay.Start(ctx, replay.Options{Fixtures: fx})
	if err != nil {
		t.Fatalf("start replay harness: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close harness: %v", err)
		}
	})
	return h
}

func queryByName(t testing.TB, name string) Query {
	t.Helper()
	for _, q := range mustEmbedded(t) {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("no query named %s", name)
	return Query{}
}

func run(t testing.TB, h *replay.Harness, q Query) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := h.Query(ctx, q.SQL)
	if err != nil {
		t.Fatalf("%s: %v", q.Name, err)
	}
	// Deterministic order: compiler pid, then time, then signal (compile_telemetry_gaps).
	slices.SortStableFunc(rows, func(a, b map[string]string) int {
		if c := atoiOr(a["compiler_pid"], -1) - atoiOr(b["compiler_pid"], -1); c != 0 {
			return c
		}
		if c := atoiOr(a["time"], -1) - atoiOr(b["time"], -1); c != 0 {
			return c
		}
		return strings.Compare(a["signal"], b["signal"])
	})
	return rows
}

// want is the subset of columns a result row must have; "*" means any non-empty value.
type want map[string]string

func checkRows(t *testing.T, got []map[string]string, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d rows, want %d: %v", len(got), len(wants), got)
	}
	for i, w := range wants {
		for col, v := range w {
			g, ok := got[i][col]
			switch {
			case !ok:
				t.Errorf("row %d: no column %s", i, col)
			case v == "*" && g == "":
				t.Errorf("row %d: %s is empty", i, col)
			case strings.HasPrefix(v, ">=") && atoiOr(g, -1) < atoiOr(v[2:], 0):
				t.Errorf("row %d: %s = %q, want %s", i, col, g, v)
			case strings.HasPrefix(v, "~") && !strings.Contains(g, v[1:]):
				t.Errorf("row %d: %s = %q, want it to contain %q", i, col, g, v[1:])
			case v != "*" && !strings.HasPrefix(v, ">=") && !strings.HasPrefix(v, "~") && g != v:
				t.Errorf("row %d: %s = %q, want %q", i, col, g, v)
			}
		}
	}
}

func atoiOr(s string, d int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return d
	}
	return n
}

const t0 = 1764000000

func ts(d int) string { return strconv.Itoa(t0 + d) }

// TestQueriesOnFixtures runs every query as SQL in the replay harness: on a fixture where it must return
// rows (asserted) and on one where it must return none (developer and CI builds, or no compiles at all).
func TestQueriesOnFixtures(t *testing.T) {
	t.Parallel()
	fix := func(n string) string { return filepath.Join("testdata", n+".json") }
	wsAlice := "CORP\\alice"
	tests := []struct {
		query   string
		fixture string
		want    []want
	}{
		// Extension-free fallbacks (exact rows).
		{"fallback_elastic_dotnet_parent_etw", "windows_etw_attack", []want{
			{"time": ts(12), "compiler_pid": "2100", "compiler_name": "csc.exe", "parent_pid": "2000",
				"parent_name": "wscript.exe", "parent_path": "C:\\Windows\\System32\\wscript.exe",
				"compiler_user": wsAlice, "fallback": "elastic_dotnet_parent",
				"compiler_cmdline": "~/out:C:\\Users\\Public\\upd.exe"},
			{"time": ts(40), "compiler_pid": "4100", "compiler_name": "csc.exe", "parent_pid": "700",
				"parent_name": "svchost.exe", "parent_cmdline": "~-k netsvcs", "compiler_user": "NT AUTHORITY\\SYSTEM",
				"fallback": "elastic_dotnet_parent"},
		}},
		{"fallback_elastic_dotnet_parent_etw", "windows_etw_benign", nil},
		{"fallback_elastic_dotnet_parent_sysmon", "windows_sysmon_attack", []want{
			{"time": ts(12), "compiler_pid": "2100", "compiler_name": "csc.exe", "parent_pid": "2000",
				"parent_name": "wscript.exe", "compiler_user": wsAlice, "fallback": "elastic_dotnet_parent"},
			{"time": ts(40), "compiler_pid": "4100", "compiler_name": "csc.exe", "parent_pid": "700",
				"parent_name": "svchost.exe", "fallback": "elastic_dotnet_parent"},
		}},
		{"fallback_elastic_dotnet_parent_sysmon", "windows_sysmon_benign", nil},
		{"fallback_an1381_etw", "windows_etw_attack", []want{
			{"time": ts(12), "compiler_pid": "2100", "compiler_name": "csc.exe", "parent_name": "wscript.exe",
				"compiler_user": wsAlice, "fallback": "mitre_an1381"},
			{"time": ts(33), "compiler_pid": "3200", "compiler_name": "msbuild.exe", "parent_pid": "3100",
				"parent_name": "cmd.exe", "compiler_user": wsAlice, "fallback": "mitre_an1381"},
		}},
		{"fallback_an1381_etw", "windows_etw_benign", nil},
		{"fallback_an1381_etw", "windows_etw_devshell", nil},
		{"fallback_an1381_sysmon", "windows_sysmon_attack", []want{
			{"time": ts(12), "compiler_pid": "2100", "compiler_name": "csc.exe", "parent_name": "wscript.exe",
				"compiler_user": wsAlice, "fallback": "mitre_an1381"},
			{"time": ts(33), "compiler_pid": "3200", "compiler_name": "msbuild.exe", "parent_name": "cmd.exe",
				"parent_cmdline": "~t.proj", "fallback": "mitre_an1381"},
		}},
		{"fallback_an1381_sysmon", "windows_sysmon_benign", nil},
		{"fallback_an1381_sysmon", "windows_sysmon_devshell", nil},
		{"fallback_linux_webserver_compiler", "linux_attack", []want{
			{"time": ts(2), "compiler_pid": "1502", "compiler_name": "x86_64-linux-gnu-gcc-12",
				"compiler_cmdline": "gcc -o /tmp/.x x.c", "parent_pid": "1500", "parent_name": "dash",
				"compiler_user": "www-data", "fallback": "linux_webserver_compiler"},
		}},
		{"fallback_linux_webserver_compiler", "linux_benign", nil},
		{"fallback_linux_tmp_compiler", "linux_attack", []want{
			{"compiler_pid": "1502", "parent_name": "dash", "compiler_user": "www-data", "fallback": "linux_tmp_compiler"},
			{"time": ts(70), "compiler_pid": "2001", "compiler_cmdline": "gcc /dev/shm/k.c -o /dev/shm/k",
				"parent_name": "bash", "compiler_user": "bob", "fallback": "linux_tmp_compiler"},
		}},
		{"fallback_linux_tmp_compiler", "linux_benign", nil},
		{"fallback_macos_suspicious_dir_compiler", "macos_attack", []want{
			{"time": ts(8), "compiler_pid": "9002", "compiler_name": "clang", "compiler_cmdline": "clang -o /tmp/updater u.c",
				"parent_pid": "9000", "parent_name": "zsh", "compiler_user": "alice", "fallback": "macos_suspicious_dir_compiler"},
			{"time": ts(30), "compiler_pid": "9100", "compiler_name": "osacompile", "parent_pid": "9050",
				"parent_name": "osascript", "compiler_user": "alice", "fallback": "macos_suspicious_dir_compiler"},
		}},
		{"fallback_macos_suspicious_dir_compiler", "macos_benign", nil},

		// Extension queries (rows produced by compile_lineage / compile_telemetry through Thrift).
		{"compile_suspicious", "windows_sysmon_attack", []want{
			{"compiler_pid": "2100", "parent_name": "wscript.exe", "reasons": "~parent_elastic_list", "stage": "network"},
			{"compiler_pid": "3200", "compiler_name": "msbuild.exe", "reasons": "*"},
			{"compiler_pid": "4100", "parent_name": "svchost.exe", "reasons": "~parent_elastic_list"},
		}},
		{"compile_suspicious", "windows_sysmon_benign", nil},
		{"compile_suspicious", "linux_attack", []want{
			{"compiler_pid": "1502", "parent_class": "*", "reasons": "~temp_output", "output_path": "/tmp/.x"},
			{"compiler_pid": "2001", "reasons": "~temp_output", "output_path": "/dev/shm/k"},
		}},
		{"compile_suspicious", "linux_benign", nil},
		{"compile_artifact_executed", "windows_sysmon_attack", []want{
			{"compiler_pid": "2100", "output_path": "C:\\Users\\Public\\upd.exe", "executions": ">=1",
				"first_exec_pid": "2200"},
		}},
		{"compile_artifact_executed", "windows_sysmon_benign", nil},
		{"compile_artifact_executed", "linux_attack", []want{
			{"compiler_pid": "1502", "output_path": "/tmp/.x", "executions": ">=1", "first_exec_pid": "1510"},
		}},
		{"compile_artifact_executed", "linux_benign", nil},
		{"compile_artifact_network", "windows_sysmon_attack", []want{
			{"compiler_pid": "2100", "connections": ">=1", "first_remote_address": "203.0.113.7",
				"first_remote_port": "443", "connection_origin": "artifact"},
		}},
		{"compile_artifact_network", "windows_sysmon_benign", nil},
		{"compile_artifact_network", "linux_attack", []want{
			{"compiler_pid": "1502", "connections": ">=1", "first_remote_address": "203.0.113.9",
				"first_remote_port": "4444", "connection_origin": "artifact"},
		}},
		{"compile_artifact_network", "linux_benign", nil},
		{"compile_baseline", "windows_sysmon_benign", []want{
			{"compiler_name": "msbuild.exe", "parent_name": "devenv.exe", "suspicious": "0", "time": ts(5)},
			{"compiler_name": "csc.exe", "parent_name": "msbuild.exe", "suspicious": "0", "time": ts(7)},
			// dotnet build from a developer prompt in the project folder, and the SDK's csc.dll it runs.
			{"compiler_name": "dotnet.exe", "parent_name": "cmd.exe", "suspicious": "0", "time": ts(25)},
			{"compiler_name": "dotnet.exe", "parent_name": "dotnet.exe", "suspicious": "0", "time": ts(26)},
			{"compiler_name": "msbuild.exe", "parent_name": "cmd.exe", "suspicious": "0", "time": ts(43)},
			{"compiler_name": "csc.exe", "parent_name": "msbuild.exe", "suspicious": "0", "time": ts(45)},
		}},
		{"compile_baseline", "linux_idle", nil},
		{"compile_telemetry_gaps", "windows_etw_attack", []want{
			{"platform": "windows", "signal": "file", "sources": "~:disabled"},
			{"platform": "windows", "signal": "network", "sources": "*"},
		}},
		{"compile_telemetry_gaps", "linux_attack", nil},
		{"compile_telemetry_gaps", "windows_sysmon_attack", nil},
		{"compile_suspicious", "macos_attack", []want{
			{"compiler_pid": "9002", "compiler_name": "clang", "parent_name": "zsh", "reasons": "~temp_output",
				"output_path": "/tmp/updater", "stage": "executed"},
			// The parent (osascript, pid 9050) started before the buffer.
			{"compiler_pid": "9100", "compiler_name": "osacompile", "parent_pid": "9050", "reasons": "~temp_output",
				"output_path": "/Users/Shared/helper.app", "stage": "compile"},
		}},
		{"compile_suspicious", "macos_benign", nil},
		{"compile_artifact_executed", "macos_attack", []want{
			{"compiler_pid": "9002", "output_path": "/tmp/updater", "executions": ">=1", "first_exec_pid": "9003"},
		}},
		// compile_lineage's scenarios (tables/testdata/scenarios): the fallbacks follow linkers,
		// the macOS per-user temp folder, and leave pip's own build folders alone.
		{"fallback_linux_tmp_compiler", "../../tables/testdata/scenarios/linux_insmod_module", []want{
			{"compiler_name": "x86_64-linux-gnu-ld.bfd", "parent_name": "make", "fallback": "linux_tmp_compiler"},
		}},
		{"fallback_linux_tmp_compiler", "../../tables/testdata/scenarios/linux_pip_build", nil},
		{"fallback_linux_webserver_compiler", "../../tables/testdata/scenarios/linux_ldso_noexec", []want{
			{"compiler_name": "gcc", "parent_name": "dash", "compiler_user": "www-data"},
		}},
		{"fallback_macos_suspicious_dir_compiler", "../../tables/testdata/scenarios/darwin_osacompile_app", []want{
			{"compiler_name": "osacompile", "parent_name": "zsh"},
		}},
		{"compile_telemetry_gaps", "macos_attack", []want{
			{"platform": "darwin", "signal": "file", "sources": "~es_process_file_events:disabled"},
			{"platform": "darwin", "signal": "network", "sources": "~:disabled"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.query+"/"+tt.fixture, func(t *testing.T) {
			t.Parallel()
			q := queryByName(t, tt.query)
			h := startHarness(t, fix(tt.fixture))
			if !slices.Contains(q.Platforms, h.Platform()) {
				t.Fatalf("fixture platform %s is not one of the query's %v", h.Platform(), q.Platforms)
			}
			got := run(t, h, q)
			if q.Fallback != "" {
				cols, _, err := h.QueryOrdered(context.Background(), q.SQL)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(cols, FallbackColumns) {
					t.Errorf("columns %v, want %v", cols, FallbackColumns)
				}
			}
			checkRows(t, got, tt.want)
		})
	}
}

// TestDiscoveryQueries checks the extension pack's discovery queries against osquery_registry: they
// return a row once the extension has registered its tables, and none for a table nobody registered.
func TestDiscoveryQueries(t *testing.T) {
	t.Parallel()
	h := startHarness(t, filepath.Join("testdata", "linux_idle.json"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, d := range Discovery {
		rows, err := h.Query(ctx, d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(rows) != 1 || rows[0]["1"] != "1" {
			t.Errorf("%s returned %v, want one row", d, rows)
		}
		absent := strings.Replace(d, "compile_", "no_such_", 1)
		rows, err = h.Query(ctx, absent)
		if err != nil {
			t.Fatalf("%s: %v", absent, err)
		}
		if len(rows) != 0 {
			t.Errorf("%s returned %v, want no rows", absent, rows)
		}
	}
}
