package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/extension/replay"
)

// examples is the telemetry the demo replays: synthetic recordings made for this project
// (Sysmon events as Winlogbeat/NXLog export them, and osqueryi --json output of audit tables).
//
//go:embed examples/*.json examples/*.jsonl examples/roles.csv
var examples embed.FS

// demoHost is one host of the demo fleet.
type demoHost struct {
	name, uuid, role string
	fixtures         []string
}

func demoHosts() []demoHost {
	return []demoHost{
		{"ws-finance-07", "4c4c4544-0057-3510-8050-b4c04f4e3132", "user_endpoint",
			[]string{"examples/workstation_sysmon.jsonl"}},
		{"dev-laptop-03", "4c4c4544-0044-4710-8036-c3c04f4e5a33", "developer_workstation",
			[]string{"examples/devbox_sysmon.jsonl"}},
		{"web-01", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "server",
			[]string{"examples/web_server_audit.json"}},
	}
}

// runDemo replays the example telemetry of three hosts through the extension, prints the
// compile_lineage rows, and writes them as osquery result-log lines for the correlator.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	resultsLog := fs.String("results-log", "", "also write the rows as osquery result-log lines (event format) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var log bytes.Buffer
	for _, h := range demoHosts() {
		rows, now, err := demoReplay(h)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n== %s (%s): SELECT * FROM compile_lineage  (%d rows)\n", h.name, h.role, len(rows))
		tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tCOMPILER\tANCESTRY\tOUTPUT\tSTAGE\tORIGIN\tREASONS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r["time"], r["compiler_name"], r["ancestry"],
				shorten(r["output_path"], 60), r["stage"], r["connection_origin"], r["reasons"])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range rows {
			line, err := resultLine(h, now, r)
			if err != nil {
				return err
			}
			log.Write(line)
			log.WriteByte('\n')
		}
	}
	if *resultsLog != "" {
		if err := os.WriteFile(*resultsLog, log.Bytes(), 0o640); err != nil {
			return fmt.Errorf("write results log: %w", err)
		}
		fmt.Fprintf(stdout, "\nwrote %d result-log lines to %s (roles: extension/examples/roles.csv)\n", bytes.Count(log.Bytes(), []byte("\n")), *resultsLog)
	}
	return nil
}

func demoReplay(h demoHost) ([]map[string]string, int64, error) {
	all := &replay.Fixtures{}
	for i, name := range h.fixtures {
		data, err := examples.ReadFile(name)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", name, err)
		}
		fx, err := replay.ParseFixture(name, bytes.NewReader(data))
		if err != nil {
			return nil, 0, err
		}
		if i == 0 {
			all = fx
		} else {
			all.Merge(fx)
		}
	}
	// The host's own identity, which the extension folds into every lineage id.
	host, err := replay.ParseFixture(h.name+" system_info", strings.NewReader(
		`{"system_info": [{"uuid": "`+h.uuid+`", "hostname": "`+h.name+`", "computer_name": "`+h.name+`"}]}`))
	if err != nil {
		return nil, 0, err
	}
	all.Merge(host)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hs, err := replay.Start(ctx, replay.Options{Fixtures: all, Logger: hclog.NewNullLogger()})
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", h.name, err)
	}
	defer hs.Close()
	rows, err := hs.Query(ctx, "SELECT * FROM compile_lineage ORDER BY time, compiler_guid")
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", h.name, err)
	}
	return rows, hs.Now(), nil
}

// resultLine renders one row as osquery's differential (event format) result-log line, the
// way the compile_after_delivery pack would log it on that host.
func resultLine(h demoHost, now int64, row map[string]string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"name":           "pack_compile_after_delivery_compile_baseline",
		"hostIdentifier": h.name,
		"calendarTime":   time.Unix(now, 0).UTC().Format("Mon Jan _2 15:04:05 2006 UTC"),
		"unixTime":       now,
		"epoch":          0,
		"counter":        0,
		"numerics":       false,
		"decorations":    map[string]string{"host_uuid": h.uuid, "hostname": h.name},
		"columns":        row,
		"action":         "added",
	})
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n+3:]
}

// demoRoles is the roles file that matches the demo hosts; examples/roles.csv must equal it.
func demoRoles() string {
	out := "host,role\n"
	for _, h := range demoHosts() {
		out += h.name + "," + h.role + "\n"
	}
	return out
}
