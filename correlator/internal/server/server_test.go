package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

type fakeIngester struct {
	mu      sync.Mutex
	sources []string
	lines   []string
}

func (f *fakeIngester) Lines(source string, lines [][]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sources = append(f.sources, source)
	for _, l := range lines {
		f.lines = append(f.lines, string(l))
	}
	return nil
}

func start(t *testing.T, cfg Config) (*fakeIngester, string) {
	t.Helper()
	in := &fakeIngester{}
	s, err := New(cfg, in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return in, "http://" + s.Addr()
}

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const line1 = `{"name":"q","hostIdentifier":"h","columns":{"a":"1"},"action":"added"}`
const line2 = `{"name":"q","hostIdentifier":"h","columns":{"a":"2"},"action":"added"}`

func TestEndpoints(t *testing.T) {
	t.Parallel()
	in, base := start(t, Config{Addr: "127.0.0.1:0"})
	tests := []struct {
		path, body string
		status     int
		reply      string
		lines      []string
	}{
		{"/osquery/log", `{"node_key":"k","log_type":"result","data":[` + line1 + `,` + line2 + `]}`, 200, `{"node_invalid":false}`, []string{line1, line2}},
		{"/osquery/log", `{"node_key":"k","log_type":"status","data":[{"s":0,"f":"x.cpp","i":1,"m":"hello"}]}`, 200, `{"node_invalid":false}`, nil},
		{"/fleet/results", `[{"timestamp":"2026-11-25T10:00:00Z","details":` + line1 + `},{"timestamp":"2026-11-25T10:00:01Z","details":[` + line2 + `]}]`, 204, "", []string{line1, line2}},
		{"/results", line1 + "\n" + line2 + "\n", 204, "", []string{line1, line2}},
		{"/fleet/results", `{"not":"an array"}`, 400, "bad request body\n", nil},
	}
	for _, tt := range tests {
		in.mu.Lock()
		in.lines = nil
		in.mu.Unlock()
		status, reply := post(t, base+tt.path, "", tt.body)
		if status != tt.status || reply != tt.reply {
			t.Errorf("POST %s: %d %q, want %d %q", tt.path, status, reply, tt.status, tt.reply)
		}
		in.mu.Lock()
		if strings.Join(in.lines, "|") != strings.Join(tt.lines, "|") {
			t.Errorf("POST %s: lines %v, want %v", tt.path, in.lines, tt.lines)
		}
		in.mu.Unlock()
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestTokenRequired(t *testing.T) {
	t.Parallel()
	in, base := start(t, Config{Addr: "127.0.0.1:0", Token: "t0ken"})
	if st, _ := post(t, base+"/results", "", line1); st != 401 {
		t.Errorf("no token: %d, want 401", st)
	}
	if st, _ := post(t, base+"/results", "wrong", line1); st != 401 {
		t.Errorf("wrong token: %d, want 401", st)
	}
	if st, _ := post(t, base+"/results", "t0ken", line1); st != 204 {
		t.Errorf("right token: %d, want 204", st)
	}
	// osquery's TLS logger sends its node key in the body.
	if st, body := post(t, base+"/osquery/log", "", `{"node_key":"bad","log_type":"result","data":[`+line2+`]}`); st != 401 || body != `{"node_invalid":true}` {
		t.Errorf("bad node key: %d %s", st, body)
	}
	if st, _ := post(t, base+"/osquery/log", "", `{"node_key":"t0ken","log_type":"result","data":[`+line2+`]}`); st != 200 {
		t.Errorf("node key = token: %d", st)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if strings.Join(in.lines, "|") != line1+"|"+line2 {
		t.Errorf("accepted lines = %v", in.lines)
	}
}

func TestNonLoopbackNeedsTokenOrTLS(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Addr: "0.0.0.0:0"}, &fakeIngester{})
	if !errors.Is(err, ErrInsecure) {
		t.Errorf("0.0.0.0 without token: %v, want ErrInsecure", err)
	}
	s, err := New(Config{Addr: ":0", Token: "x"}, &fakeIngester{})
	if err != nil {
		t.Fatalf("empty host with token: %v", err)
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("empty host bound %s, want loopback", s.Addr())
	}
	s.ln.Close()
	s, err = New(Config{Addr: "0.0.0.0:0", Token: "x"}, &fakeIngester{})
	if err != nil {
		t.Fatalf("0.0.0.0 with token: %v", err)
	}
	s.ln.Close()
}

func FuzzParseOsqueryLog(f *testing.F) {
	f.Add([]byte(`{"node_key":"k","log_type":"result","data":[` + line1 + `]}`))
	f.Add([]byte(`{"log_type":"status","data":[{"s":0}]}`))
	f.Add([]byte(`{"log_type":"result","data":["{\"a\":1}"]}`))
	f.Add([]byte(`{"data":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseOsqueryLog(data)
		if err != nil {
			return
		}
		if req.LogType != "result" && req.LogType != "snapshot" && len(req.Lines) != 0 {
			t.Fatalf("lines taken from a %q log", req.LogType)
		}
	})
}

func FuzzParseFleetWebhook(f *testing.F) {
	f.Add([]byte(`[{"timestamp":"2026-11-25T10:00:00Z","details":` + line1 + `}]`))
	f.Add([]byte(`[{"details":[` + line1 + `,` + line2 + `]}]`))
	f.Add([]byte(`[{"details":null},{}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := ParseFleetWebhook(data)
		if err != nil {
			return
		}
		for _, l := range lines {
			if len(l) == 0 {
				t.Fatal("empty line returned")
			}
		}
	})
}

// GET /metrics serves Config.Metrics when one is given, and nothing otherwise.
func TestMetricsEndpoint(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "correlator_kafka_lines_total 7\n")
	})
	cases := []struct {
		name    string
		handler http.Handler
		status  int
		body    string
	}{
		{"with metrics", metrics, http.StatusOK, "correlator_kafka_lines_total 7\n"},
		{"without metrics", nil, http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, base := start(t, Config{Addr: "127.0.0.1:0", Metrics: tc.handler})
			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
}
