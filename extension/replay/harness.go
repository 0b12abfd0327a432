// Package replay is an osquery-like harness: SQLite with every table of osquery 5.23.1 (specs as in
// osquery-5.23.1-schemas.json: columns, order, types, hidden, required, index, additional, collations) filled
// from fixture files, osquery's own SQL functions and collations, a fake osquery core speaking osquery's Thrift
// extension API on a local socket, and the real extension (serve.Run) attached to it. Extension tables are
// SQLite virtual tables that call the extension over Thrift with the query context osquery would send,
// including --extensions_default_index.
//
// What it does not reproduce: the watcher, permission checks, table behaviour beyond returning fixture rows
// (SQLite filters them; a table ignores the constraints osquery would act on, such as hash's path), and
// WITHOUT ROWID (see declareSQL). windows_events.time is the event's own time, not the time osquery received it.
package replay

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
	"modernc.org/sqlite"

	"github.com/compilelineage/compile-lineage/extension/serve"
	"github.com/compilelineage/compile-lineage/tables"
)

const osqueryVersion = "5.23.1"

// Options configures Start.
type Options struct {
	Fixtures *Fixtures
	// Now is the replay's current time in unix seconds; 0 = Fixtures.Newest() (or the wall clock when the
	// fixtures have no events).
	Now    int64
	Logger hclog.Logger
	// Tables is passed to the extension; when Tables.Now is nil the harness sets it to Now.
	Tables tables.Options
	// Plugins replaces tables.All (tests register their own tables); nil = the real tables.
	Plugins serve.PluginsFunc
	// Platform is the platform to play (linux, darwin, windows); empty = guessed from the fixtures.
	Platform string
	// Daemon plays osqueryd over the recording in event time (see daemon and RunSchedule): events visible
	// at their own time, expired after the events expiry, events_optimize markers per scheduled query,
	// processes as running at the replay time. Now is then the replay clock's start.
	Daemon *DaemonOptions
	// NoDefaultIndex plays osqueryd started with --extensions_default_index=false; by default, as in osquery,
	// every default-option column of an extension table is an INDEX column.
	NoDefaultIndex bool
}

// DaemonOptions configures a harness playing osqueryd.
type DaemonOptions struct {
	// EventsExpiry is --events_expiry in seconds (osquery's default 3600; 0 = events never expire).
	EventsExpiry int64
	// Packs are the scheduled packs, which raise the expiry of event tables they read directly.
	Packs []*Pack
}

// Stats counts what the extension fetched from the core through the Thrift query API.
type Stats struct {
	Queries    int64
	RowsServed int64
	// CoreTime is the time the fake core spent running those queries in SQLite: what osquery
	// itself would spend, as opposed to the extension's own work.
	CoreTime time.Duration
	// Generates counts the generate calls the core made to extension tables, GeneratedRows the rows they
	// returned.
	Generates, GeneratedRows int64
	// EventRowsScanned counts the rows event tables handed to SQLite (each scan's time range), and
	// EventColumnReads the column values SQLite read from them (one xColumn call each): the work the
	// queries ask of osquery's event store, independent of the machine's speed.
	EventRowsScanned, EventColumnReads int64
}

// Harness is a running fake osquery with the extension attached.
type Harness struct {
	log         hclog.Logger
	dir         string
	sock        string
	db          *sql.DB
	core        *fakeCore
	server      *thrift.TSimpleServer
	serverDone  chan struct{}
	clients     extClients
	timeout     time.Duration
	callTimeout time.Duration
	platform    string
	now         int64
	// defaultIndex is osquery's --extensions_default_index.
	defaultIndex bool
	daemon       *daemon

	extCancel context.CancelFunc
	extDone   chan error
}

// Start builds the database, starts the fake core and the extension, and waits for the extension's
// registration.
func Start(ctx context.Context, opts Options) (*Harness, error) {
	fx := opts.Fixtures
	if fx == nil {
		fx = newFixtures()
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	now := opts.Now
	if now == 0 {
		now = fx.Newest()
	}
	if now == 0 {
		now = time.Now().Unix()
	}
	h := &Harness{
		log:          log,
		timeout:      5 * time.Second,
		callTimeout:  60 * time.Second,
		platform:     fx.Platform(),
		now:          now,
		serverDone:   make(chan struct{}),
		defaultIndex: !opts.NoDefaultIndex,
		daemon:       newDaemon(now),
	}
	if opts.Platform != "" {
		h.platform = opts.Platform
	}
	if opts.Daemon != nil {
		h.daemon.on = true
		h.daemon.expiry = eventsExpiry(opts.Daemon.EventsExpiry, opts.Daemon.Packs)
	}
	mem, err := h.buildTables(fx)
	if err != nil {
		return nil, err
	}
	if err := h.openDB(mem); err != nil {
		h.cleanup()
		return nil, err
	}
	if err := h.startCore(); err != nil {
		h.cleanup()
		return nil, err
	}
	if err := h.startExtension(ctx, opts); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// buildTables converts the fixtures to in-memory tables for the platform.
func (h *Harness) buildTables(fx *Fixtures) (map[string]*memTable, error) {
	schema := Schema()
	for _, name := range sortedKeys(fx.rows) {
		t := schema[name]
		if t == nil {
			return nil, fmt.Errorf("%s: unknown osquery table %s", fx.Origin(name, 0), name)
		}
		if !t.OnPlatform(h.platform) {
			where := fx.Origin(name, 0)
			if where == "" {
				where = "fixtures"
			}
			return nil, fmt.Errorf("%s: table %s does not exist on %s (platform chosen from the fixture tables)",
				where, name, h.platform)
		}
	}
	mem := map[string]*memTable{}
	for name, t := range schema {
		if !t.OnPlatform(h.platform) {
			continue
		}
		cols := t.ColumnsFor(h.platform)
		tr, given := fx.rows[name]
		var mt *memTable
		if given {
			if err := checkPlatformColumns(tr, h.platform); err != nil {
				return nil, err
			}
			src := newStoreSource(tr, cols, t.Evented)
			mt = newMemTable(name, cols, func() rowSource { return src })
		} else {
			empty := sliceSource{timeCol: -1}
			mt = newMemTable(name, cols, func() rowSource { return empty })
			if dyn := h.dynamicRows(name, cols, fx, schema); dyn != nil {
				mt.src = func() rowSource { return sliceSource{rows: dyn(), timeCol: -1} }
			}
		}
		if t.Evented {
			if tc := columnIndex(cols, "time"); tc >= 0 {
				mt.timeCol = tc
				mt.d = h.daemon
			}
		}
		mem[name] = mt
	}
	return mem, nil
}

func columnIndex(cols []Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// checkPlatformColumns fails on a fixture row that sets a column the table lacks on platform.
func checkPlatformColumns(tr *tableRows, platform string) error {
	var foreign []int
	for ci, c := range tr.table.Columns {
		if c.Platform != "" && !strings.Contains(c.Platform, platform) && c.AliasOf == "" {
			foreign = append(foreign, ci)
		}
	}
	for i, r := range tr.rows {
		for _, ci := range foreign {
			if _, ok := r.get(ci); ok {
				return fmt.Errorf("%s: column %s of %s does not exist on %s", tr.origin(i), tr.table.Columns[ci].Name,
					tr.table.Name, platform)
			}
		}
	}
	return nil
}

// fixtureValues converts rows to typed values; a missing eid gets a sequence number.
func fixtureValues(cols []Column, rows []map[string]string) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		vals := make([]any, len(cols))
		for j, c := range cols {
			s, ok := r[c.Name]
			if !ok && c.Name == "eid" {
				s, ok = fmt.Sprintf("%010d", i+1), true
			}
			if c.AliasOf != "" {
				s, ok = r[c.AliasOf]
			}
			if c.Type == "TEXT" || c.Type == "DATETIME" {
				if ok {
					vals[j] = s
				}
				continue
			}
			vals[j] = typedValue(c.Type, s, ok)
		}
		out[i] = vals
	}
	return out
}

// sqlite driver wrapper so that the virtual table modules of this harness stay private to its connections.
type connector struct {
	drv *sqlite.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

func (h *Harness) openDB(mem map[string]*memTable) error {
	dir, err := os.MkdirTemp("", "clr")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	h.dir = dir
	if runtime.GOOS == "windows" {
		h.sock = `\\.\pipe\compile_lineage_replay_` + uuid.NewString()[:8]
	} else {
		h.sock = filepath.Join(dir, "osquery.em")
	}
	drv := &sqlite.Driver{}
	if err := registerFunctions(drv, h.platform); err != nil {
		return err
	}
	if err := drv.RegisterModule("osquery_table", &fixtureModule{tables: mem}); err != nil {
		return err
	}
	if err := drv.RegisterModule("osquery_extension_table", &extModule{h: h}); err != nil {
		return err
	}
	// The schema lives in a file so every pooled connection sees it; the rows live in Go memory. Queries only
	// read, so a query and the extension's nested queries on other connections never wait on each other.
	h.db = sql.OpenDB(connector{drv: drv, dsn: "file:" + filepath.ToSlash(filepath.Join(dir, "osquery.db")) + "?_pragma=busy_timeout(5000)"})
	for _, name := range sortedKeys(mem) {
		if _, err := h.db.Exec("CREATE VIRTUAL TABLE " + quoteIdent(name) + " USING osquery_table"); err != nil {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	return nil
}

func (h *Harness) startCore() error {
	coreTables := map[string]bool{}
	for name, t := range Schema() {
		if t.OnPlatform(h.platform) {
			coreTables[name] = true
		}
	}
	h.core = newFakeCore(h.db, coreTables)
	srvTransport, err := transport.OpenServer(h.sock, h.timeout)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", h.sock, err)
	}
	h.server = thrift.NewTSimpleServer4(gen.NewExtensionManagerProcessor(h.core), srvTransport,
		// osquery's extension manager serves buffered transports (TBufferTransports).
		thrift.NewTBufferedTransportFactory(64<<10), thrift.NewTBinaryProtocolFactoryConf(nil))
	if err := h.server.Listen(); err != nil {
		return fmt.Errorf("listen on %s: %w", h.sock, err)
	}
	go func() {
		defer close(h.serverDone)
		if err := h.server.Serve(); err != nil {
			h.log.Debug("core server stopped", "error", err)
		}
	}()
	return nil
}

func (h *Harness) startExtension(ctx context.Context, opts Options) error {
	topts := opts.Tables
	if topts.Now == nil {
		topts.Now = func() time.Time { return time.Unix(h.daemon.now.Load(), 0).UTC() }
	}
	ectx, cancel := context.WithCancel(context.Background())
	h.extCancel = cancel
	h.extDone = make(chan error, 1)
	go func() {
		h.extDone <- serve.Run(ectx, serve.Config{
			Socket: h.sock, Timeout: h.timeout, Interval: time.Second,
			Logger: h.log.Named("extension"), Tables: topts, Version: "replay", Plugins: opts.Plugins,
		})
	}()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case <-h.core.registered:
	case err := <-h.extDone:
		h.extDone <- err
		return fmt.Errorf("extension did not register: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errors.New("extension did not register within 15s")
	}
	for _, e := range h.core.snapshotExtensions() {
		if err := waitForSocket(ctx, fmt.Sprintf("%s.%d", h.sock, e.uuid), h.timeout); err != nil {
			return err
		}
		for _, name := range e.order {
			if _, err := h.db.Exec("CREATE VIRTUAL TABLE " + quoteIdent(name) + " USING osquery_extension_table"); err != nil {
				return fmt.Errorf("create extension table %s: %w", name, err)
			}
		}
	}
	return nil
}

// Query runs SQL like osqueryi: every value as a string, NULL as "".
func (h *Harness) Query(ctx context.Context, sqlText string) ([]map[string]string, error) {
	return runQuery(ctx, h.db, sqlText)
}

// QueryOrdered runs SQL and keeps the result's column order.
func (h *Harness) QueryOrdered(ctx context.Context, sqlText string) ([]string, [][]string, error) {
	return orderedQuery(ctx, h.db, sqlText)
}

// Socket is the fake core's extension manager socket (a named pipe on Windows): what osqueryd's
// --extensions_socket is, for clients such as osquery-go's NewClient.
func (h *Harness) Socket() string { return h.sock }

// Platform returns the platform the harness plays (windows, linux or darwin).
func (h *Harness) Platform() string { return h.platform }

// Now returns the replay time in unix seconds.
func (h *Harness) Now() int64 { return h.daemon.now.Load() }

// Stats returns the counts of queries and rows the extension got through the Thrift query API.
func (h *Harness) Stats() Stats {
	return Stats{Queries: h.core.queries.Load(), RowsServed: h.core.rowsServed.Load(),
		CoreTime: time.Duration(h.core.coreNanos.Load()), Generates: h.core.generates.Load(), GeneratedRows: h.core.generatedRows.Load(),
		EventRowsScanned: h.daemon.scanned.Load(), EventColumnReads: h.daemon.reads.Load()}
}

// ResetStats sets the counters to zero.
func (h *Harness) ResetStats() {
	h.core.queries.Store(0)
	h.core.rowsServed.Store(0)
	h.core.coreNanos.Store(0)
	h.core.generates.Store(0)
	h.core.generatedRows.Store(0)
	h.daemon.scanned.Store(0)
	h.daemon.reads.Store(0)
}

// Close stops the extension and the core and removes the temporary files.
func (h *Harness) Close() error {
	h.clients.close()
	var err error
	if h.extCancel != nil {
		h.extCancel()
		select {
		case e := <-h.extDone:
			if e != nil {
				err = fmt.Errorf("extension: %w", e)
			}
		case <-time.After(2 * h.timeout):
			err = errors.New("extension did not stop")
		}
		h.extCancel = nil
	}
	h.cleanup()
	return err
}

func (h *Harness) cleanup() {
	if h.server != nil {
		stopped := make(chan struct{})
		go func() { _ = h.server.Stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(h.timeout):
			h.log.Debug("core server did not stop in time")
		}
		h.server = nil
	}
	if h.db != nil {
		h.db.Close()
		h.db = nil
	}
	if h.dir != "" {
		os.RemoveAll(h.dir)
		h.dir = ""
	}
}

// dynamicRows returns the rows of osquery's own tables when the fixtures do not give them.
func (h *Harness) dynamicRows(name string, cols []Column, fx *Fixtures, schema map[string]*Table) func() [][]any {
	static := func(rows []map[string]string) func() [][]any {
		v := fixtureValues(cols, rows)
		return func() [][]any { return v }
	}
	switch name {
	case "processes":
		if !h.daemon.on {
			return nil
		}
		lives := processLives(fx)
		return func() [][]any { return fixtureValues(cols, runningAt(lives, h.daemon.now.Load())) }
	case "osquery_info":
		return func() [][]any {
			exts := "inactive"
			if len(h.core.snapshotExtensions()) > 0 {
				exts = "active"
			}
			return fixtureValues(cols, []map[string]string{{
				"pid": "4242", "uuid": "4c4c4544-0000-0000-0000-000000000000", "instance_id": "replay",
				"version": osqueryVersion, "config_hash": "", "config_valid": "1", "extensions": exts,
				"build_platform": h.platform, "build_distro": "", "start_time": strconv.FormatInt(h.now, 10),
				"watcher": "-1", "platform_mask": platformMask[h.platform],
			}})
		}
	case "osquery_extensions":
		return func() [][]any {
			rows := []map[string]string{{"uuid": "0", "name": "core", "version": osqueryVersion,
				"sdk_version": "0.0.0", "path": h.sock, "type": "core"}}
			for _, e := range h.core.snapshotExtensions() {
				rows = append(rows, map[string]string{"uuid": strconv.FormatInt(int64(e.uuid), 10),
					"name": e.info.Name, "version": e.info.Version, "sdk_version": e.info.SdkVersion,
					"path": fmt.Sprintf("%s.%d", h.sock, e.uuid), "type": "extension"})
			}
			return fixtureValues(cols, rows)
		}
	case "osquery_registry":
		var core []map[string]string
		for _, n := range sortedKeys(schema) {
			if schema[n].OnPlatform(h.platform) {
				core = append(core, map[string]string{"registry": "table", "name": n, "owner_uuid": "0",
					"internal": "1", "active": "1"})
			}
		}
		return func() [][]any {
			rows := append([]map[string]string(nil), core...)
			for _, e := range h.core.snapshotExtensions() {
				for _, n := range e.order {
					rows = append(rows, map[string]string{"registry": "table", "name": n,
						"owner_uuid": strconv.FormatInt(int64(e.uuid), 10), "internal": "0", "active": "1"})
				}
			}
			return fixtureValues(cols, rows)
		}
	case "osquery_events":
		return static(eventsRows(fx, schema, h.platform))
	case "osquery_flags":
		var rows []map[string]string
		for _, f := range defaultFlags {
			if f.platform == "" || f.platform == h.platform {
				rows = append(rows, map[string]string{"name": f.name, "type": f.typ, "description": "",
					"default_value": f.value, "value": f.value, "shell_only": "0"})
			}
		}
		return static(rows)
	}
	return nil
}

// platformMask is osquery's PlatformType bits (POSIX 0x01, WINDOWS 0x02, LINUX 0x08, OSX 0x10).
var platformMask = map[string]string{"linux": "9", "darwin": "17", "windows": "2"}

// eventsRows builds osquery_events: one subscriber row per evented table of the platform (events = fixture
// rows, active = the fixture has the table, even empty) and one row per verified publisher.
func eventsRows(fx *Fixtures, schema map[string]*Table, platform string) []map[string]string {
	type pub struct{ subs, events, active int }
	pubs := map[string]*pub{}
	var rows []map[string]string
	for _, name := range sortedKeys(schema) {
		t := schema[name]
		if !t.Evented || !t.OnPlatform(platform) {
			continue
		}
		tr, present := fx.rows[name]
		active, events := 0, 0
		if present {
			active, events = 1, len(tr.rows)
		}
		publisher := t.Publisher[platform]
		rows = append(rows, map[string]string{"name": name, "publisher": publisher, "type": "subscriber",
			"subscriptions": strconv.Itoa(active), "events": strconv.Itoa(events), "refreshes": "0",
			"active": strconv.Itoa(active)})
		if publisher != "" {
			p := pubs[publisher]
			if p == nil {
				p = &pub{}
				pubs[publisher] = p
			}
			p.subs += active
			p.events += events
			if active == 1 {
				p.active = 1
			}
		}
	}
	names := make([]string, 0, len(pubs))
	for n := range pubs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := pubs[n]
		rows = append(rows, map[string]string{"name": n, "publisher": n, "type": "publisher",
			"subscriptions": strconv.Itoa(p.subs), "events": strconv.Itoa(p.events), "refreshes": "0",
			"active": strconv.Itoa(p.active)})
	}
	return rows
}

// defaultFlags are the defaults of the flags that enable evented tables (osquery-facts.md section 1 and 6).
var defaultFlags = []struct{ name, typ, value, platform string }{
	{"disable_events", "bool", "false", ""},
	{"events_expiry", "uint64", "3600", ""},
	{"events_max", "uint64", "50000", ""},
	{"events_optimize", "bool", "true", ""},
	{"disable_extensions", "bool", "false", ""},
	{"extensions_timeout", "string", "3", ""},
	{"extensions_interval", "string", "3", ""},
	{"thrift_timeout", "uint32", "300", ""},
	{"disable_audit", "bool", "true", "linux"},
	{"audit_allow_config", "bool", "false", "linux"},
	{"audit_allow_process_events", "bool", "true", "linux"},
	{"audit_persist", "bool", "true", "linux"},
	{"audit_allow_fork_process_events", "bool", "false", "linux"},
	{"audit_allow_kill_process_events", "bool", "false", "linux"},
	{"audit_backlog_limit", "int32", "4096", "linux"},
	{"audit_backlog_wait_time", "int32", "0", "linux"},
	{"audit_allow_sockets", "bool", "false", "linux"},
	{"audit_allow_accept_socket_events", "bool", "true", "linux"},
	{"audit_allow_failed_socket_events", "bool", "false", "linux"},
	{"audit_allow_null_accept_socket_events", "bool", "false", "linux"},
	{"audit_allow_fim_events", "bool", "false", "linux"},
	{"enable_file_events", "bool", "false", "linux"},
	{"enable_file_events", "bool", "false", "darwin"},
	{"disable_endpointsecurity", "bool", "true", "darwin"},
	{"disable_endpointsecurity_fim", "bool", "true", "darwin"},
	{"enable_ntfs_event_publisher", "bool", "false", "windows"},
	{"enable_process_etw_events", "bool", "false", "windows"},
	{"enable_dns_lookup_events", "bool", "false", "windows"},
	{"enable_windows_events_publisher", "bool", "false", "windows"},
	{"enable_windows_events_subscriber", "bool", "false", "windows"},
	{"enable_powershell_events_subscriber", "bool", "false", "windows"},
	{"windows_event_channels", "string", "System,Application,Setup,Security", "windows"},
}
