package replay

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestEventsOptimize checks the daemon rules on event tables: events visible at their time and expired after
// the expiry; a scan without a time constraint during a scheduled query yields only the events after that
// query's marker, the marker is shared by every event table in the query's run, and a time constraint turns
// the rule off; outside a scheduled query every visible event is returned.
func TestEventsOptimize(t *testing.T) {
	fx, err := ParseFixture("inline.json", strings.NewReader(`{
		"process_events": [{"pid": "1", "time": "100"}, {"pid": "2", "time": "200"}, {"pid": "3", "time": "300"},
			{"pid": "4", "time": "400"}],
		"socket_events": [{"pid": "11", "time": "150"}, {"pid": "12", "time": "350"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := Start(ctx, Options{Fixtures: fx, Now: 250, Daemon: &DaemonOptions{EventsExpiry: 120}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pids := func(query, sql string) string {
		t.Helper()
		var rows []map[string]string
		run := func(ctx context.Context) error { var err error; rows, err = h.Query(ctx, sql); return err }
		if query == "" {
			err = run(ctx)
		} else {
			err = h.daemon.executingQuery(ctx, query, run)
		}
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r["pid"])
		}
		return strings.Join(out, ",")
	}
	steps := []struct {
		now        int64
		query, sql string
		want       string
	}{
		// At 250 with a 120 s expiry: 100 has expired, 200 is visible, 300 has not happened yet.
		{250, "", "SELECT pid FROM process_events", "2"},
		{250, "q1", "SELECT pid FROM process_events", "2"},
		{250, "q1", "SELECT pid FROM process_events", ""},                    // nothing new since q1's marker
		{250, "q2", "SELECT pid FROM process_events", "2"},                   // q2 has its own marker
		{250, "q1", "SELECT pid FROM socket_events", ""},                     // q1's marker (time 200) hides socket event 150
		{410, "q1", "SELECT pid FROM process_events", "3,4"},                 // new since the marker
		{410, "q1", "SELECT pid FROM socket_events", ""},                     // the shared marker (time 400) hides socket event 350
		{410, "q1", "SELECT pid FROM process_events WHERE time >= 0", "3,4"}, // a time constraint: the window
		{410, "", "SELECT pid FROM process_events", "3,4"},
	}
	for i, s := range steps {
		h.daemon.now.Store(s.now)
		if got := pids(s.query, s.sql); got != s.want {
			t.Errorf("step %d (now %d, query %q): %s = %q, want %q", i, s.now, s.query, s.sql, got, s.want)
		}
	}
}
