package sink

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func rec(i int) Record {
	return Record{
		ID:   fmt.Sprintf("alert-%04d", i),
		Time: time.Unix(1764000000+int64(i), 250e6).UTC(),
		Host: fmt.Sprintf("host-%02d", i%7),
		Doc:  json.RawMessage(fmt.Sprintf(`{"event":{"id":"alert-%04d","kind":"alert"},"n":%d}`, i, i)),
	}
}

// bulkServer is a fake Elasticsearch _bulk endpoint that checks the exact
// request format and records every document by _id.
type bulkServer struct {
	t      *testing.T
	mu     sync.Mutex
	down   bool                // answer 503
	docs   map[string][]string // _id -> bodies received (in order)
	order  []string            // _ids in arrival order
	status func(id string) int // per-item status (nil: 201)
	reqs   int
}

func newBulkServer(t *testing.T) (*bulkServer, *httptest.Server) {
	bs := &bulkServer{t: t, docs: map[string][]string{}}
	srv := httptest.NewServer(bs)
	t.Cleanup(srv.Close)
	return bs, srv
}

func (bs *bulkServer) setDown(v bool) { bs.mu.Lock(); bs.down = v; bs.mu.Unlock() }

func (bs *bulkServer) received() (map[string][]string, []string) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	m := make(map[string][]string, len(bs.docs))
	for k, v := range bs.docs {
		m[k] = slices.Clone(v)
	}
	return m, slices.Clone(bs.order)
}

func (bs *bulkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.reqs++
	if bs.down {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	fail := func(msg string, args ...any) {
		bs.t.Errorf("bulk request: "+msg, args...)
		http.Error(w, "bad request", http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		fail("%s %s, want POST /_bulk", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		fail("Content-Type %q", ct)
		return
	}
	if a := r.Header.Get("Authorization"); a != "ApiKey a2V5aWQ6c2VjcmV0" {
		fail("Authorization %q", a)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if len(body) == 0 || body[len(body)-1] != '\n' {
		fail("body does not end with a newline")
		return
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines)%2 != 0 {
		fail("%d lines, want action and document pairs", len(lines))
		return
	}
	type item struct {
		Index struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
		} `json:"index"`
	}
	var items []item
	errs := false
	for i := 0; i < len(lines); i += 2 {
		var action map[string]map[string]string
		if err := json.Unmarshal([]byte(lines[i]), &action); err != nil || len(action) != 1 || len(action["index"]) != 2 || action["index"]["_index"] != "alerts-test" {
			fail("action line %q", lines[i])
			return
		}
		id := action["index"]["_id"]
		var doc struct {
			Event struct{ ID string } `json:"event"`
		}
		if err := json.Unmarshal([]byte(lines[i+1]), &doc); err != nil || doc.Event.ID != id {
			fail("document %q for _id %s", lines[i+1], id)
			return
		}
		st := 201
		if bs.status != nil {
			st = bs.status(id)
		}
		var it item
		it.Index.ID, it.Index.Status = id, st
		items = append(items, it)
		if st >= 300 {
			errs = true
			continue
		}
		bs.docs[id] = append(bs.docs[id], lines[i+1])
		bs.order = append(bs.order, id)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errs, "items": items})
}

func esSink(url string) *Elasticsearch {
	return &Elasticsearch{URL: url, Index: "alerts-test", APIKey: "a2V5aWQ6c2VjcmV0", Client: &http.Client{Timeout: 5 * time.Second}}
}

func TestBulkBodyExactFormat(t *testing.T) {
	t.Parallel()
	got, err := BulkBody("idx", []Record{rec(1), rec(2)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_id":"alert-0001","_index":"idx"}}
{"event":{"id":"alert-0001","kind":"alert"},"n":1}
{"index":{"_id":"alert-0002","_index":"idx"}}
{"event":{"id":"alert-0002","kind":"alert"},"n":2}
`
	if string(got) != want {
		t.Errorf("bulk body:\n%s\nwant:\n%s", got, want)
	}
	bad := rec(3)
	bad.Doc = json.RawMessage("{\"a\":\n1}")
	if _, err := BulkBody("idx", []Record{bad}); err == nil || !strings.Contains(err.Error(), "alert-0003: contains a newline") {
		t.Errorf("multi-line document: %v", err)
	}
}

func TestElasticsearchItemFailures(t *testing.T) {
	t.Parallel()
	bs, srv := newBulkServer(t)
	bs.status = func(id string) int {
		switch id {
		case "alert-0002":
			return 429 // throttled: retry
		case "alert-0003":
			return 400 // mapping error: rejected
		}
		return 201
	}
	err := esSink(srv.URL).Send(context.Background(), []Record{rec(1), rec(2), rec(3)})
	var be *BatchError
	if !errors.As(err, &be) || !slices.Equal(be.Retry, []int{1}) || len(be.Rejected) != 1 || !strings.HasPrefix(be.Rejected[2], "status 400") {
		t.Fatalf("error = %#v, want retry [1] and item 2 rejected", err)
	}
	got, _ := bs.received()
	if len(got) != 1 || len(got["alert-0001"]) != 1 {
		t.Errorf("indexed %v", got)
	}
}

func TestSplunkHECExactFormat(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	down := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
			t.Errorf("%s %s, want POST /services/collector/event", r.Method, r.URL.Path)
		}
		if a := r.Header.Get("Authorization"); a != "Splunk 1b2c3d4e-token" {
			t.Errorf("Authorization %q", a)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"text":"Server is busy","code":9}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	hec := &SplunkHEC{URL: srv.URL + "/", Token: "1b2c3d4e-token", Index: "security", Client: srv.Client()}
	err := hec.Send(context.Background(), []Record{rec(1)})
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "status 503 code 9: Server is busy") {
		t.Fatalf("busy collector: %v, want a retryable error", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if err := hec.Send(context.Background(), []Record{rec(1), rec(2)}); err != nil {
		t.Fatal(err)
	}
	want := `{"time":1764000001.250,"host":"host-01","source":"compile-lineage","sourcetype":"compile_lineage:alert","index":"security","fields":{"alert_id":"alert-0001"},"event":{"event":{"id":"alert-0001","kind":"alert"},"n":1}}
{"time":1764000002.250,"host":"host-02","source":"compile-lineage","sourcetype":"compile_lineage:alert","index":"security","fields":{"alert_id":"alert-0002"},"event":{"event":{"id":"alert-0002","kind":"alert"},"n":2}}
`
	if len(bodies) != 1 || bodies[0] != want {
		t.Errorf("HEC body:\n%v\nwant:\n%s", bodies, want)
	}
}

// TestSpoolOutageMidRun delivers three waves of alerts to Elasticsearch
// while it goes down after the first: the second wave waits on disk and
// goes out, in order and once each, when it is back.
func TestSpoolOutageMidRun(t *testing.T) {
	t.Parallel()
	bs, srv := newBulkServer(t)
	dir := filepath.Join(t.TempDir(), "spool")
	sp, err := OpenSpool(dir, esSink(srv.URL), SpoolOptions{Batch: 4, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	enqueue := func(from, to int) {
		for i := from; i < to; i++ {
			if err := sp.Enqueue(rec(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue(0, 10)
	waitFor(t, "first wave delivered", func() bool { _, o := bs.received(); return len(o) == 10 })

	bs.setDown(true)
	enqueue(10, 20)
	waitFor(t, "retries during the outage", func() bool { bs.mu.Lock(); defer bs.mu.Unlock(); return bs.reqs >= 6 })
	if n := sp.Pending(); n != 10 {
		t.Fatalf("%d records pending during the outage, want 10", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "q-*.json"))
	if len(files) != 10 {
		t.Fatalf("%d spool files during the outage, want 10", len(files))
	}
	for _, f := range append(files, dir) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if st.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if st.Mode() != want {
			t.Errorf("%s mode %v, want %v", f, st.Mode(), want)
		}
	}
	bs.setDown(false)
	enqueue(20, 30)
	waitFor(t, "every alert delivered", func() bool { _, o := bs.received(); return len(o) == 30 })
	got, order := bs.received()
	for i := range 30 {
		id := rec(i).ID
		if len(got[id]) != 1 || got[id][0] != string(rec(i).Doc) {
			t.Errorf("%s delivered %d times: %v", id, len(got[id]), got[id])
		}
		if order[i] != id {
			t.Errorf("delivery %d is %s, want %s (in order)", i, order[i], id)
		}
	}
	waitFor(t, "spool emptied", func() bool { f, _ := filepath.Glob(filepath.Join(dir, "q-*.json")); return len(f) == 0 })
}

func TestSpoolRejectsKeepTheRecord(t *testing.T) {
	t.Parallel()
	bs, srv := newBulkServer(t)
	bs.status = func(id string) int {
		if id == "alert-0001" {
			return 400
		}
		return 201
	}
	dir := t.TempDir()
	sp, err := OpenSpool(dir, esSink(srv.URL), SpoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Enqueue(rec(0), rec(1), rec(2), rec(0)); err != nil {
		t.Fatal(err)
	}
	if n := sp.Pending(); n != 3 {
		t.Fatalf("pending %d, want 3 (the repeated id is stored once)", n)
	}
	if more, err := sp.Flush(context.Background()); more || err != nil {
		t.Fatalf("Flush = %v, %v", more, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rejectedFile))
	if err != nil {
		t.Fatal(err)
	}
	var rj struct {
		Sink, Reason string
		Record       Record
	}
	if err := json.Unmarshal(b, &rj); err != nil || rj.Sink != "elasticsearch" || rj.Record.ID != "alert-0001" || !strings.HasPrefix(rj.Reason, "status 400") {
		t.Errorf("rejected file %s (%v)", b, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, rejectedFile)); st.Mode() != 0o600 {
		t.Errorf("rejected file mode %v", st.Mode())
	}
	got, _ := bs.received()
	if len(got) != 2 {
		t.Errorf("indexed %v", got)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	t.Parallel()
	bs, _ := newBulkServer(t)
	srv := httptest.NewTLSServer(bs)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	untrusted, err := TLS{}.HTTPClient(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	es := esSink(srv.URL)
	es.Client = untrusted
	if err := es.Send(context.Background(), []Record{rec(1)}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted server: %v, want a certificate error", err)
	}
	trusted, err := TLS{CAFile: ca}.HTTPClient(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	es.Client = trusted
	if err := es.Send(context.Background(), []Record{rec(1)}); err != nil {
		t.Fatalf("trusted server: %v", err)
	}
	if _, err := (TLS{CAFile: filepath.Join(t.TempDir(), "none.pem")}).Config(); err == nil || !strings.Contains(err.Error(), "read CA file") {
		t.Errorf("missing CA file: %v", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSpoolChild is the child process of TestSpoolSurvivesKill9; it does
// nothing in a normal run.
func TestSpoolChild(t *testing.T) {
	dir := os.Getenv("SINK_CHILD_SPOOL")
	if dir == "" {
		t.Skip("child process of TestSpoolSurvivesKill9")
	}
	from, _ := strconv.Atoi(os.Getenv("SINK_CHILD_FROM"))
	to, _ := strconv.Atoi(os.Getenv("SINK_CHILD_TO"))
	sp, err := OpenSpool(dir, esSink(os.Getenv("SINK_CHILD_URL")), SpoolOptions{Batch: 3, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go sp.Run(context.Background())
	for i := from; i < to; i++ {
		if err := sp.Enqueue(rec(i)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("queued", i)
	}
	fmt.Println("all queued")
	select {} // until killed
}

// TestSpoolSurvivesKill9 runs the spool in a real child process, kills it
// with SIGKILL while Elasticsearch is down and again in the middle of
// delivery, and checks that a restarted process delivers every alert, none
// lost, and none under two ids.
func TestSpoolSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	bs, srv := newBulkServer(t)
	dir := filepath.Join(t.TempDir(), "spool")
	start := func(from, to int) (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolChild$", "-test.v")
		cmd.Env = append(os.Environ(), "SINK_CHILD_SPOOL="+dir, "SINK_CHILD_URL="+srv.URL,
			"SINK_CHILD_FROM="+strconv.Itoa(from), "SINK_CHILD_TO="+strconv.Itoa(to))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewScanner(out)
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
	waitLine := func(sc *bufio.Scanner, want string) {
		for sc.Scan() {
			if sc.Text() == want {
				return
			}
			if strings.HasPrefix(sc.Text(), "error") {
				t.Fatalf("child: %s", sc.Text())
			}
		}
		t.Fatalf("child ended before %q", want)
	}

	// 1. SIEM down: the first process queues 40 alerts and is killed.
	bs.setDown(true)
	a, out := start(0, 40)
	waitLine(out, "all queued")
	kill(a)
	if got, _ := bs.received(); len(got) != 0 {
		t.Fatalf("delivered %d during the outage", len(got))
	}

	// 2. SIEM back: a second process resumes, queues 20 more and is killed
	// in the middle of delivering.
	bs.setDown(false)
	b, out := start(40, 60)
	waitLine(out, "all queued")
	waitFor(t, "part of the backlog delivered", func() bool { _, o := bs.received(); return len(o) >= 10 })
	kill(b)

	// 3. A third process delivers the rest.
	c, _ := start(60, 60)
	waitFor(t, "every alert delivered", func() bool { g, _ := bs.received(); return len(g) == 60 })
	waitFor(t, "spool emptied", func() bool { f, _ := filepath.Glob(filepath.Join(dir, "q-*.json")); return len(f) == 0 })
	kill(c)

	got, order := bs.received()
	for i := range 60 {
		r := rec(i)
		bodies := got[r.ID]
		if len(bodies) == 0 {
			t.Errorf("%s lost", r.ID)
		}
		for _, b := range bodies {
			if b != string(r.Doc) {
				t.Errorf("%s delivered as %s", r.ID, b)
			}
		}
	}
	if len(got) != 60 {
		t.Errorf("%d distinct _ids delivered, want 60", len(got))
	}
	t.Logf("%d deliveries for 60 alerts (a resend after a kill keeps its _id)", len(order))
}

// FuzzBulkResult feeds arbitrary _bulk responses (the SIEM's answer is
// outside data): the result is nil, a retry-everything error, or a
// BatchError whose indexes are in range and disjoint.
func FuzzBulkResult(f *testing.F) {
	f.Add([]byte(`{"took":1,"errors":false,"items":[{"index":{"_id":"a","status":201}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{"index":{"_id":"a","status":201}},{"index":{"_id":"b","status":429}},{"index":{"_id":"c","status":400,"error":{"type":"mapper_parsing_exception"}}}]}`), 3)
	f.Add([]byte(`{"errors":true,"items":[]}`), 2)
	f.Add([]byte(`not json`), 1)
	f.Fuzz(func(t *testing.T, resp []byte, n int) {
		n = n%64 + 1
		if n < 1 {
			n = -n + 1
		}
		err := bulkResult(resp, n)
		var be *BatchError
		if !errors.As(err, &be) {
			return
		}
		seen := map[int]bool{}
		for _, i := range be.Retry {
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("retry index %d (n %d, seen %v)", i, n, seen[i])
			}
			seen[i] = true
		}
		for i := range be.Rejected {
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("rejected index %d overlaps or is out of range", i)
			}
		}
		if len(be.Retry) == 0 && len(be.Rejected) == 0 {
			t.Fatal("empty BatchError")
		}
	})
}
