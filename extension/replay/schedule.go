package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A scheduled replay plays osqueryd over a recording in event time: the clock runs from --from to --to one
// second at a time, and each pack query runs when the clock is a multiple of its interval (osquery's
// SchedulerRunner: `i % splayed_interval == 0`, here with --schedule_splay_percent=0). Before a pack's
// queries run its discovery queries must all return a row; their answer is kept for
// --pack_refresh_interval (3600 s). Each query runs as osqueryd's launchQuery does: the query is the
// executing query (events_optimize markers, see daemon), and its results go through osquery's Query
// addNewResults (differential against the previous run, counter 0 on the first run then +1 per change,
// nothing logged when nothing changed) or addNewEvents (a query on an event table: every row is "added"),
// then to the filesystem logger's format.

// Pack is an osquery query pack (osquery/config/packs.cpp).
type Pack struct {
	Name      string
	Discovery []string
	Platform  string
	Queries   []PackQuery
}

// PackQuery is one query of a pack.
type PackQuery struct {
	Name     string
	SQL      string
	Interval int64
	Platform string
	Snapshot bool
	Removed  bool // report removed rows (osquery default true)
}

// packRefreshInterval is osquery's --pack_refresh_interval default.
const packRefreshInterval = 3600

// LoadPack reads an osquery pack file; the pack is named after the file's base name without its extension,
// as the filesystem config plugin names packs given as paths.
func LoadPack(path string) (*Pack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pack: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	p, err := ParsePack(name, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePack parses pack JSON. As osquery's config parser it accepts lines starting with # or // as comments
// and joins lines ending in a backslash.
func ParsePack(name string, data []byte) (*Pack, error) {
	var clean bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			clean.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		clean.WriteString(line)
		clean.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var raw struct {
		Discovery []string                   `json:"discovery"`
		Platform  string                     `json:"platform"`
		Queries   map[string]json.RawMessage `json:"queries"`
	}
	if err := json.Unmarshal(clean.Bytes(), &raw); err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	p := &Pack{Name: name, Discovery: raw.Discovery, Platform: raw.Platform}
	for qname, body := range raw.Queries {
		var q struct {
			Query    string          `json:"query"`
			Interval json.RawMessage `json:"interval"`
			Platform string          `json:"platform"`
			Snapshot bool            `json:"snapshot"`
			Removed  *bool           `json:"removed"`
		}
		if err := json.Unmarshal(body, &q); err != nil {
			return nil, fmt.Errorf("pack %s query %s: %w", name, qname, err)
		}
		if strings.TrimSpace(q.Query) == "" {
			return nil, fmt.Errorf("pack %s query %s: no query", name, qname)
		}
		interval := int64(3600) // --schedule_default_interval
		if len(q.Interval) > 0 {
			s := strings.Trim(string(q.Interval), `"`)
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("pack %s query %s: bad interval %s", name, qname, q.Interval)
			}
			interval = min(v, 604800)
		}
		pq := PackQuery{Name: qname, SQL: q.Query, Interval: interval, Platform: q.Platform, Snapshot: q.Snapshot,
			Removed: q.Removed == nil || *q.Removed}
		p.Queries = append(p.Queries, pq)
	}
	sort.Slice(p.Queries, func(i, j int) bool { return p.Queries[i].Name < p.Queries[j].Name })
	return p, nil
}

// platformMatches is osquery's checkPlatform: an empty or any/all platform runs everywhere, else a
// substring match (posix for linux and darwin).
func platformMatches(spec, platform string) bool {
	if spec == "" || strings.Contains(spec, "any") || strings.Contains(spec, "all") {
		return true
	}
	if strings.Contains(spec, platform) {
		return true
	}
	return platform != "windows" && strings.Contains(spec, "posix")
}

// ScheduleOptions configures RunSchedule.
type ScheduleOptions struct {
	Packs    []*Pack
	From, To int64 // the replay's clock range, unix seconds
	// HostIdentifier is the result lines' hostIdentifier (osquery's --host_identifier=hostname by default).
	HostIdentifier string
	// Out receives the result log lines (filesystem logger format; snapshot lines too).
	Out io.Writer
}

// ScheduleStats counts what a scheduled replay did.
type ScheduleStats struct {
	Runs      int   // query executions
	Lines     int   // result lines written
	Errors    int   // failed executions (osquery logs them and carries on)
	Optimized int64 // event-table scans answered by the events_optimize rule
}

// RunSchedule plays the packs from opts.From to opts.To. The harness must have been started with
// Options.Daemon.
func (h *Harness) RunSchedule(ctx context.Context, opts ScheduleOptions) (ScheduleStats, error) {
	var st ScheduleStats
	if !h.daemon.on {
		return st, fmt.Errorf("RunSchedule needs a harness started with Options.Daemon")
	}
	if opts.To < opts.From {
		return st, fmt.Errorf("schedule: --to %d is before --from %d", opts.To, opts.From)
	}
	host := h.hostInfo()
	if opts.HostIdentifier != "" {
		host.identifier = opts.HostIdentifier
	}
	type discovery struct {
		checked int64
		ok      bool
	}
	disc := map[string]*discovery{}
	results := map[string]*queryResults{}
	for i := opts.From; i <= opts.To; i++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		for _, p := range opts.Packs {
			if !platformMatches(p.Platform, h.platform) {
				continue
			}
			for _, q := range p.Queries {
				if q.Interval == 0 || i%q.Interval != 0 || !platformMatches(q.Platform, h.platform) {
					continue
				}
				h.daemon.now.Store(i)
				d := disc[p.Name]
				if d == nil || i-d.checked >= packRefreshInterval {
					d = &discovery{checked: i, ok: h.discover(ctx, p)}
					disc[p.Name] = d
				}
				if !d.ok {
					continue
				}
				name := "pack_" + p.Name + "_" + q.Name
				var rows []map[string]string
				err := h.daemon.executingQuery(ctx, name, func(ctx context.Context) error {
					var err error
					rows, err = h.Query(ctx, q.SQL)
					return err
				})
				st.Runs++
				if err != nil {
					st.Errors++
					h.log.Warn("error executing scheduled query", "name", name, "time", i, "error", err)
					continue
				}
				r := results[name]
				if r == nil {
					r = &queryResults{}
					results[name] = r
				}
				n, err := writeResults(opts.Out, r, logItem{name: name, host: host, time: i, snapshot: q.Snapshot,
					removed: q.Removed, events: h.touchesEventTable(q.SQL)}, rows)
				st.Lines += n
				if err != nil {
					return st, fmt.Errorf("write results of %s: %w", name, err)
				}
			}
		}
	}
	st.Optimized = h.daemon.optimized.Load()
	return st, nil
}

// discover runs a pack's discovery queries: every one must return a row.
func (h *Harness) discover(ctx context.Context, p *Pack) bool {
	for _, q := range p.Discovery {
		rows, err := h.Query(ctx, q)
		if err != nil || len(rows) == 0 {
			h.log.Debug("pack discovery failed", "pack", p.Name, "query", q, "error", err)
			return false
		}
	}
	return true
}

var sqlWord = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// tablesIn lists the osquery tables a query names (osquery's getQueryTables asks SQLite; a word match is
// close enough for pack queries).
func tablesIn(sql string) []string {
	schema := Schema()
	seen := map[string]bool{}
	var out []string
	for _, w := range sqlWord.FindAllString(sql, -1) {
		w = strings.ToLower(w)
		if _, ok := schema[w]; ok && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// touchesEventTable reports whether a query reads an event table (osquery's SQL::eventBased).
func (h *Harness) touchesEventTable(sql string) bool {
	for _, t := range tablesIn(sql) {
		if Schema()[t].Evented {
			return true
		}
	}
	return false
}

// eventsExpiry returns each event table's expiry: --events_expiry, raised for a table that scheduled queries
// read directly to three times their longest interval rounded up to the minute
// (EventFactory::configUpdate, setMinExpiry).
func eventsExpiry(expiry int64, packs []*Pack) map[string]int64 {
	out := map[string]int64{}
	for name, t := range Schema() {
		if t.Evented {
			out[name] = expiry
		}
	}
	if expiry == 0 {
		return out
	}
	maxInterval := map[string]int64{}
	for _, p := range packs {
		for _, q := range p.Queries {
			for _, t := range tablesIn(q.SQL) {
				if Schema()[t].Evented {
					maxInterval[t] = max(maxInterval[t], q.Interval)
				}
			}
		}
	}
	for t, iv := range maxInterval {
		m := iv * 3
		m += 60 - m%60
		out[t] = max(out[t], m)
	}
	return out
}

// hostInfo is the host the result lines name: system_info's hostname and uuid when the fixtures have them.
type hostInfo struct{ identifier, hostname, uuid string }

func (h *Harness) hostInfo() hostInfo {
	hi := hostInfo{identifier: "replay", hostname: "replay", uuid: replayHostUUID}
	rows, err := h.Query(context.Background(), "SELECT hostname, uuid FROM system_info LIMIT 1")
	if err == nil && len(rows) == 1 {
		if rows[0]["hostname"] != "" {
			hi.identifier, hi.hostname = rows[0]["hostname"], rows[0]["hostname"]
		}
		if rows[0]["uuid"] != "" {
			hi.uuid = rows[0]["uuid"]
		}
	}
	return hi
}

// replayHostUUID is the uuid the harness's osquery_info reports.
const replayHostUUID = "4c4c4544-0000-0000-0000-000000000000"

// queryResults is what osquery's database keeps of a scheduled query: its last results and counter.
type queryResults struct {
	started  bool
	previous []map[string]string
	counter  int64
}

type logItem struct {
	name     string
	host     hostInfo
	time     int64
	snapshot bool
	removed  bool
	events   bool
}

// logHeader is what every line of osquery's filesystem logger carries, in its order.
type logHeader struct {
	Name           string            `json:"name"`
	HostIdentifier string            `json:"hostIdentifier"`
	CalendarTime   string            `json:"calendarTime"`
	UnixTime       int64             `json:"unixTime"`
	Epoch          int64             `json:"epoch"`
	Counter        int64             `json:"counter"`
	Numerics       bool              `json:"numerics"`
	Decorations    map[string]string `json:"decorations"`
}

// resultLine is a snapshot line: snapshot and action first.
type resultLine struct {
	Snapshot []map[string]string `json:"snapshot"`
	Action   string              `json:"action"`
	logHeader
}

// eventLine is a differential or event line: columns then action last.
type eventLine struct {
	logHeader
	Columns map[string]string `json:"columns"`
	Action  string            `json:"action"`
}

// asciiTime is osquery's getAsciiTime ("Mon May  2 22:27:32 2016 UTC").
func asciiTime(t int64) string { return time.Unix(t, 0).UTC().Format("Mon Jan _2 15:04:05 2006 UTC") }

// writeResults diffs one execution's rows against the previous ones and writes the lines osquery would log.
func writeResults(w io.Writer, r *queryResults, it logItem, rows []map[string]string) (int, error) {
	head := logHeader{Name: it.name, HostIdentifier: it.host.identifier, CalendarTime: asciiTime(it.time),
		UnixTime: it.time, Decorations: map[string]string{"host_uuid": it.host.uuid, "hostname": it.host.hostname}}
	enc := json.NewEncoder(w)
	if it.snapshot {
		if rows == nil {
			rows = []map[string]string{}
		}
		return 1, enc.Encode(resultLine{Snapshot: rows, Action: "snapshot", logHeader: head})
	}
	var added, removed []map[string]string
	switch {
	case it.events: // Query::addNewEvents: no differential
		added = rows
		if len(added) > 0 {
			if !r.started {
				r.counter = 1
			} else {
				r.counter++
			}
		}
		r.started = true
	case !r.started: // a new query: everything is added, counter 0
		added, r.previous, r.started, r.counter = rows, rows, true, 0
	default:
		added, removed = diffRows(r.previous, rows)
		if len(added) == 0 && len(removed) == 0 {
			return 0, nil
		}
		r.previous = rows
		r.counter++
	}
	if !it.removed {
		removed = nil
	}
	head.Counter = r.counter
	n := 0
	for _, group := range []struct {
		action string
		rows   []map[string]string
	}{{"removed", removed}, {"added", added}} {
		for _, row := range group.rows {
			if err := enc.Encode(eventLine{logHeader: head, Columns: row, Action: group.action}); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// diffRows is osquery's diff(): the rows of cur not in prev (added, in cur's order) and of prev not in cur
// (removed), as multisets of whole rows.
func diffRows(prev, cur []map[string]string) (added, removed []map[string]string) {
	return rowsNotIn(cur, prev), rowsNotIn(prev, cur)
}

// rowsNotIn returns the rows of a that b does not hold, in a's order, counting repeats (multisets).
func rowsNotIn(a, b []map[string]string) []map[string]string {
	key := func(r map[string]string) string {
		k, _ := json.Marshal(r) // map keys are sorted: a canonical form
		return string(k)
	}
	count := map[string]int{}
	for _, r := range b {
		count[key(r)]++
	}
	var out []map[string]string
	for _, r := range a {
		if k := key(r); count[k] > 0 {
			count[k]--
			continue
		}
		out = append(out, r)
	}
	return out
}
