package report

import (
	"database/sql"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// FuzzSQLString: SQLite reads every literal back as exactly the input.
func FuzzSQLString(f *testing.F) {
	for _, s := range []string{"", "plain", `x'); DROP TABLE y; --.exe`, "a\nb", "\x00", "bad\xff", "'''", `C:\Temp\a b.exe`} {
		f.Add(s)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, s string) {
		var got []byte
		if err := db.QueryRow("SELECT CAST(" + SQLString(s) + " AS BLOB)").Scan(&got); err != nil {
			t.Fatalf("literal %s: %v", SQLString(s), err)
		}
		if string(got) != s {
			t.Fatalf("literal %s reads back as %q, want %q", SQLString(s), got, s)
		}
		if strings.ContainsAny(SQLString(s), "\x00\n\r\x1b") {
			t.Fatalf("literal %q carries a control character", SQLString(s))
		}
	})
}

// FuzzSVG: whatever the telemetry says, the drawing is well-formed XML and
// each text stays inside its element.
func FuzzSVG(f *testing.F) {
	f.Add("csc.exe", `C:\Users\a\x'); DROP TABLE y; --.exe`, "mshta.exe", `</title><script>x</script>`, "no_parent;no_network_events")
	f.Add("\x01\xff", "/tmp/\"a&b\"", "", "]]>", "")
	f.Fuzz(func(t *testing.T, compiler, artifact, parent, cmdline, gaps string) {
		v := Alert{Compiler: Proc{Name: compiler, Cmdline: cmdline, PID: 1}, Parent: Proc{Name: parent, Cmdline: cmdline},
			ArtifactPath: artifact, Executions: 1, Connections: 1, RemoteAddress: cmdline, ConnOrigin: "artifact",
			Gaps: strings.Split(gaps, ";"), Ancestors: []string{cmdline}, Followups: []string{compiler}}
		g := Build(&v)
		d := xml.NewDecoder(strings.NewReader(SVG(g, "g0")))
		d.Strict = true
		d.Entity = xml.HTMLEntity
		titles, groups := 0, 0
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("SVG not well-formed: %v\n%s", err, SVG(g, "g0"))
			}
			if se, ok := tok.(xml.StartElement); ok {
				switch se.Name.Local {
				case "title":
					titles++
				case "g":
					groups++
				case "svg", "defs", "marker", "path", "rect", "text":
				default:
					t.Fatalf("unexpected element <%s> from telemetry", se.Name.Local)
				}
			}
		}
		labelled := 0
		for _, e := range g.Edges {
			if e.Label != "" {
				labelled++
			}
		}
		if titles != len(g.Nodes)+labelled || groups != len(g.Nodes)+len(g.Edges) {
			t.Fatalf("%d titles and %d groups for %d nodes and %d edges", titles, groups, len(g.Nodes), len(g.Edges))
		}
	})
}
