package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	pack := `{"queries":{"a":{"query":"SELECT 1","interval":1800}}}`
	if err := os.WriteFile(filepath.Join(dir, "p.conf"), []byte(pack), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", wantCode: 2, wantStderr: "usage: vmassert"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "check needs --since", args: []string{"check"}, wantCode: 2, wantStderr: "--since is required"},
		{name: "listen needs files", args: []string{"listen", "--port", "38471"}, wantCode: 2, wantStderr: "--log, --ready and --expect are required"},
		{name: "cap packs", args: []string{"cap-packs", "--in", dir, "--out", filepath.Join(dir, "out"), "p.conf"},
			wantStdout: "(intervals <= 60 s)"},
		{name: "cap a missing pack", args: []string{"cap-packs", "--in", dir, "--out", dir, "nope.conf"}, wantCode: 2,
			wantStderr: "read " + filepath.Join(dir, "nope.conf")},
		{name: "recheck saved osqueryi rows", args: []string{"recheck", "--scenarios", "../../scenarios", "--rows",
			filepath.Join("testdata", "osqueryi-compile_lineage.txt"), "benign_build_agent_system"},
			wantStdout: "PASS lineage[1] msbuild.exe<-svchost.exe stage=written: msbuild.exe<-svchost.exe class=system_service"},
		{name: "recheck against the wrong scenario", args: []string{"recheck", "--scenarios", "../../scenarios", "--rows",
			filepath.Join("testdata", "osqueryi-compile_lineage.txt"), "benign_developer_build"}, wantCode: 1,
			wantStdout: "FAIL lineage[0] csc.exe<-msbuild.exe stage=written: closest row", wantStderr: "2 of 2 expected rows"},
		{name: "no osqueryd", args: []string{"post-checks", "--connect-timeout", "100ms", "--socket", filepath.Join(dir, "no.em")}, wantCode: 2,
			wantStderr: "connect to osqueryd at " + filepath.Join(dir, "no.em")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("code %d stdout %q stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
	got, err := os.ReadFile(filepath.Join(dir, "out", "p.conf"))
	if err != nil || !strings.Contains(string(got), `"interval": 60`) {
		t.Errorf("capped pack %s, %v", got, err)
	}
}
