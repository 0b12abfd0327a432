package replay

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedSchemaIsTheSharedOne(t *testing.T) {
	shared, err := os.ReadFile("../../../shared/osquery-5.23.1-schemas.json")
	if err != nil {
		t.Skipf("shared schema file not available: %v", err)
	}
	if !bytes.Equal(shared, osquerySchemas) {
		t.Fatal("extension/replay/osquery-5.23.1-schemas.json differs from ../shared/osquery-5.23.1-schemas.json")
	}
}

// TestEveryOsqueryTable checks every table of osquery 5.23.1 on each platform osquery builds it for: the
// columns SQLite sees (order, type, hidden) are the spec's, a table without fixture rows is empty, and a table
// with required columns fails an unconstrained query with osquery's error and answers a constrained one.
func TestEveryOsqueryTable(t *testing.T) {
	schema := Schema()
	if len(schema) != 286 {
		t.Fatalf("schema has %d tables, want 286", len(schema))
	}
	seen := map[string]bool{}
	// The tables the harness fills itself (dynamicRows): osquery describes itself in them.
	filled := map[string]bool{"osquery_events": true, "osquery_extensions": true, "osquery_flags": true,
		"osquery_info": true, "osquery_registry": true}
	for _, platform := range []string{"linux", "darwin", "windows"} {
		t.Run(platform, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h, err := Start(ctx, Options{Fixtures: newFixtures(), Platform: platform})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			names := make([]string, 0, len(schema))
			for n := range schema {
				names = append(names, n)
			}
			sort.Strings(names)
			served := 0
			for _, name := range names {
				tbl := schema[name]
				_, err := h.Query(ctx, "SELECT 1 FROM "+quoteIdent(name)+" LIMIT 1")
				if !tbl.OnPlatform(platform) {
					if err == nil || !strings.Contains(err.Error(), "no such table") {
						t.Errorf("%s is not built for %s but answered: %v", name, platform, err)
					}
					continue
				}
				served++
				seen[name] = true
				checkColumns(t, h, tbl, platform)
				rows, err := h.Query(ctx, "SELECT * FROM "+quoteIdent(name))
				var required []Column
				for _, c := range tbl.ColumnsFor(platform) {
					if c.Required {
						required = append(required, c)
					}
				}
				if filled[name] {
					if err != nil || len(rows) == 0 {
						t.Errorf("%s: SELECT * = %d rows, %v; want the harness's own rows", name, len(rows), err)
					}
					continue
				}
				if len(required) == 0 {
					if err != nil || len(rows) != 0 {
						t.Errorf("%s: SELECT * = %d rows, %v; want 0 rows", name, len(rows), err)
					}
					continue
				}
				want := fmt.Sprintf("Table %s was queried without a required column in the WHERE clause", name)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: SELECT * error %v, want %q", name, err, want)
				}
				where := quoteIdent(required[0].Name) + " = 'x'"
				if isNumeric(required[0].Type) {
					where = quoteIdent(required[0].Name) + " = 1"
				}
				if rows, err := h.Query(ctx, "SELECT * FROM "+quoteIdent(name)+" WHERE "+where); err != nil || len(rows) != 0 {
					t.Errorf("%s WHERE %s = %d rows, %v; want 0 rows", name, where, len(rows), err)
				}
			}
			if served == 0 {
				t.Fatal("no table served")
			}
		})
	}
	if len(seen) != len(schema) {
		for n := range schema {
			if !seen[n] {
				t.Errorf("table %s is served on no platform", n)
			}
		}
	}
}

func checkColumns(t *testing.T, h *Harness, tbl *Table, platform string) {
	t.Helper()
	_, rows, err := h.QueryOrdered(context.Background(), "SELECT name, type, hidden FROM pragma_table_xinfo("+
		"'"+strings.ReplaceAll(tbl.Name, "'", "''")+"')")
	if err != nil {
		t.Errorf("%s: table_xinfo: %v", tbl.Name, err)
		return
	}
	want := tbl.ColumnsFor(platform)
	if len(rows) != len(want) {
		t.Errorf("%s: %d columns, want %d", tbl.Name, len(rows), len(want))
		return
	}
	for i, c := range want {
		hidden := "0"
		if c.Hidden {
			hidden = "1"
		}
		typ := strings.ReplaceAll(c.Type, "_", " ")
		if rows[i][0] != c.Name || rows[i][1] != typ || rows[i][2] != hidden {
			t.Errorf("%s column %d = %v, want %s %s hidden=%s", tbl.Name, i, rows[i], c.Name, typ, hidden)
		}
	}
}
