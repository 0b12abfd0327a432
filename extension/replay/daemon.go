package replay

import (
	"context"
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// daemon is what the harness keeps of osqueryd's event framework (osquery/events/eventsubscriberplugin.cpp)
// when it plays the daemon: the replay clock, event expiry, the scheduled query being executed and the
// --events_optimize markers.
//
// Events become visible at their own `time` and are gone once older than the expiry: osqueryd expires an
// event table's buffer relative to the time of each query on it (and every 256 new events), so at a
// query at time T a table holds the events with T - expiry < time <= T.
//
// events_optimize: a scan of an event table that gets no `time` constraint while a scheduled query executes
// (kExecutingQuery) starts at that query's marker (optimize.<query name>: the time and event id of the last
// event the previous such scan visited), skips the events whose id is not above the marker's, and moves the
// marker to the last event of the scan. As in osquery the marker is one per scheduled query, shared by every
// event table and by every query the extension sends while the scheduled query runs; event ids are per table
// (the harness numbers a table's events in time order from 1).
type daemon struct {
	on     bool // playing osqueryd (scheduled replay); off = osqueryi over the whole fixture
	now    atomic.Int64
	expiry map[string]int64 // per event table, seconds; 0 = never

	mu        sync.Mutex
	executing string
	markers   map[string]marker

	optimized atomic.Int64 // scans the optimize rule answered
	// scanned counts the event rows the event tables handed to SQLite, reads the column values SQLite read
	// from them: what a query costs osquery's event store, whatever the machine.
	scanned, reads atomic.Int64
}

type marker struct {
	time int64
	eid  int64
}

func newDaemon(now int64) *daemon {
	d := &daemon{markers: map[string]marker{}, expiry: map[string]int64{}}
	d.now.Store(now)
	return d
}

// window returns the rows of a time-sorted event store that are visible now: [lo, hi).
func (d *daemon) window(table string, src rowSource) (lo, hi int) {
	if !d.on {
		return 0, src.len()
	}
	now := d.now.Load()
	t := src.time
	hi = sort.Search(src.len(), func(i int) bool { return t(i) > now })
	if exp := d.expiry[table]; exp > 0 {
		lo = sort.Search(hi, func(i int) bool { return t(i) > now-exp })
	}
	return lo, hi
}

// optimize applies --events_optimize to a scan of rows[lo:hi] without a time constraint: it returns the first
// row the scan yields (rows before it were seen by an earlier scan of the executing query) and moves the
// marker. ok is false when no scheduled query executes, so the scan yields everything.
func (d *daemon) optimize(src rowSource, lo, hi int) (first int, ok bool) {
	if !d.on {
		return lo, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.executing == "" {
		return lo, false
	}
	d.optimized.Add(1)
	m := d.markers[d.executing]
	var start int64 // optimize_time - 1, or 0 (from the beginning)
	if m.time != 0 {
		start = m.time - 1
	}
	i0 := lo + sort.Search(hi-lo, func(i int) bool { return src.time(lo+i) >= start })
	if i0 >= hi {
		return hi, true
	}
	// Event ids are the 1-based positions in the store, so "id > marker id" is "position >= marker id".
	first = max(i0, int(min(m.eid, math.MaxInt32)))
	d.markers[d.executing] = marker{time: src.time(hi - 1), eid: int64(hi)}
	return min(first, hi), true
}

// executingQuery runs f while name is the executing scheduled query (osquery's Config::recordQueryStart /
// recordQueryPerformance around a scheduled query).
func (d *daemon) executingQuery(ctx context.Context, name string, f func(context.Context) error) error {
	d.mu.Lock()
	d.executing = name
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.executing = ""
		d.mu.Unlock()
	}()
	return f(ctx)
}

func rowTimeAt(rows [][]any, i, timeCol int) int64 {
	if v, ok := rows[i][timeCol].(int64); ok {
		return v
	}
	return math.MinInt64
}
