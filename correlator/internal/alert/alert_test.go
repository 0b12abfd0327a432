package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

func sample() *Alert {
	return &Alert{
		AlertID: "a1", LineageID: "L1", Host: "WS-1", Role: "user_endpoint", Score: 75, Severity: "high", Stage: "compile",
		Reasons:    []score.Reason{{Code: "stage_compile", Points: 10, Detail: "a compiler ran"}},
		Techniques: []string{"T1027.004"},
		Record:     lineage.Record{CompilerName: "csc.exe", ParentName: "mshta.exe", Ancestry: "explorer.exe > mshta.exe > csc.exe", Reasons: []string{"x"}},
	}
}

func TestMarshalFlattensRecordAndKeepsAngleBrackets(t *testing.T) {
	t.Parallel()
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("\n")) || !bytes.Contains(b, []byte(`"ancestry":"explorer.exe > mshta.exe > csc.exe"`)) {
		t.Errorf("encoded alert: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["compiler_name"] != "csc.exe" || m["lineage_id"] != "L1" || m["stage"] != "compile" {
		t.Errorf("record fields not at top level: %v", m)
	}
	if rs, ok := m["reasons"].([]any); !ok || len(rs) != 1 || rs[0].(map[string]any)["code"] != "stage_compile" {
		t.Errorf("reasons = %v, want the scored reasons (not the row's codes)", m["reasons"])
	}
}

func TestFileSink(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.Send(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Errorf("%d lines in the alert file, want 2", n)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("alert file mode %v, want 0640", fi.Mode().Perm())
	}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	var got []string
	var auth string
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		auth = r.Header.Get("Authorization")
		if fail {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	wh := &Webhook{URL: srv.URL, Token: "hook-token", Client: srv.Client()}
	if err := wh.Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0], `"lineage_id":"L1"`) || auth != "Bearer hook-token" {
		t.Errorf("posted %v with auth %q", got, auth)
	}
	fail = true
	err := wh.Send(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "status 502") || strings.Contains(err.Error(), "hook-token") {
		t.Errorf("failed post: %v", err)
	}
	var buf bytes.Buffer
	m := Multi{NewWriterSink(&buf), wh}
	if err := m.Send(context.Background(), sample()); err == nil || buf.Len() == 0 {
		t.Errorf("Multi: err %v, stdout %d bytes; want the write done and the webhook error returned", err, buf.Len())
	}
}
