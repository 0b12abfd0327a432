package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/compilelineage/compile-lineage/correlator/internal/report"
)

var readmeShot = flag.Bool("update-screenshot", false, "also write the lineage screenshot the README shows (correlator/report-lineage.png)")

// chromium finds Debian's chromium. Without it the test skips, unless CI
// is set: there it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found and CI is set: install it (apt-get install -y chromium; .ci/run does)")
	}
	t.Skip("chromium not found: install it with apt-get install -y chromium to run the browser test")
	return ""
}

// TestReportInBrowser opens the report of the example telemetry in
// headless chromium: every alert's drawing holds its compiler, parent,
// artifact and connection nodes, the filters change what is shown, and the
// page makes no network request. Screenshots of the queue and one lineage
// go to build/; with -update-screenshot the lineage one also replaces
// correlator/report-lineage.png, the README's picture.
func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	all, lineages := demoEvaluations(t)
	views := report.FromAlerts(lineages)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := writeReport(page, report.Page{Title: "Compile lineage report", Source: "testdata/demo_results.log",
		Generated: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Alerts: report.FromAlerts(all)}); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var requests []string
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	url := "file://" + page
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("queue"))); err != nil {
		t.Fatalf("open report: %v", err)
	}

	// Every lineage's drawing holds its compiler, parent, artifact and connection.
	for i, v := range views {
		sec := "#alert-" + strconv.Itoa(i)
		nodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("`+sec+` g.node")).map(g => g.dataset.node + "=" + g.querySelector("text.name").textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"compiler=" + short(v.Compiler.Name), "parent=" + short(v.Parent.Name)}
		if v.ArtifactPath != "" {
			want = append(want, "artifact="+short(base(v.ArtifactPath)))
		}
		if v.Connections > 0 {
			want = append(want, "conn="+v.RemoteAddress+":"+strconv.Itoa(int(v.RemotePort)))
		}
		for _, w := range want {
			if !slices.Contains(nodes, w) {
				t.Errorf("%s (%s %s): drawing lacks %s; has %v", sec, v.Host, v.Compiler.Name, w, nodes)
			}
		}
	}

	// Clicking a node shows its full command line.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#alert-0 g.node[data-node="compiler"]`))); err != nil {
		t.Fatal(err)
	}
	detail, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("detail-0")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "command line: "+views[0].Compiler.Cmdline) {
		t.Errorf("detail after click = %q, want the compiler's command line", detail)
	}

	// Filters change what is shown.
	count := func() (rows, sections int) {
		t.Helper()
		var err error
		if rows, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr.qrow:not([hidden])").length`)); err != nil {
			t.Fatal(err)
		}
		if sections, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("section.alert:not([hidden])").length`)); err != nil {
			t.Fatal(err)
		}
		return
	}
	setFilter := func(id, value string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID(id), value)); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("`+id+`").dispatchEvent(new Event("change"))`)); err != nil {
			t.Fatal(err)
		}
	}
	want := func(f func(report.Alert) bool) int {
		n := 0
		for _, v := range views {
			if f(v) {
				n++
			}
		}
		return n
	}
	if r, s := count(); r != len(views) || s != len(views) {
		t.Fatalf("unfiltered: %d rows, %d sections, want %d", r, s, len(views))
	}
	hostRows := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr.hrow:not([hidden])").length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := hostRows(); n != 2 {
		t.Errorf("%d host risk rows, want 2", n)
	}
	setFilter("f-host", "ws-finance-07")
	if n := hostRows(); n != 1 {
		t.Errorf("host ws-finance-07: %d host risk rows, want 1", n)
	}
	setFilter("f-host", "web-01")
	if n := hostRows(); n != 0 {
		t.Errorf("host web-01: %d host risk rows, want 0", n)
	}
	if r, s := count(); r != want(func(v report.Alert) bool { return v.Host == "web-01" }) || s != r || r == len(views) {
		t.Errorf("host web-01: %d rows, %d sections", r, s)
	}
	setFilter("f-stage", "network")
	if r, _ := count(); r != 1 {
		t.Errorf("host web-01 and stage network: %d rows, want 1", r)
	}
	setFilter("f-host", "")
	setFilter("f-stage", "")
	setFilter("f-severity", "critical")
	if r, _ := count(); r != want(func(v report.Alert) bool { return v.Severity == "critical" }) {
		t.Errorf("severity critical: %d rows", r)
	}
	setFilter("f-severity", "")
	setFilter("f-role", "developer_workstation")
	if r, _ := count(); r != want(func(v report.Alert) bool { return v.Role == "developer_workstation" }) {
		t.Errorf("role developer_workstation: %d rows", r)
	}
	setFilter("f-role", "")

	// Screenshots for review and for the README.
	if err := os.MkdirAll(filepath.Join("..", "build"), 0o750); err != nil {
		t.Fatal(err)
	}
	queue, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("queues")))
	if err != nil {
		t.Fatal(err)
	}
	// The lineage shot shows one triage query opened.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#alert-0 details.query summary`))); err != nil {
		t.Fatal(err)
	}
	lineage, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("alert-0")))
	if err != nil {
		t.Fatal(err)
	}
	for name, png := range map[string][]byte{"report-queue.png": queue, "report-lineage.png": lineage} {
		if err := os.WriteFile(filepath.Join("..", "build", name), png, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if *readmeShot {
		if err := os.WriteFile("report-lineage.png", lineage, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for _, r := range requests {
		if r != url {
			t.Errorf("the page made a request: %s", r)
		}
	}
	if !slices.Contains(requests, url) {
		t.Errorf("request log does not show the page itself (%v): the network listener saw nothing", requests)
	}
}

// short and base mirror the drawing's truncation of names.
func short(s string) string {
	r := []rune(s)
	if len(r) <= 24 {
		return s
	}
	return string(r[:23]) + "…"
}

func base(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
