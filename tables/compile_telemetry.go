package tables

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/compilelineage/compile-lineage/tables/compilelineage"
	"github.com/compilelineage/compile-lineage/tables/vocab"
)

var compileTelemetryColumns = columnDefinitions(vocab.TelemetryColumns())

// telemetrySource is one source a signal can come from. Sources in windows_events are told
// apart by channel and event id (counted together in one query); where narrows other tables.
type telemetrySource struct {
	platform, signal, table, label, where, hint string
}

// windowsEvent returns the channel and event id a windows_events source is counted by.
func (s telemetrySource) windowsEvent() (channel, eventid string) {
	switch {
	case s.label == "windows_events:Security/4688":
		return "Security", "4688"
	case s.table == "windows_events":
		_, id, _ := strings.Cut(s.where, "eventid = ")
		return "Microsoft-Windows-Sysmon/Operational", id
	}
	return "", ""
}

var telemetrySources = []telemetrySource{
	{"linux", "process", "process_events", "process_events", "", "--disable_audit=false --audit_allow_config=true --audit_allow_process_events=true"},
	{"linux", "file", "process_file_events", "process_file_events", "", "--disable_audit=false --audit_allow_config=true --audit_allow_fim_events=true and file_paths in the config"},
	{"linux", "file", "file_events", "file_events", "", "--enable_file_events=true and file_paths in the config"},
	{"linux", "network", "socket_events", "socket_events", "", "--disable_audit=false --audit_allow_config=true --audit_allow_sockets=true"},
	{"linux", "process", "bpf_process_events", "bpf_process_events", "syscall = 'exec'", "--enable_bpf_events=true (eBPF publisher, used when audit is off)"},
	{"linux", "network", "bpf_socket_events", "bpf_socket_events", "syscall = 'connect'", "--enable_bpf_events=true (eBPF publisher, used when audit is off)"},
	{"darwin", "process", "es_process_events", "es_process_events", "", "--disable_endpointsecurity=false and Full Disk Access for osqueryd"},
	{"darwin", "process", "process_events", "process_events", "", "--disable_audit=false (OpenBSM, macOS 10.15 and older)"},
	{"darwin", "file", "es_process_file_events", "es_process_file_events", "", "--disable_endpointsecurity_fim=false and file_paths in the config"},
	{"darwin", "file", "file_events", "file_events", "", "--enable_file_events=true and file_paths in the config"},
	{"darwin", "network", "socket_events", "socket_events", "", "--disable_audit=false --audit_allow_sockets=true"},
	{"windows", "process", "windows_events", "windows_events:Microsoft-Windows-Sysmon/Operational", "source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 1",
		"Sysmon recording event 1; --enable_windows_events_publisher=true --enable_windows_events_subscriber=true --windows_event_channels=...,Microsoft-Windows-Sysmon/Operational"},
	{"windows", "process", "process_etw_events", "process_etw_events", "type = 'ProcessStart'", "--enable_process_etw_events=true (osquery 5.8.0+)"},
	{"windows", "process", "windows_events", "windows_events:Security/4688", "source = 'Security' AND eventid = 4688",
		"Audit Process Creation (and 'Include command line in process creation events'); --enable_windows_events_publisher=true --enable_windows_events_subscriber=true"},
	{"windows", "file", "windows_events", "windows_events:Microsoft-Windows-Sysmon/Operational", "source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 11",
		"Sysmon recording event 11 (FileCreate) with the Sysmon channel in --windows_event_channels"},
	{"windows", "file", "ntfs_journal_events", "ntfs_journal_events", "", "--enable_ntfs_event_publisher=true and file_paths in the config"},
	{"windows", "network", "windows_events", "windows_events:Microsoft-Windows-Sysmon/Operational", "source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 3",
		"Sysmon recording event 3 (NetworkConnect) with the Sysmon channel in --windows_event_channels"},
	{"windows", "network", "process_open_sockets", "process_open_sockets", "", "always on; point in time only (connections already closed are missed)"},
}

type compileTelemetry struct {
	logger hclog.Logger
	q      Querier
	opts   Options
}

// CompileTelemetryTable returns the compile_telemetry table plugin.
func CompileTelemetryTable(logger hclog.Logger, q Querier, opts Options) *table.Plugin {
	logger = logger.Named(vocab.TableTelemetry)
	t := &compileTelemetry{logger: logger, q: q, opts: opts.WithDefaults()}
	return table.NewPlugin(vocab.TableTelemetry, compileTelemetryColumns, wrap(vocab.TableTelemetry, logger, t.opts.GenerateTimeout, t.generate),
		table.WithDescription("Blind-spot report for compile_lineage: one row per event source the lineage can use on this "+
			"platform, whether osquery has the table, whether its subscriber is active, how many events are buffered, and "+
			"the flag that turns it on. Read it before trusting an empty compile_lineage."),
		table.WithExample("SELECT signal, source_table, status, used, enable_hint FROM compile_telemetry WHERE status != 'ok';"),
		table.WithPlatforms(table.LinuxPlatform, table.DarwinPlatform, table.WindowsPlatform),
	)
}

func (t *compileTelemetry) generate(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
	since := t.opts.Now().Add(-t.opts.Window).Unix()
	tel, err := compilelineage.Discover(ctx, t.q, since)
	if err != nil {
		return nil, err
	}
	procs, files, conns := compilelineage.Choose(tel).Sources()
	used := map[string]string{"process": procs, "file": files, "network": conns}
	counts := t.counter(since)
	var rows []map[string]string
	for _, s := range telemetrySources {
		if s.platform != tel.Platform {
			continue
		}
		row := map[string]string{"platform": s.platform, "signal": s.signal, "source_table": s.label,
			"table_exists": "0", "publisher_active": "-1", "events": "0", "oldest_time": "0", "newest_time": "0",
			"used": "0", "enable_hint": s.hint}
		if a, ok := tel.Active[s.table]; ok {
			row["publisher_active"] = strconv.Itoa(a)
		}
		if usedName(used[s.signal], s.label) {
			row["used"] = "1"
		}
		switch {
		case !tel.Exists[s.table]:
			row["status"] = "missing"
		case row["publisher_active"] == "0":
			row["status"] = "disabled"
		default:
			n, oldest, newest, err := counts(ctx, s)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, fmt.Errorf("count %s: %w", s.label, err)
			case err != nil:
				// One source that cannot be counted is a row that says so, not a failed table.
				warnFailed(t.logger, s.label, err)
				row["status"] = "failed"
			default:
				row["events"], row["oldest_time"], row["newest_time"] = n, oldest, newest
				row["status"] = "ok"
				if n == "0" {
					row["status"] = "empty"
				}
			}
		}
		if tel.Exists[s.table] {
			row["table_exists"] = "1"
		}
		rows = append(rows, row)
	}
	t.logger.Debug("generated", "platform", tel.Platform, "rows", len(rows), "at", time.Now().Unix())
	return rows, nil
}

// counter returns a function that counts a source's events since a time. windows_events is
// read once for all its channels and event ids.
func (t *compileTelemetry) counter(since int64) func(context.Context, telemetrySource) (n, oldest, newest string, err error) {
	var windows map[string][3]string
	return func(ctx context.Context, s telemetrySource) (string, string, string, error) {
		if channel, id := s.windowsEvent(); channel != "" {
			if windows == nil {
				res, err := t.q.QueryRowsContext(ctx, fmt.Sprintf("SELECT source, eventid, count(*) AS n, min(time) AS oldest, "+
					"max(time) AS newest FROM windows_events WHERE time >= %d AND source IN ('Microsoft-Windows-Sysmon/Operational', "+
					"'Security') AND eventid IN (1, 3, 11, 4688) GROUP BY source, eventid", since))
				if err != nil {
					return "", "", "", err
				}
				windows = map[string][3]string{}
				for _, r := range res {
					windows[r["source"]+"|"+r["eventid"]] = [3]string{orZero(r["n"]), orZero(r["oldest"]), orZero(r["newest"])}
				}
			}
			c, ok := windows[channel+"|"+id]
			if !ok {
				return "0", "0", "0", nil
			}
			return c[0], c[1], c[2], nil
		}
		sql := fmt.Sprintf("SELECT count(*) AS n, min(time) AS oldest, max(time) AS newest FROM %s WHERE time >= %d", s.table, since)
		if s.where != "" {
			sql += " AND " + s.where
		}
		if s.table == "process_open_sockets" { // a point-in-time table: no time column
			sql = "SELECT count(*) AS n, 0 AS oldest, 0 AS newest FROM process_open_sockets WHERE remote_port != 0"
		}
		res, err := t.q.QueryRowsContext(ctx, sql)
		if err != nil || len(res) != 1 {
			return "0", "0", "0", err
		}
		return orZero(res[0]["n"]), orZero(res[0]["oldest"]), orZero(res[0]["newest"]), nil
	}
}

// usedName matches the source a plan chose with a telemetry row label.
func usedName(chosen, label string) bool {
	switch chosen {
	case "":
		return false
	case "sysmon":
		return label == "windows_events:Microsoft-Windows-Sysmon/Operational"
	case "security_4688":
		return label == "windows_events:Security/4688"
	}
	return chosen == label
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
