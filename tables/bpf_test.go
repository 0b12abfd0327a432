package tables_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBPFSources: with audit off and osquery's eBPF publisher on (--enable_bpf_events), the lineage comes
// from bpf_process_events and bpf_socket_events (file writes from file_events, by the output path).
func TestBPFSources(t *testing.T) {
	fixture := `{
  "bpf_process_events": [
    {"tid": "100", "pid": "100", "parent": "1", "uid": "33", "gid": "33", "syscall": "exec", "path": "/usr/sbin/apache2",
     "cwd": "/", "cmdline": "/usr/sbin/apache2 -k start", "exit_code": "0", "time": "1764064000"},
    {"tid": "101", "pid": "101", "parent": "100", "uid": "33", "gid": "33", "syscall": "exec", "path": "/bin/sh",
     "cwd": "/var/www", "cmdline": "sh -c gcc -o /tmp/.x /tmp/x.c", "exit_code": "0", "time": "1764064100"},
    {"tid": "102", "pid": "102", "parent": "101", "uid": "33", "gid": "33", "syscall": "exec", "path": "/usr/bin/gcc",
     "cwd": "/var/www", "cmdline": "gcc -o /tmp/.x /tmp/x.c", "exit_code": "0", "time": "1764064101"},
    {"tid": "103", "pid": "103", "parent": "101", "uid": "33", "gid": "33", "syscall": "exec", "path": "/tmp/.x",
     "cwd": "/var/www", "cmdline": "/tmp/.x", "exit_code": "0", "time": "1764064110"}
  ],
  "file_events": [
    {"target_path": "/tmp/.x", "category": "tmp", "action": "CREATED", "time": "1764064102", "sha256": ""}
  ],
  "bpf_socket_events": [
    {"tid": "103", "pid": "103", "parent": "101", "uid": "33", "gid": "33", "syscall": "connect", "path": "/tmp/.x",
     "fd": "3", "family": "2", "type": "1", "protocol": "6", "local_address": "10.0.0.5", "remote_address": "203.0.113.9",
     "local_port": "40000", "remote_port": "4444", "exit_code": "0", "time": "1764064111"}
  ]
}`
	path := filepath.Join(t.TempDir(), "bpf.json")
	if err := os.WriteFile(path, []byte(fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	rows, _ := replayQuery(t, "SELECT source, compiler_name, parent_name, output_path, executions, first_remote_address, "+
		"stage, reasons FROM compile_lineage", path)
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	r := rows[0]
	if r["source"] != "bpf_process_events" || r["compiler_name"] != "gcc" || r["parent_name"] != "sh" ||
		r["output_path"] != "/tmp/.x" || r["executions"] != "1" || r["first_remote_address"] != "203.0.113.9" ||
		r["stage"] != "network" {
		t.Fatalf("row %v", r)
	}
	tel, _ := replayQuery(t, "SELECT source_table, status, used FROM compile_telemetry WHERE source_table LIKE 'bpf_%' ORDER BY source_table", path)
	if len(tel) != 2 || tel[0]["status"] != "ok" || tel[0]["used"] != "1" || tel[1]["status"] != "ok" || tel[1]["used"] != "1" {
		t.Fatalf("telemetry %v", tel)
	}
}
