package replay

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"
)

// fakeCore implements the osquery core's Thrift extension manager API (osquery.thrift ExtensionManager) over
// the harness's SQLite database.
type fakeCore struct {
	db      *sql.DB
	version string

	rowsServed atomic.Int64
	coreNanos  atomic.Int64
	queries    atomic.Int64
	generates  atomic.Int64
	// generatedRows counts the rows extension generates returned.
	generatedRows atomic.Int64

	mu         sync.Mutex
	nextUUID   gen.ExtensionRouteUUID
	extensions map[gen.ExtensionRouteUUID]*registeredExtension
	registered chan struct{} // closed at the first successful registration
	coreTables map[string]bool
}

// registeredExtension is what an extension told the core at registration.
type registeredExtension struct {
	uuid   gen.ExtensionRouteUUID
	info   gen.InternalExtensionInfo
	tables map[string][]routeColumn
	order  []string
}

// routeColumn is one column route of an extension table: {"id":"column","name","type","op"}.
type routeColumn struct {
	Name string
	Type string
	Op   int
}

// Column option bits of a route's "op" (osquery ColumnOptions).
const (
	opIndex      = 1
	opRequired   = 2
	opAdditional = 4
	opOptimized  = 8
	opHidden     = 16
)

func newFakeCore(db *sql.DB, coreTables map[string]bool) *fakeCore {
	return &fakeCore{
		db:         db,
		version:    osqueryVersion,
		nextUUID:   1,
		extensions: map[gen.ExtensionRouteUUID]*registeredExtension{},
		registered: make(chan struct{}),
		coreTables: coreTables,
	}
}

func ok() *gen.ExtensionStatus { return &gen.ExtensionStatus{Code: 0, Message: "OK"} }

func failure(msg string) *gen.ExtensionStatus { return &gen.ExtensionStatus{Code: 1, Message: msg} }

func (c *fakeCore) Ping(ctx context.Context) (*gen.ExtensionStatus, error) { return ok(), nil }

func (c *fakeCore) Call(ctx context.Context, registry, item string, req gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: failure("the replay core has no plugin " + registry + "." + item)}, nil
}

func (c *fakeCore) Shutdown(ctx context.Context) error { return nil }

func (c *fakeCore) Extensions(ctx context.Context) (gen.InternalExtensionList, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := gen.InternalExtensionList{0: {Name: "core", Version: c.version, SdkVersion: "0.0.0"}}
	for id, e := range c.extensions {
		info := e.info
		out[id] = &info
	}
	return out, nil
}

func (c *fakeCore) Options(ctx context.Context) (gen.InternalOptionList, error) {
	out := gen.InternalOptionList{}
	for _, f := range defaultFlags {
		out[f.name] = &gen.InternalOptionInfo{Value: f.value, DefaultValue: f.value, Type: f.typ}
	}
	return out, nil
}

func (c *fakeCore) RegisterExtension(ctx context.Context, info *gen.InternalExtensionInfo, registry gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	if info == nil {
		return failure("missing extension info"), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ext := &registeredExtension{info: *info, tables: map[string][]routeColumn{}}
	for _, e := range c.extensions {
		if e.info.Name == info.Name {
			return failure("Duplicate extension registered"), nil
		}
	}
	for regName, routes := range registry {
		for item, route := range routes {
			if regName != "table" {
				continue
			}
			if c.coreTables[item] || c.ownerOf(item) != nil {
				return failure("Duplicate registry item: " + item), nil
			}
			cols := make([]routeColumn, 0, len(route))
			for _, r := range route {
				if r["id"] != "column" {
					continue
				}
				op, _ := strconv.Atoi(r["op"])
				cols = append(cols, routeColumn{Name: r["name"], Type: r["type"], Op: op})
			}
			if len(cols) == 0 {
				return failure("table " + item + " has no columns"), nil
			}
			ext.tables[item] = cols
			ext.order = append(ext.order, item)
		}
	}
	sort.Strings(ext.order)
	ext.uuid = c.nextUUID
	c.nextUUID++
	c.extensions[ext.uuid] = ext
	select {
	case <-c.registered:
	default:
		close(c.registered)
	}
	st := ok()
	st.UUID = ext.uuid
	return st, nil
}

// ownerOf returns the extension that registered table, nil if none. c.mu must be held.
func (c *fakeCore) ownerOf(table string) *registeredExtension {
	for _, e := range c.extensions {
		if _, ok := e.tables[table]; ok {
			return e
		}
	}
	return nil
}

// extensionTable returns the owner's UUID and the columns of an extension table.
func (c *fakeCore) extensionTable(table string) (gen.ExtensionRouteUUID, []routeColumn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.ownerOf(table)
	if e == nil {
		return 0, nil, false
	}
	return e.uuid, e.tables[table], true
}

// snapshotExtensions returns the registered extensions ordered by UUID.
func (c *fakeCore) snapshotExtensions() []*registeredExtension {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*registeredExtension, 0, len(c.extensions))
	for _, e := range c.extensions {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uuid < out[j].uuid })
	return out
}

func (c *fakeCore) DeregisterExtension(ctx context.Context, uuid gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.extensions[uuid]; !ok {
		return failure("No extension UUID registered"), nil
	}
	delete(c.extensions, uuid)
	return ok(), nil
}

// Query runs SQL for an extension; rows and queries are counted for Stats.
func (c *fakeCore) Query(ctx context.Context, sqlText string) (*gen.ExtensionResponse, error) {
	c.queries.Add(1)
	start := time.Now()
	rows, err := runQuery(ctx, c.db, sqlText)
	c.coreNanos.Add(int64(time.Since(start)))
	if err != nil {
		return &gen.ExtensionResponse{Status: failure(err.Error())}, nil
	}
	c.rowsServed.Add(int64(len(rows)))
	return &gen.ExtensionResponse{Status: ok(), Response: rows}, nil
}

func (c *fakeCore) GetQueryColumns(ctx context.Context, sqlText string) (*gen.ExtensionResponse, error) {
	rows, err := c.db.QueryContext(ctx, sqlText)
	if err != nil {
		return &gen.ExtensionResponse{Status: failure(err.Error())}, nil
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return &gen.ExtensionResponse{Status: failure(err.Error())}, nil
	}
	out := gen.ExtensionPluginResponse{}
	for _, t := range types {
		typ := t.DatabaseTypeName()
		if typ == "" {
			typ = "UNKNOWN"
		}
		out = append(out, map[string]string{t.Name(): typ})
	}
	return &gen.ExtensionResponse{Status: ok(), Response: out}, nil
}

// runQuery runs sqlText and returns every row as strings (NULL as "", like osquery's Thrift API).
func runQuery(ctx context.Context, db *sql.DB, sqlText string) ([]map[string]string, error) {
	rows, err := db.QueryContext(ctx, sqlText)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]string{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[c] = valueString(vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// orderedQuery is runQuery keeping the column order.
func orderedQuery(ctx context.Context, db *sql.DB, sqlText string) ([]string, [][]string, error) {
	rows, err := db.QueryContext(ctx, sqlText)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(cols))
		for i := range cols {
			row[i] = valueString(vals[i])
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

func valueString(v any) string {
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
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	default:
		return fmt.Sprint(x)
	}
}
