package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/report"
	"github.com/compilelineage/compile-lineage/correlator/internal/server"
	"github.com/compilelineage/compile-lineage/correlator/internal/state"
)

var sectionRE = regexp.MustCompile(`<section class="alert" id="alert-\d+"`)

func TestReportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "r.html")
	roles := "../extension/examples/roles.csv"
	stdout, stderr, err := runCmd(t, "", "report", "--html", out, "--roles", roles, "testdata/demo_results.log")
	if err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	if stdout != "wrote "+out+" (8 lineages, 2 host risk alerts)\n" {
		t.Errorf("stdout %q", stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sectionRE.FindAll(page, -1)); n != 8 {
		t.Errorf("%d lineage sections, want 8", n)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v, want 0600", fi.Mode().Perm())
	}
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="lineage" id="g0"`, "fleetctl query --hosts &#39;web-01&#39;",
		`href="https://attack.mitre.org/techniques/T1027/004/"`, "default-src &#39;none&#39;", "alerts 4, suppressed 0, below threshold 4"} {
		if !strings.Contains(string(page), want) && !strings.Contains(string(page), strings.ReplaceAll(want, "&#39;", "'")) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, bad := range []string{"http://", "src=\"http", "<link", "@import", "url(http"} {
		if bad == "http://" {
			// The only http URL is the SVG namespace.
			if strings.Count(string(page), bad) != strings.Count(string(page), "http://www.w3.org/2000/svg") {
				t.Errorf("page references an http URL other than the SVG namespace")
			}
			continue
		}
		if strings.Contains(string(page), bad) {
			t.Errorf("page holds %q: it must load nothing", bad)
		}
	}

	// --since keeps the recent compiles only (web-01's are a year older).
	out2 := filepath.Join(dir, "recent.html")
	if stdout, stderr, err := runCmd(t, "", "report", "--html", out2, "--since", "720h", "--now", "2026-12-01T00:00:00Z", "--roles", roles, "testdata/demo_results.log"); err != nil || stdout != "wrote "+out2+" (5 lineages, 2 host risk alerts)\n" {
		t.Errorf("report --since: %q %v\n%s", stdout, err, stderr)
	}

	// From the state store a scoring run wrote.
	db := filepath.Join(dir, "state.db")
	if _, stderr, err := runCmd(t, "", "score", "--quiet", "--state", db, "--roles", roles, "testdata/demo_results.log"); err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	out3 := filepath.Join(dir, "state.html")
	if stdout, stderr, err := runCmd(t, "", "report", "--html", out3, "--state", db); err != nil || stdout != "wrote "+out3+" (8 lineages, 0 host risk alerts)\n" {
		t.Errorf("report --state: %q %v\n%s", stdout, err, stderr)
	}

	for _, bad := range [][]string{{"report", "testdata/demo_results.log"}, {"report", "--html", out}, {"report", "--html", out, "--state", db, "x.log"}} {
		if _, _, err := runCmd(t, "", bad...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want usage error", bad, err)
		}
	}
}

func TestExplainPrintsLineageAndPlaybook(t *testing.T) {
	t.Parallel()
	out, stderr, err := runCmd(t, "", "explain", "--roles", "../extension/examples/roles.csv", "838b9b42-4526-5f52-b97a-ff3b31722f07", "testdata/demo_results.log")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"lineage:\nancestor apache2 (ancestor)\n└─[started]─> parent dash (pid 4100, parent shell): sh -c cd /tmp && gcc -o /tmp/.cache/kworker k.c\n",
		"      ├─[write:pid]─> artifact kworker (written 09:48:21Z) /tmp/.cache/kworker\n",
		"      │     └─[net:artifact_pid]─> connection 198.51.100.7:4444 (1 connection(s), from artifact)\n",
		"  SELECT path, md5, sha1, sha256 FROM hash WHERE path = '/tmp/.cache/kworker';\n",
		`  fleetctl query --hosts 'web-01' --query 'SELECT path, md5, sha1, sha256 FROM hash WHERE path = '\''/tmp/.cache/kworker'\'';'` + "\n",
		"FROM crontab WHERE instr(command, '/tmp/.cache/kworker') > 0;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	if _, stderr, err := runCmd(t, "", "score", "--quiet", "--state", db, "--roles", "../extension/examples/roles.csv", "testdata/demo_results.log"); err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	for _, bad := range [][]string{{"serve"}, {"serve", "--state", db, "testdata/demo_results.log"}} {
		if _, _, err := runCmd(t, "", bad...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want usage error", bad, err)
		}
	}
	// Beyond loopback without a token: refused.
	if _, _, err := runCmd(t, "", "serve", "--state", db, "--listen", "0.0.0.0:0", "--token-env", "CORRELATOR_TEST_NO_SUCH_TOKEN"); !errors.Is(err, report.ErrTokenRequired) {
		t.Errorf("serve on 0.0.0.0 without token: %v", err)
	}

	load := func() (report.Page, error) {
		st, err := state.OpenReadOnly(db, time.Second)
		if err != nil {
			return report.Page{}, err
		}
		defer st.Close()
		as, err := st.Explanations()
		return report.Page{Title: "t", Source: "s", Alerts: report.FromAlerts(as)}, err
	}
	for _, c := range []struct {
		name, token, send string
		status            int
	}{
		{"loopback, no token", "", "", 200},
		{"token, none sent", "s3cret", "", 401},
		{"token, wrong one", "s3cret", "Bearer nope", 401},
		{"token, right one", "s3cret", "Bearer s3cret", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs strings.Builder
			cfg := report.ServerConfig{Addr: "127.0.0.1:0", Token: c.token, IsLoopback: server.IsLoopback}
			cfg.Logger = (&common{logLevel: "trace"}).logger(&logs)
			srv, err := report.NewServer(cfg, load)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx) }()
			req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+"/", nil)
			if c.send != "" {
				req.Header.Set("Authorization", c.send)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			<-done
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.status == 200 {
				if n := len(sectionRE.FindAll(body, -1)); n != 8 {
					t.Errorf("%d lineage sections, want 8", n)
				}
				if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
					t.Errorf("no CSP header: %v", resp.Header)
				}
			}
			if c.token != "" && strings.Contains(logs.String(), c.token) {
				t.Errorf("the token is in the logs: %s", logs.String())
			}
		})
	}
}
