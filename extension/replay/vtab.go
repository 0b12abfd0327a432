package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
	"modernc.org/sqlite/vtab"
)

// Every osquery table is a virtual table in osquery itself; the harness does the same so that hidden columns
// stay out of SELECT * and extension tables see real constraints.

// memTable serves rows held in memory (fixture rows or rows computed per scan).
type memTable struct {
	name string
	cols []Column
	// src returns the rows for one scan.
	src func() rowSource
	// timeCol is the index of `time` in an evented table whose rows are sorted by it, else -1.
	// osquery's event subscribers read only the requested time range from their store
	// (EventSubscriber::get(start, stop)); the harness answers time constraints the same way.
	timeCol int
	// withoutRowid: osquery declares the table WITHOUT ROWID; keyCols are its index columns, if any.
	withoutRowid bool
	keyCols      []int
	keyMu        sync.Mutex
	keyIDs       map[string]int64
	// d is the harness's daemon state (event tables only).
	d *daemon
}

// rowSource is the rows of one scan: typed values (nil = NULL) and, for event tables, times in order.
type rowSource interface {
	len() int
	value(i, col int) any
	time(i int) int64
}

// sliceSource serves rows computed per scan.
type sliceSource struct {
	rows    [][]any
	timeCol int
}

func (s sliceSource) len() int             { return len(s.rows) }
func (s sliceSource) value(i, col int) any { return s.rows[i][col] }
func (s sliceSource) time(i int) int64     { return rowTimeAt(s.rows, i, s.timeCol) }

// newMemTable makes the table serving rows with the schema cols.
func newMemTable(name string, cols []Column, src func() rowSource) *memTable {
	t := &memTable{name: name, cols: cols, src: src, timeCol: -1}
	_, t.withoutRowid = declareSQL(name, cols, false)
	for i, c := range cols {
		if c.Index {
			t.keyCols = append(t.keyCols, i)
		}
	}
	return t
}

// keyID returns the number of row i's key (its index column values).
func (t *memTable) keyID(src rowSource, i int) int64 {
	var b strings.Builder
	for _, ci := range t.keyCols {
		v := src.value(i, ci)
		fmt.Fprintf(&b, "%T:%v\x00", v, v)
	}
	t.keyMu.Lock()
	defer t.keyMu.Unlock()
	if t.keyIDs == nil {
		t.keyIDs = map[string]int64{}
	}
	id, ok := t.keyIDs[b.String()]
	if !ok {
		id = int64(len(t.keyIDs))
		t.keyIDs[b.String()] = id
	}
	return id
}

// declareSQL returns the CREATE TABLE statement for sqlite3_declare_vtab, as osquery's columnDefinition
// (osquery/core/tables.cpp) writes it: hidden columns HIDDEN, collations, and for tables with index or
// additional columns a PRIMARY KEY over them (all columns when none is an index). osquery also declares such
// core tables WITHOUT ROWID, so SQLite tells their rows apart by the key; modernc.org/sqlite always gives a
// module xUpdate, which SQLite refuses for WITHOUT ROWID virtual tables, so the harness keeps the rowid and
// makes it stand for the key instead (memCursor.Rowid). Extension tables keep their rowid in osquery too.
// withoutRowid reports whether osquery would declare the table WITHOUT ROWID.
func declareSQL(name string, cols []Column, extension bool) (stmt string, withoutRowid bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s(", quoteIdent(name))
	indexed := false
	var pkeys []string
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c.Name))
		b.WriteByte(' ')
		b.WriteString(strings.ReplaceAll(c.Type, "_", " "))
		if c.Index {
			indexed = true
		}
		if c.Index || c.Additional {
			pkeys = append(pkeys, c.Name)
			withoutRowid = true
		}
		if c.Hidden {
			b.WriteString(" HIDDEN")
		}
		if c.Collate != "" {
			b.WriteString(" COLLATE " + strings.ToUpper(c.Collate))
		}
	}
	if !indexed && withoutRowid {
		pkeys = pkeys[:0]
		for _, c := range cols {
			pkeys = append(pkeys, c.Name)
		}
	}
	if len(pkeys) > 0 {
		b.WriteString(", PRIMARY KEY (")
		for i, k := range pkeys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteIdent(k))
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return b.String(), withoutRowid && !extension
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// typedValue converts an osquery string value to the SQLite value of its column type, like osquery's xColumn:
// numeric columns get integers/reals, empty or unparsable numbers are NULL.
func typedValue(typ, s string, present bool) any {
	if !present {
		return nil
	}
	switch strings.ReplaceAll(typ, " ", "_") {
	case "INTEGER", "BIGINT", "UNSIGNED_BIGINT":
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v
		}
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return int64(v)
		}
		return nil
	case "DOUBLE":
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v
		}
		return nil
	}
	return s
}

// fixtureModule creates memTables by name.
type fixtureModule struct {
	tables map[string]*memTable
}

func (m *fixtureModule) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return m.Connect(ctx, args)
}

func (m *fixtureModule) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	if len(args) < 3 {
		return nil, errors.New("fixture table without a name")
	}
	t, ok := m.tables[args[2]]
	if !ok {
		return nil, fmt.Errorf("no table %s", args[2])
	}
	stmt, _ := declareSQL(t.name, t.cols, false)
	if err := ctx.Declare(stmt); err != nil {
		return nil, fmt.Errorf("declare %s: %w", t.name, err)
	}
	return t, nil
}

// sensibleComparison is osquery's: range comparisons on TEXT columns are never passed to a table.
func sensibleComparison(typ string, op int) bool {
	return !(strings.EqualFold(typ, "TEXT") && (op == 4 || op == 8 || op == 16 || op == 32))
}

// planColumn is what osquery's xBestIndex knows of a column.
type planColumn struct {
	typ              string
	required, passed bool // passed: index or additional
}

// bestIndex is osquery's xBestIndex (osquery/sql/virtual_table.cpp): constraints on required, index or
// additional columns are passed to the table (cost 1), range comparisons on TEXT columns never are, the rest
// is left to SQLite, which filters every row again; a query that uses a required column without constraining
// one costs kMaxIndexCost. The plan reaches Filter through IdxStr.
func bestIndex(info *vtab.IndexInfo, cols []planColumn) error {
	p := plan{ColUsed: info.ColUsed}
	cost := float64(maxIndexCost)
	hasRequiredConstraint := false
	for i, c := range info.Constraints {
		if !c.Usable || c.Column < 0 || c.Column >= len(cols) {
			continue
		}
		op, ok := osqueryOps[c.Op]
		if !ok {
			continue
		}
		col := cols[c.Column]
		if !sensibleComparison(col.typ, op) {
			cost += 10
			continue
		}
		switch {
		case col.required:
			hasRequiredConstraint = true
			cost = 1
		case col.passed:
			cost = 1
		default:
			continue // not indexed: SQLite filters it
		}
		info.Constraints[i].ArgIndex = len(p.Cols)
		info.Constraints[i].Omit = false
		p.Cols = append(p.Cols, c.Column)
		p.Ops = append(p.Ops, op)
	}
	for i, col := range cols {
		if colUsed(info.ColUsed, i) && col.required && !hasRequiredConstraint {
			cost = maxIndexCost
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	info.IdxStr = string(b)
	info.EstimatedCost = cost
	return nil
}

// BestIndex plans a scan of one of osquery's own tables.
func (t *memTable) BestIndex(info *vtab.IndexInfo) error {
	cols := make([]planColumn, len(t.cols))
	for i, c := range t.cols {
		cols[i] = planColumn{typ: c.Type, required: c.Required, passed: c.Index || c.Additional}
	}
	return bestIndex(info, cols)
}

// eventRows is what an event subscriber's genTable yields from its time-sorted store: the events visible
// now (see daemon), narrowed to the plan's time constraints when there are any (osquery reads only that range
// of its index), or else cut by the --events_optimize marker of the executing scheduled query. It returns the
// range [first, end) of src.
func (t *memTable) eventRows(src rowSource, p plan, vals []vtab.Value) (first, end int) {
	lo, hi := t.d.window(t.name, src)
	timed := false
	for i, ci := range p.Cols {
		if ci == t.timeCol && i < len(vals) && exprString(vals[i]) != "" {
			timed = true
		}
	}
	if !timed {
		first, _ := t.d.optimize(src, lo, hi)
		return first, hi
	}
	return t.timeRange(src, lo, hi, p, vals)
}

// timeRange narrows [lo, hi) of time-sorted rows to the time constraints of a plan as osquery 5.23.1's
// EventSubscriberPlugin::genTable does: `=` reads that second only (and ends the reading of constraints), `>`
// and `>=` raise the start; `<` and `<=` narrow nothing, because genTable starts its unsigned stop at 0 ("no
// end") and keeps min(stop, value), which stays 0, so a scan with an upper bound reads to the end of the
// buffer and SQLite drops the newer rows.
func (t *memTable) timeRange(src rowSource, lo, hi int, p plan, vals []vtab.Value) (first, end int) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
constraints:
	for i, ci := range p.Cols {
		if ci != t.timeCol || i >= len(vals) {
			continue
		}
		var v int64
		switch x := vals[i].(type) {
		case int64:
			v = x
		case float64:
			v = int64(x)
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				continue // not a number: SQLite filters it
			}
			v = n
		default:
			continue
		}
		switch p.Ops[i] {
		case 2:
			from, to = v, v
			break constraints
		case 4:
			from = max(from, v+1)
		case 32:
			from = max(from, v)
		}
	}
	first = lo + sort.Search(hi-lo, func(i int) bool { return src.time(lo+i) >= from })
	end = lo + sort.Search(hi-lo, func(i int) bool { return src.time(lo+i) > to })
	return first, max(first, end)
}

func (t *memTable) Open() (vtab.Cursor, error) { return &memCursor{t: t}, nil }
func (t *memTable) Disconnect() error          { return nil }
func (t *memTable) Destroy() error             { return nil }

type memCursor struct {
	t               *memTable
	src             rowSource
	start, end, pos int // the scan yields src rows [start, end); pos is the current one
	reads           int64
}

func (c *memCursor) Filter(idxNum int, idxStr string, vals []vtab.Value) error {
	var p plan
	if idxStr != "" {
		if err := json.Unmarshal([]byte(idxStr), &p); err != nil {
			return fmt.Errorf("%s: bad plan: %w", c.t.name, err)
		}
	}
	if err := requiredSatisfied(c.t.name, c.t.cols, p.Cols); err != nil {
		return err
	}
	c.src = c.t.src()
	c.start, c.end = 0, c.src.len()
	if c.t.timeCol >= 0 {
		c.start, c.end = c.t.eventRows(c.src, p, vals)
		c.t.d.scanned.Add(int64(c.end - c.start))
	}
	c.pos = c.start
	return nil
}

// requiredSatisfied is osquery's xFilter check: a table with required columns fails the query unless the
// plan passes a constraint on one of them, whatever its value.
func requiredSatisfied(table string, cols []Column, planned []int) error {
	required := false
	for _, c := range cols {
		required = required || c.Required
	}
	if !required {
		return nil
	}
	for _, ci := range planned {
		if cols[ci].Required {
			return nil
		}
	}
	return fmt.Errorf("Table %s was queried without a required column in the WHERE clause", table)
}

func (c *memCursor) Next() error { c.pos++; return nil }
func (c *memCursor) Eof() bool   { return c.pos >= c.end }
func (c *memCursor) Close() error {
	if c.t.timeCol >= 0 {
		c.t.d.reads.Add(c.reads)
	}
	c.src, c.reads = nil, 0
	return nil
}
func (c *memCursor) Column(col int) (vtab.Value, error) {
	if col < 0 || col >= len(c.t.cols) {
		return nil, nil
	}
	c.reads++
	return c.src.value(c.pos, col), nil
}

// Rowid stands for the primary key osquery would declare (see declareSQL). A table whose key is every column
// (no index column) numbers its rows by their place in the whole store, which tells distinct rows apart as the
// key does; a table with index columns gets one number per distinct key value, so rows sharing the key are one
// row to SQLite, as in osquery; a table without a key numbers rows by their position in the current result,
// like osquery's xRowid.
func (c *memCursor) Rowid() (int64, error) {
	switch {
	case len(c.t.keyCols) > 0:
		return c.t.keyID(c.src, c.pos), nil
	case c.t.withoutRowid:
		return int64(c.pos), nil
	}
	return int64(c.pos - c.start), nil
}

// extModule exposes the tables an extension registered; every scan calls the extension over Thrift.
type extModule struct {
	h *Harness
}

func (m *extModule) Create(ctx vtab.Context, args []string) (vtab.Table, error) {
	return m.Connect(ctx, args)
}

func (m *extModule) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	if len(args) < 3 {
		return nil, errors.New("extension table without a name")
	}
	name := args[2]
	_, cols, ok := m.h.core.extensionTable(name)
	if !ok {
		return nil, fmt.Errorf("no extension registered table %s", name)
	}
	decl := make([]Column, len(cols))
	for i, c := range cols {
		decl[i] = Column{Name: c.Name, Type: c.Type, Hidden: c.Op&opHidden != 0, Index: c.Op&opIndex != 0,
			Additional: c.Op&opAdditional != 0}
	}
	stmt, _ := declareSQL(name, decl, true)
	if err := ctx.Declare(stmt); err != nil {
		return nil, fmt.Errorf("declare %s: %w", name, err)
	}
	// osquery's --extensions_default_index (default true, osquery/sql/virtual_table.cpp): a column of an
	// extension table registered with default options is an INDEX column, so every constraint on it reaches
	// the extension, and an IN list or a join calls generate once per value.
	planned := make([]routeColumn, len(cols))
	for i, c := range cols {
		planned[i] = c
		if c.Op == 0 && m.h.defaultIndex {
			planned[i].Op = opIndex
		}
	}
	cols = planned
	return &extTable{h: m.h, name: name, cols: cols}, nil
}

type extTable struct {
	h    *Harness
	name string
	cols []routeColumn
}

// osqueryOps maps SQLite's constraint operators to the codes osquery sends (SQLITE_INDEX_CONSTRAINT_*, as in
// osquery/core/tables.h ConstraintOperator). Operators without a right-hand value are not listed.
var osqueryOps = map[vtab.ConstraintOp]int{
	vtab.OpEQ: 2, vtab.OpGT: 4, vtab.OpLE: 8, vtab.OpLT: 16, vtab.OpGE: 32,
	vtab.OpMATCH: 64, vtab.OpLIKE: 65, vtab.OpGLOB: 66, vtab.OpREGEXP: 67, vtab.OpNE: 68, vtab.OpISNOT: 69,
	vtab.OpIS: 72,
}

// osquery's kMaxIndexCost.
const maxIndexCost = 1000000

// plan is what BestIndex hands to Filter through IdxStr.
type plan struct {
	Cols    []int  `json:"c"`
	Ops     []int  `json:"o"`
	ColUsed uint64 `json:"u"`
}

// BestIndex plans a scan of an extension table.
func (t *extTable) BestIndex(info *vtab.IndexInfo) error {
	cols := make([]planColumn, len(t.cols))
	for i, c := range t.cols {
		cols[i] = planColumn{typ: c.Type, required: c.Op&opRequired != 0, passed: c.Op&(opIndex|opAdditional) != 0}
	}
	return bestIndex(info, cols)
}

func colUsed(used uint64, i int) bool {
	if i >= 63 {
		i = 63
	}
	return used&(1<<uint(i)) != 0
}

func (t *extTable) Open() (vtab.Cursor, error) { return &extCursor{t: t}, nil }
func (t *extTable) Disconnect() error          { return nil }
func (t *extTable) Destroy() error             { return nil }

type extCursor struct {
	t    *extTable
	rows []map[string]string
	i    int
}

// queryContext is the JSON osquery sends as the "context" of a generate call
// (TablePlugin::setRequestFromContext): every column of the table, sorted by name, with its constraint list.
type queryContext struct {
	Constraints    []constraintList `json:"constraints"`
	ColsUsed       []string         `json:"colsUsed"`
	ColsUsedBitset uint64           `json:"colsUsedBitset"`
}

type constraintList struct {
	Name     string       `json:"name"`
	List     []constraint `json:"list"`
	Affinity string       `json:"affinity"`
}

type constraint struct {
	Op   int    `json:"op"`
	Expr string `json:"expr"`
}

func (c *extCursor) Filter(idxNum int, idxStr string, vals []vtab.Value) error {
	var p plan
	if idxStr != "" {
		if err := json.Unmarshal([]byte(idxStr), &p); err != nil {
			return fmt.Errorf("%s: bad plan: %w", c.t.name, err)
		}
	}
	byName := map[string]*constraintList{}
	names := make([]string, 0, len(c.t.cols))
	requiredCol := false
	for _, col := range c.t.cols {
		if _, dup := byName[col.Name]; !dup {
			names = append(names, col.Name)
		}
		byName[col.Name] = &constraintList{Name: col.Name, Affinity: col.Type, List: []constraint{}}
		if col.Op&opRequired != 0 {
			requiredCol = true
		}
	}
	requiredOK := !requiredCol
	for i, ci := range p.Cols {
		col := c.t.cols[ci]
		if col.Op&opRequired != 0 {
			requiredOK = true
		}
		if i >= len(vals) {
			continue
		}
		expr := exprString(vals[i])
		if expr == "" { // osquery skips values SQLite renders as NULL or ""
			continue
		}
		byName[col.Name].List = append(byName[col.Name].List, constraint{Op: p.Ops[i], Expr: expr})
	}
	if !requiredOK {
		return fmt.Errorf("%s: constraint failed: table %s was queried without a required column in the WHERE clause",
			c.t.name, c.t.name)
	}
	sort.Strings(names)
	qc := queryContext{ColsUsedBitset: p.ColUsed, ColsUsed: []string{}}
	for _, n := range names {
		qc.Constraints = append(qc.Constraints, *byName[n])
	}
	for i, col := range c.t.cols {
		if colUsed(p.ColUsed, i) {
			qc.ColsUsed = append(qc.ColsUsed, col.Name)
		}
	}
	ctxJSON, err := json.Marshal(qc)
	if err != nil {
		return err
	}
	rows, err := c.t.h.generate(c.t.name, string(ctxJSON))
	if err != nil {
		return err
	}
	c.rows = rows
	c.i = 0
	return nil
}

// exprString renders a constraint value like sqlite3_value_text.
func exprString(v vtab.Value) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', 15, 64)
		if !strings.ContainsAny(s, ".eEnN") {
			s += ".0"
		}
		return s
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func (c *extCursor) Next() error  { c.i++; return nil }
func (c *extCursor) Eof() bool    { return c.i >= len(c.rows) }
func (c *extCursor) Close() error { c.rows = nil; return nil }
func (c *extCursor) Column(col int) (vtab.Value, error) {
	if col < 0 || col >= len(c.t.cols) {
		return nil, nil
	}
	rc := c.t.cols[col]
	v, ok := c.rows[c.i][rc.Name]
	return typedValue(rc.Type, v, ok), nil
}
func (c *extCursor) Rowid() (int64, error) { return int64(c.i), nil }

// extClients pools Thrift clients to extension sockets; a generate call may nest inside another one (a table
// that queries another extension table), so each call takes its own connection.
type extClients struct {
	mu     sync.Mutex
	free   map[string][]*extClient
	all    []*extClient
	closed bool
}

type extClient struct {
	sock   string
	trans  *thrift.TSocket
	client *gen.ExtensionClient
}

func (p *extClients) get(sock string, timeout time.Duration) (*extClient, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("harness closed")
	}
	if l := p.free[sock]; len(l) > 0 {
		c := l[len(l)-1]
		p.free[sock] = l[:len(l)-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	trans, err := dialExtension(sock, timeout)
	if err != nil {
		return nil, fmt.Errorf("connect to extension at %s: %w", sock, err)
	}
	// osquery's client to an extension (EXInternal, osquery/extensions/thrift/impl_thrift.cpp) reads and writes
	// through a TBufferedTransport: a generate's rows arrive in large reads, not one read per Thrift field.
	c := &extClient{sock: sock, trans: trans,
		client: gen.NewExtensionClientFactory(thrift.NewTBufferedTransport(trans, 64<<10), thrift.NewTBinaryProtocolFactoryConf(nil))}
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

// dialExtension connects to an extension's socket. osquery-go's transport.Open polls for a unix socket every
// 200 ms before dialing; the harness already waited for the socket, so it dials at once.
func dialExtension(sock string, timeout time.Duration) (*thrift.TSocket, error) {
	if runtime.GOOS == "windows" {
		return transport.Open(sock, timeout)
	}
	addr, err := net.ResolveUnixAddr("unix", sock)
	if err != nil {
		return nil, err
	}
	trans := thrift.NewTSocketFromAddrConf(addr, &thrift.TConfiguration{ConnectTimeout: timeout, SocketTimeout: timeout})
	if err := trans.Open(); err != nil {
		return nil, err
	}
	return trans, nil
}

// waitForSocket waits until a unix socket file exists (named pipes are waited for by the dial).
func waitForSocket(ctx context.Context, sock string, timeout time.Duration) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("extension socket %s did not appear within %v", sock, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (p *extClients) put(c *extClient, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if broken || p.closed {
		c.trans.Close()
		return
	}
	if p.free == nil {
		p.free = map[string][]*extClient{}
	}
	p.free[c.sock] = append(p.free[c.sock], c)
}

func (p *extClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.all {
		c.trans.Close()
	}
	p.all, p.free = nil, nil
}

// generate asks the extension that owns table for its rows, like osquery's core does.
func (h *Harness) generate(table, ctxJSON string) ([]map[string]string, error) {
	h.core.generates.Add(1)
	uuid, _, ok := h.core.extensionTable(table)
	if !ok {
		return nil, fmt.Errorf("%s: the extension that registered it is gone", table)
	}
	sock := fmt.Sprintf("%s.%d", h.sock, uuid)
	c, err := h.clients.get(sock, h.timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.callTimeout)
	defer cancel()
	resp, err := c.client.Call(ctx, "table", table, gen.ExtensionPluginRequest{"action": "generate", "context": ctxJSON})
	h.clients.put(c, err != nil)
	if err != nil {
		return nil, fmt.Errorf("%s: extension call: %w", table, err)
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("%s: extension returned no status", table)
	}
	if resp.Status.Code != 0 {
		return nil, fmt.Errorf("%s: %s", table, resp.Status.Message)
	}
	h.core.generatedRows.Add(int64(len(resp.Response)))
	return resp.Response, nil
}
