package replay

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// osquerySchemas is every table of osquery 5.23.1 as its specs (specs/**/*.table) declare it: platforms,
// evented, attributes and the columns in spec order with type, platform and options. It is a copy of the
// project's shared schema file; TestEmbeddedSchemaIsTheSharedOne keeps the two equal.
//
//go:embed osquery-5.23.1-schemas.json
var osquerySchemas []byte

// publishers are the event publishers of the evented tables the product reads, verified in osquery's source
// (the subscriber's init in osquery/tables/events/**). osquery_events names them.
var publishers = map[string]map[string]string{
	"process_events":         {"linux": "auditeventpublisher"},
	"socket_events":          {"linux": "auditeventpublisher"},
	"process_file_events":    {"linux": "auditeventpublisher"},
	"file_events":            {"linux": "inotify", "darwin": "fsevents"},
	"windows_events":         {"windows": "WindowsEventLogPublisher"},
	"powershell_events":      {"windows": "WindowsEventLogPublisher"},
	"es_process_events":      {"darwin": "endpointsecurity"},
	"es_process_file_events": {"darwin": "endpointsecurity_fim"},
	"bpf_process_events":     {"linux": "BPFEventPublisher"},
	"bpf_socket_events":      {"linux": "BPFEventPublisher"},
}

// Column is one column of an osquery table.
type Column struct {
	Name       string
	Type       string // TEXT, INTEGER, BIGINT, UNSIGNED_BIGINT, DOUBLE, DATETIME, BLOB
	Hidden     bool
	Required   bool
	Index      bool
	Additional bool
	Optimized  bool
	Collate    string // nocase, version, version_dpkg, version_rhel; empty = binary
	Platform   string // empty = every platform of the table
	// AliasOf is the column an alias column (osquery's "aliases" option) reads; aliases are hidden.
	AliasOf string
}

// Table is an osquery table schema.
type Table struct {
	Name       string
	Spec       string
	Platforms  []string // the platforms osquery builds the table for
	Evented    bool
	Attributes map[string]bool
	Publisher  map[string]string // platform -> event publisher name, when verified in osquery's source
	Columns    []Column          // every platform's columns, spec order, aliases last
}

type schemaFile struct {
	Version string `json:"osquery_version"`
	Tables  map[string]struct {
		Spec       string          `json:"spec"`
		Platform   string          `json:"platform"`
		Evented    bool            `json:"evented"`
		Attributes map[string]bool `json:"attributes"`
		Columns    []struct {
			Name       string   `json:"name"`
			Type       string   `json:"type"`
			Platform   string   `json:"platform"`
			Hidden     bool     `json:"hidden"`
			Required   bool     `json:"required"`
			Index      bool     `json:"index"`
			Additional bool     `json:"additional"`
			Optimized  bool     `json:"optimized"`
			Collate    string   `json:"collate"`
			Aliases    []string `json:"aliases"`
		} `json:"columns"`
	} `json:"tables"`
}

// parseSchemas decodes the schema file.
func parseSchemas(data []byte) (map[string]*Table, error) {
	var f schemaFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("osquery schema file: %w", err)
	}
	if f.Version != osqueryVersion {
		return nil, fmt.Errorf("osquery schema file: version %q, want %s", f.Version, osqueryVersion)
	}
	out := make(map[string]*Table, len(f.Tables))
	for name, st := range f.Tables {
		t := &Table{Name: name, Spec: st.Spec, Evented: st.Evented, Attributes: st.Attributes,
			Publisher: publishers[name]}
		for _, p := range strings.Split(st.Platform, ",") {
			if p == "linux" || p == "darwin" || p == "windows" {
				t.Platforms = append(t.Platforms, p)
			}
		}
		var aliases []Column
		for _, c := range st.Columns {
			col := Column{Name: c.Name, Type: c.Type, Hidden: c.Hidden, Required: c.Required, Index: c.Index,
				Additional: c.Additional, Optimized: c.Optimized, Collate: c.Collate, Platform: c.Platform}
			if col.Name == "" || col.Type == "" {
				return nil, fmt.Errorf("osquery schema file: table %s: column without name or type", name)
			}
			t.Columns = append(t.Columns, col)
			for _, a := range c.Aliases {
				aliases = append(aliases, Column{Name: a, Type: c.Type, Hidden: true, Platform: c.Platform, AliasOf: c.Name})
			}
		}
		t.Columns = append(t.Columns, aliases...)
		out[name] = t
	}
	return out, nil
}

var loadSchemas = sync.OnceValues(func() (map[string]*Table, error) { return parseSchemas(osquerySchemas) })

// Schema returns every osquery 5.23.1 table schema keyed by table name. The map is shared: do not modify it.
func Schema() map[string]*Table {
	s, err := loadSchemas()
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return s
}

// OnPlatform reports whether the table exists on platform.
func (t *Table) OnPlatform(platform string) bool {
	for _, p := range t.Platforms {
		if p == platform {
			return true
		}
	}
	return false
}

// ColumnsFor returns the table's columns on platform (all columns when platform is empty).
func (t *Table) ColumnsFor(platform string) []Column {
	var out []Column
	for _, c := range t.Columns {
		if platform == "" || c.Platform == "" || c.Platform == platform {
			out = append(out, c)
		}
	}
	return out
}

// column returns the column named name (any platform).
func (t *Table) column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// isNumeric reports whether values of type typ are integers or reals in SQLite.
func isNumeric(typ string) bool {
	switch typ {
	case "INTEGER", "BIGINT", "UNSIGNED_BIGINT", "DOUBLE":
		return true
	}
	return false
}
