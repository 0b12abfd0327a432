package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/ecs"
)

// ecsFields loads ../shared/ecs-fields.json (skips without it, fails under CI).
func ecsFields(t *testing.T) ecs.Fields {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "ecs-fields.json")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing: %v", path, err)
		}
		t.Skipf("%s missing", path)
	}
	f, err := ecs.LoadFields(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestScoreFormatECSIsValid(t *testing.T) {
	t.Parallel()
	f := ecsFields(t)
	args := append([]string{"score", "--quiet", "--all", "--format", "ecs", "--roles", "testdata/roles.csv", "--now", "2026-11-25T00:00:00Z"}, testInputs(t)...)
	out, stderr, err := runCmd(t, "", args...)
	if err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	kinds := map[string]int{}
	msbuild := false
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if errs := ecs.Validate(doc, f); len(errs) > 0 {
			t.Errorf("document %d is not valid ECS:\n%s\n%s", i+1, strings.Join(errs, "\n"), line)
		}
		cl := doc["compile_lineage"].(map[string]any)
		kinds[cl["kind"].(string)]++
		th := doc["threat"].(map[string]any)["technique"].(map[string]any)
		if ids := th["id"].([]any); slices.Contains(ids, any("T1127")) {
			msbuild = slices.Contains(th["subtechnique"].(map[string]any)["id"].([]any), any("T1127.001"))
		}
	}
	if kinds["lineage"] != 10 || kinds["host_risk"] != 2 || !msbuild {
		t.Errorf("documents by kind %v, msbuild T1127/T1127.001 %v", kinds, msbuild)
	}
}

// TestRunChild is the correlator run by TestRunSIEMSurvivesKill9 as a
// child process; it does nothing in a normal run.
func TestRunChild(t *testing.T) {
	args := os.Getenv("CORRELATOR_TEST_CHILD")
	if args == "" {
		t.Skip("child process of TestRunSIEMSurvivesKill9")
	}
	err := run(context.Background(), strings.Split(args, "\n"), strings.NewReader(""), io.Discard, os.Stderr)
	fmt.Fprintln(os.Stderr, "run ended:", err)
	os.Exit(3)
}

// esServer is a loopback Elasticsearch _bulk endpoint that can be down.
type esServer struct {
	mu   sync.Mutex
	down bool
	docs map[string][]map[string]any // _id -> documents
	n    int
	bad  []string
}

func (s *esServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down || r.URL.Path != "/_bulk" {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	var items []any
	for i := 0; i+1 < len(lines); i += 2 {
		var action map[string]map[string]string
		var doc map[string]any
		if json.Unmarshal([]byte(lines[i]), &action) != nil || json.Unmarshal([]byte(lines[i+1]), &doc) != nil {
			s.bad = append(s.bad, lines[i])
			continue
		}
		id := action["index"]["_id"]
		s.docs[id] = append(s.docs[id], doc)
		s.n++
		items = append(items, map[string]any{"index": map[string]any{"_id": id, "status": 201}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": false, "items": items})
}

func (s *esServer) count() (ids, docs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs), s.n
}

// alertLines returns result-log lines of n suspicious lineages (mshta >
// csc, compile then written) over n/2 hosts.
func alertLines(from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		for j, stage := range []string{"compile", "written"} {
			out = append(out, fmt.Sprintf(`{"name":"pack/Global/compile_lineage","hostIdentifier":"ws-%03d","unixTime":%d,"epoch":0,"counter":%d,"decorations":{"host_uuid":"uuid-%03d","hostname":"ws-%03d"},"columns":{"lineage_id":"00000000-0000-5000-8000-%012d","time":"%d","compiler_name":"csc.exe","compiler_path":"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe","parent_name":"mshta.exe","parent_class":"script_host","stage":"%s","reasons":"parent_elastic_list;temp_output","output_path":"C:\\Users\\Public\\%d.exe"},"action":"added"}`,
				i/2, 1764000000+i*60+j, j+1, i/2, i/2, i, 1764000000+i*60, stage, i))
		}
	}
	return out
}

func appendFile(t *testing.T, path string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// expectedIDs runs the whole input once, uninterrupted, and returns the
// alert ids it emits.
func expectedIDs(t *testing.T, lines []string) []string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "all.log")
	appendFile(t, log, lines)
	out, stderr, err := runCmd(t, "", "run", "--once", "--state", filepath.Join(dir, "s.db"), "--follow", log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	var ids []string
	for _, a := range decodeAlerts(t, out) {
		ids = append(ids, a.AlertID)
	}
	slices.Sort(ids)
	return ids
}

// TestRunSIEMSurvivesKill9 runs `correlator run` with an Elasticsearch
// sink as a child process: it is killed with SIGKILL while Elasticsearch is
// down, and again in the middle of delivering the backlog; a third process
// delivers the rest. Every alert of an uninterrupted run reaches
// Elasticsearch under its own alert_id, none is lost and none arrives
// under another id.
func TestRunSIEMSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	first, second := alertLines(0, 30), alertLines(30, 30)
	want := expectedIDs(t, append(slices.Clone(first), second...))
	if len(want) < 100 {
		t.Fatalf("only %d alerts expected", len(want))
	}
	es := &esServer{down: true, docs: map[string][]map[string]any{}}
	srv := httptest.NewServer(es)
	defer srv.Close()
	dir := t.TempDir()
	log, state := filepath.Join(dir, "osqueryd.results.log"), filepath.Join(dir, "state.db")
	spool := filepath.Join(dir, "spool", "elasticsearch")
	args := []string{"run", "--state", state, "--follow", log, "--poll", "10ms", "--es-url", srv.URL, "--es-index", "alerts",
		"--spool", filepath.Join(dir, "spool"), "--siem-batch", "7", "--siem-retry", "5ms", "--siem-retry-max", "20ms", "--log-level", "error"}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunChild$")
		cmd.Env = append(os.Environ(), "CORRELATOR_TEST_CHILD="+strings.Join(args, "\n"))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child did not die of SIGKILL: %v", err)
		}
	}
	spooled := func() int { f, _ := filepath.Glob(filepath.Join(spool, "q-*.json")); return len(f) }
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				ids, docs := es.count()
				t.Fatalf("timed out waiting for %s (spooled %d, delivered %d ids in %d docs)", what, spooled(), ids, docs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// 1. Elasticsearch down: the first half's alerts queue on disk.
	appendFile(t, log, first)
	wantFirst := expectedIDs(t, first)
	a := start()
	wait("the first half spooled", func() bool { return spooled() == len(wantFirst) })
	kill(a)
	for _, f := range []string{spool, filepath.Join(spool, "..")} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("spool dir %s: %v %v", f, st.Mode(), err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(spool, "q-*.json")); len(files) > 0 {
		if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
			t.Errorf("spool file mode %v", st.Mode())
		}
	}

	// 2. It comes back; more lines arrive; the second process is killed
	// in the middle of the backlog.
	appendFile(t, log, second)
	es.mu.Lock()
	es.down = false
	es.mu.Unlock()
	b := start()
	wait("part of the backlog delivered", func() bool { n, _ := es.count(); return n >= 20 })
	kill(b)

	// 3. The third process delivers the rest.
	c := start()
	wait("every alert delivered", func() bool { n, _ := es.count(); return n == len(want) && spooled() == 0 })
	kill(c)

	es.mu.Lock()
	defer es.mu.Unlock()
	var got []string
	for id, docs := range es.docs {
		got = append(got, id)
		for _, d := range docs {
			if d["event"].(map[string]any)["id"] != id {
				t.Errorf("_id %s carries event.id %v", id, d["event"].(map[string]any)["id"])
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("delivered %d ids, want the %d of an uninterrupted run", len(got), len(want))
	}
	if len(es.bad) > 0 {
		t.Errorf("malformed bulk lines: %v", es.bad)
	}
	t.Logf("%d alerts, %d deliveries over two kills", len(want), es.n)
}
