//go:build !windows

package tables_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestResponseFilesThroughThrift: gcc started with @file arguments. A regular response file
// gives the output; a FIFO (which would block a plain open forever), a symlink and /dev/zero
// are refused, recorded on the row, and the query still answers.
func TestResponseFilesThroughThrift(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.rsp")
	if err := os.WriteFile(good, []byte("-o /tmp/.x/implant implant.c"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.rsp")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.rsp")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	rows := []map[string]string{}
	for i, arg := range []string{good, fifo, link, "/dev/zero.rsp"} {
		rows = append(rows, map[string]string{"pid": strconv.Itoa(5000 + i), "parent": "1", "path": "/usr/bin/gcc",
			"cmdline": "gcc @" + arg, "cwd": "/tmp", "uid": "1000", "auid": "1000", "time": strconv.Itoa(1764064100 + i),
			"syscall": "execve"})
	}
	data, err := json.Marshal(map[string]any{"process_events": rows})
	if err != nil {
		t.Fatal(err)
	}
	fx := filepath.Join(dir, "fixture.json")
	if err := os.WriteFile(fx, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := replayQuery(t, "SELECT compiler_cmdline, output_path, link_evidence, telemetry_gaps FROM compile_lineage ORDER BY time", fx)
	if len(got) != 4 {
		t.Fatalf("rows %v", got)
	}
	if got[0]["output_path"] != "/tmp/.x/implant" || !contains(got[0]["link_evidence"], "output:response_file") ||
		contains(got[0]["telemetry_gaps"], "response_file_refused") {
		t.Errorf("regular response file: %v", got[0])
	}
	for _, r := range got[1:] {
		if r["output_path"] != "" || !contains(r["link_evidence"], "response_file:refused") ||
			!contains(r["telemetry_gaps"], "response_file_refused") {
			t.Errorf("%s: %v, want the refusal recorded", r["compiler_cmdline"], r)
		}
	}
}
