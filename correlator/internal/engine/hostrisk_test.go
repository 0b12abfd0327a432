package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

// cmdLine is a result-log line of a cmd.exe > csc.exe lineage that wrote
// to a temp folder: on a user endpoint it scores 45.00 the first time the
// pair is seen and 33.17 after, below the alert threshold either way.
func cmdLine(host, id string, unix int64) string {
	return fmt.Sprintf(`{"name":"pack/Global/compile_lineage","hostIdentifier":"%s","unixTime":%d,"epoch":0,"counter":1,"decorations":{"host_uuid":"uuid-%s","hostname":"%s"},"columns":{"lineage_id":"%s","time":"%d","compiler_name":"csc.exe","compiler_path":"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe","parent_name":"cmd.exe","parent_class":"shell","stage":"written","artifact_written":"1","output_path":"C:\\Users\\u\\AppData\\Local\\Temp\\%s.exe","reasons":"temp_output"},"action":"added"}`,
		host, unix, host, host, id, unix, id)
}

func feedLines(t *testing.T, e *Engine, lines ...string) []*alert.Alert {
	t.Helper()
	var out []*alert.Alert
	rd := NewReader(e, nil, func(a *alert.Alert) error {
		if !a.BelowThreshold && !a.Suppressed {
			out = append(out, a)
		}
		return nil
	})
	if err := rd.ReadAll("test", strings.NewReader(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	return out
}

const t0 = int64(1764000000)

func TestHostRiskAddsUpLineagesNoneOfWhichAlerted(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "host,role\nws-1,user_endpoint\nws-2,user_endpoint\n", nil)
	got := feedLines(t, e,
		cmdLine("ws-1", "l1", t0),
		cmdLine("ws-1", "l2", t0+3600),
		cmdLine("ws-2", "other-host", t0+3700), // another host's risk is its own
		cmdLine("ws-1", "l2", t0+7000),         // the same lineage again counts once
		cmdLine("ws-1", "l3", t0+7200),
	)
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want one host risk alert", got)
	}
	a := got[0]
	h := a.HostRisk
	if a.Kind != alert.KindHostRisk || h == nil || a.Host != "ws-1" || a.HostUUID != "uuid-ws-1" || a.Realert {
		t.Fatalf("alert = %+v", a)
	}
	var ids []string
	var sum float64
	for _, l := range h.Lineages {
		ids = append(ids, l.LineageID)
		sum += l.Score
		if l.Score >= e.Policy.AlertThreshold {
			t.Errorf("lineage %s scored %.2f, at or above the lineage threshold", l.LineageID, l.Score)
		}
	}
	// 45.00 (first time cmd.exe > csc.exe) + 33.17 + 33.17.
	if !slices.Equal(ids, []string{"l1", "l2", "l3"}) || h.Sum != 111.34 || h.Band != "medium" || h.Threshold != 100 || h.Window != "24h0m0s" || a.Severity != "medium" {
		t.Errorf("host risk = %+v (lineages %v)", h, ids)
	}
	if e.Stats.HostAlerts != 1 || e.Stats.Alerts != 0 {
		t.Errorf("stats = %+v", e.Stats)
	}

	// One more lineage: 144.51 stays in the medium band (no new alert); the
	// next takes the sum to 177.68, high, and the one after to 210.85,
	// critical: a re-alert each.
	more := feedLines(t, e, cmdLine("ws-1", "l4", t0+8000), cmdLine("ws-1", "l5", t0+9000), cmdLine("ws-1", "l6", t0+9500))
	if len(more) != 2 {
		t.Fatalf("escalation alerts = %d, want 2", len(more))
	}
	for i, want := range []struct {
		band string
		n    int
		sum  float64
	}{{"high", 5, 177.68}, {"critical", 6, 210.85}} {
		h := more[i].HostRisk
		if !more[i].Realert || h.Band != want.band || len(h.Lineages) != want.n || h.Sum != want.sum {
			t.Errorf("escalation %d = realert %v %+v, want %s with %d lineages, sum %.2f", i, more[i].Realert, h, want.band, want.n, want.sum)
		}
	}
	if more[0].AlertID == a.AlertID {
		t.Error("the escalation reuses the first alert's id")
	}
}

func TestHostRiskWindowSlides(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "host,role\nws-1,user_endpoint\n", nil)
	// The first lineage is 25 h old when the third arrives: 33.17 + 33.17
	// stays below 100.
	if got := feedLines(t, e, cmdLine("ws-1", "l1", t0), cmdLine("ws-1", "l2", t0+20*3600), cmdLine("ws-1", "l3", t0+25*3600)); len(got) != 0 {
		t.Fatalf("alerts = %+v, want none (l1 left the window)", got)
	}
	h, _ := e.State.HostRisk("uuid-ws-1")
	if len(h.Entries) != 2 || h.AlertBand != -1 {
		t.Errorf("host risk state = %+v", h)
	}
	// A shorter window from the policy.
	e2 := newEngine(t, "host,role\nws-1,user_endpoint\n", nil)
	e2.Policy.HostRisk.Window.Duration = 3600 * 1e9
	if got := feedLines(t, e2, cmdLine("ws-1", "l1", t0), cmdLine("ws-1", "l2", t0+1800), cmdLine("ws-1", "l3", t0+4000)); len(got) != 0 {
		t.Fatalf("1 h window: alerts = %+v", got)
	}
}

func TestHostRiskEpisodeEndsAndAlertsAgain(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "host,role\nws-1,user_endpoint\n", nil)
	first := feedLines(t, e, cmdLine("ws-1", "l1", t0), cmdLine("ws-1", "l2", t0+60), cmdLine("ws-1", "l3", t0+120))
	// Two days later the old lineages have left the window; three new ones
	// make a new episode with a new alert id.
	second := feedLines(t, e, cmdLine("ws-1", "m1", t0+48*3600), cmdLine("ws-1", "m2", t0+48*3600+60), cmdLine("ws-1", "m3", t0+48*3600+120), cmdLine("ws-1", "m4", t0+48*3600+180))
	if len(first) != 1 || len(second) != 1 || second[0].Realert || second[0].AlertID == first[0].AlertID {
		t.Fatalf("first %+v second %+v", first, second)
	}
	var ids []string
	for _, l := range second[0].HostRisk.Lineages {
		ids = append(ids, l.LineageID)
	}
	if !slices.Equal(ids, []string{"m1", "m2", "m3", "m4"}) {
		t.Errorf("second episode lists %v", ids)
	}
}
