package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplayPrintsJSON(t *testing.T) {
	fx := writeFile(t, "fx.json", `{"process_events":[
		{"pid":"7","path":"/usr/bin/gcc","cmdline":"gcc \"a b.c\"","time":"1700000010"},
		{"pid":"5","path":"/bin/sh","time":"1700000000"}]}`)
	q := writeFile(t, "q.sql", "SELECT pid, path, cmdline FROM process_events ORDER BY pid")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"query", []string{"replay", "--fixture", fx, "--query", "SELECT pid, path, cmdline FROM process_events ORDER BY pid"},
			"[\n  {\n    \"pid\": \"5\",\n    \"path\": \"/bin/sh\",\n    \"cmdline\": \"\"\n  },\n" +
				"  {\n    \"pid\": \"7\",\n    \"path\": \"/usr/bin/gcc\",\n    \"cmdline\": \"gcc \\\"a b.c\\\"\"\n  }\n]\n"},
		{"query file", []string{"replay", "--fixture", fx, "--query-file", q},
			"[\n  {\n    \"pid\": \"5\",\n    \"path\": \"/bin/sh\",\n    \"cmdline\": \"\"\n  },\n" +
				"  {\n    \"pid\": \"7\",\n    \"path\": \"/usr/bin/gcc\",\n    \"cmdline\": \"gcc \\\"a b.c\\\"\"\n  }\n]\n"},
		{"empty result", []string{"replay", "--fixture", fx, "--query", "SELECT pid FROM process_events WHERE pid = 1"}, "[]\n"},
		{"now", []string{"replay", "--fixture", fx, "--now", "42", "--query", "SELECT count(*) AS n FROM osquery_info WHERE start_time = 42"},
			"[\n  {\n    \"n\": \"1\"\n  }\n]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(tt.args, &out, &errOut); err != nil {
				t.Fatalf("run: %v (stderr %s)", err, errOut.String())
			}
			if out.String() != tt.want {
				t.Fatalf("output\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestReplayErrors(t *testing.T) {
	good := writeFile(t, "good.json", `{"processes":[{"pid":"1"}]}`)
	bad := writeFile(t, "bad.jsonl", `{"EventID":1,"Channel":"System","UtcTime":"2020-01-01 00:00:00.000"}`+"\n{oops\n")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad fixture line", []string{"replay", "--fixture", bad, "--query", "SELECT 1"}, bad + ":2: bad JSON"},
		{"no fixture", []string{"replay", "--query", "SELECT 1"}, "replay: --fixture is required"},
		{"no query", []string{"replay", "--fixture", good}, "replay: --query or --query-file is required"},
		{"unknown column", []string{"replay", "--fixture", good, "--query", "SELECT ppid FROM processes"}, "query: SQL logic error: no such column: ppid"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tt.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseServeFlags(t *testing.T) {
	t.Setenv("COMPILE_LINEAGE_QUERY_TIMEOUT", "4s")
	t.Setenv("COMPILE_LINEAGE_WINDOW", "2h")
	t.Setenv("COMPILE_LINEAGE_LOG_LEVEL", "")
	var errOut bytes.Buffer
	cfg, err := parseServeFlags([]string{"--socket", "/tmp/x.em", "--timeout", "5", "--interval", "2", "--verbose"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/tmp/x.em" || cfg.Timeout != 5*time.Second || cfg.Interval != 2*time.Second ||
		cfg.Tables.QueryTimeout != 4*time.Second || cfg.Tables.Window != 2*time.Hour || cfg.Name != "compile_lineage" {
		t.Fatalf("cfg = %+v", cfg)
	}
	if !cfg.Logger.IsDebug() || cfg.Logger.IsTrace() {
		t.Fatal("--verbose should log at debug level")
	}

	cfg, err = parseServeFlags(nil, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 3*time.Second || cfg.Interval != 3*time.Second || cfg.Logger.GetLevel() != hclog.Warn {
		t.Fatalf("defaults: %+v level %v", cfg, cfg.Logger.GetLevel())
	}

	t.Setenv("COMPILE_LINEAGE_LOG_LEVEL", "loud")
	if _, err := parseServeFlags(nil, &errOut); err == nil || !strings.Contains(err.Error(), `COMPILE_LINEAGE_LOG_LEVEL="loud"`) {
		t.Fatalf("err = %v", err)
	}
	t.Setenv("COMPILE_LINEAGE_LOG_LEVEL", "info")
	t.Setenv("COMPILE_LINEAGE_WINDOW", "yesterday")
	if _, err := parseServeFlags(nil, &errOut); err == nil || !strings.Contains(err.Error(), `COMPILE_LINEAGE_WINDOW="yesterday"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSpecSortedJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"spec"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name    string            `json:"name"`
		Columns []json.RawMessage `json:"columns"`
	}
	if err := json.Unmarshal(out.Bytes(), &specs); err != nil {
		t.Fatalf("spec output is not a JSON array: %v", err)
	}
	if !sort.SliceIsSorted(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name }) {
		t.Fatalf("specs not sorted: %+v", specs)
	}
	for _, s := range specs {
		if s.Name == "" || len(s.Columns) == 0 {
			t.Fatalf("spec without name or columns: %+v", s)
		}
	}
}

func TestReplaySchedule(t *testing.T) {
	out := filepath.Join(t.TempDir(), "osqueryd.results.log")
	fixture := filepath.Join("replay", "testdata", "sched_sysmon_office.json")
	pack := filepath.Join("..", "packs", "compile_after_delivery.conf")
	var stdout, stderr bytes.Buffer
	err := run([]string{"replay", "--fixture", fixture, "--schedule", pack, "--results-log", out,
		"--events-expiry", "86400", "--to", "1764021600", "--host-identifier", "ws01"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("replay --schedule: %v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("results log mode %v, want 0600", fi.Mode().Perm())
	}
	var stages []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var line struct {
			Name           string            `json:"name"`
			HostIdentifier string            `json:"hostIdentifier"`
			Columns        map[string]string `json:"columns"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if line.HostIdentifier != "ws01" {
			t.Errorf("hostIdentifier %q", line.HostIdentifier)
		}
		if line.Name == "pack_compile_after_delivery_compile_suspicious" {
			stages = append(stages, line.Columns["stage"])
		}
	}
	if strings.Join(stages, ",") != "written,network" {
		t.Errorf("compile_suspicious stages %v, want written then network", stages)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--fixture", fixture, "--schedule", pack}, "--schedule needs --results-log"},
		{[]string{"replay", "--fixture", fixture, "--schedule", pack, "--results-log", out, "--query", "SELECT 1"}, "leave out --query"},
		{[]string{"replay", "--fixture", fixture, "--schedule", "nope.conf", "--results-log", out}, "read pack"},
		{[]string{"replay", "--fixture", fixture, "--schedule", pack, "--results-log", out, "--from", "10", "--to", "5"}, "before --from"},
	} {
		err := run(bad.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want %q", bad.args, err, bad.want)
		}
	}
}
