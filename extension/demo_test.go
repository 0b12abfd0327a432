package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.log")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"demo", "--results-log", out}, &stdout, &stderr); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"== ws-finance-07 (user_endpoint)", "== dev-laptop-03 (developer_workstation)", "== web-01 (server)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			HostIdentifier string            `json:"hostIdentifier"`
			Action         string            `json:"action"`
			Columns        map[string]string `json:"columns"`
			Decorations    map[string]string `json:"decorations"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("bad result line %q: %v", sc.Text(), err)
		}
		if line.Action != "added" || line.Decorations["hostname"] != line.HostIdentifier || line.Columns["lineage_id"] == "" {
			t.Errorf("result line not in osquery's event format: %s", sc.Text())
		}
		if stages[line.HostIdentifier] == nil {
			stages[line.HostIdentifier] = map[string]int{}
		}
		stages[line.HostIdentifier][line.Columns["compiler_name"]+":"+line.Columns["stage"]]++
	}
	// The web server's webshell compile ran and connected out; the workstation's mshta chain
	// did too; the developer laptop has its build and the same mshta chain.
	for host, key := range map[string]string{"web-01": "x86_64-linux-gnu-gcc-12:network", "ws-finance-07": "csc.exe:network", "dev-laptop-03": "csc.exe:network"} {
		if stages[host][key] == 0 {
			t.Errorf("%s: no %s row; got %v", host, key, stages[host])
		}
	}
}

func TestDemoRolesFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("examples", "roles.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != demoRoles() {
		t.Fatalf("examples/roles.csv = %q, want %q", data, demoRoles())
	}
}

// TestDemoResultsLogCommitted: correlator/testdata/demo_results.log, which
// the correlator's report, browser and triage tests read, is exactly what
// the demo writes from the example telemetry. Regenerate it with
// `go run ./extension demo --results-log correlator/testdata/demo_results.log`.
func TestDemoResultsLogCommitted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.log")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"demo", "--results-log", out}, &stdout, &stderr); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "correlator", "testdata", "demo_results.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("correlator/testdata/demo_results.log is not what the demo writes now; regenerate it (see this test's comment)")
	}
}
