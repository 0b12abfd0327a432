package tables

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/compilelineage/compile-lineage/tables/compilelineage"
)

var compileLineageColumns = []table.ColumnDefinition{
	table.TextColumn("lineage_id", table.ColumnDescription("Deterministic id of this compile (UUIDv5 over the compiler process identity)")),
	table.BigIntColumn("time", table.AdditionalColumn(), table.ColumnDescription("Compiler start, unix seconds; constrain it (time > ...) to narrow the search")),
	table.TextColumn("platform", table.ColumnDescription("windows, linux or darwin")),
	table.TextColumn("source", table.ColumnDescription("Process telemetry used: sysmon, process_etw_events, security_4688, process_events, es_process_events")),
	table.BigIntColumn("compiler_pid"),
	table.TextColumn("compiler_guid", table.ColumnDescription("Stable process key (Sysmon ProcessGuid, ETW sequence, or pid@start)")),
	table.TextColumn("compiler_path"),
	table.TextColumn("compiler_name", table.ColumnDescription("Lower-case base name, e.g. csc.exe, gcc")),
	table.TextColumn("compiler_original_name", table.ColumnDescription("PE original file name (Sysmon), which survives renaming")),
	table.TextColumn("compiler_cmdline"),
	table.TextColumn("compiler_user"),
	table.BigIntColumn("parent_pid"),
	table.TextColumn("parent_path"),
	table.TextColumn("parent_name"),
	table.TextColumn("parent_cmdline"),
	table.TextColumn("ancestry", table.ColumnDescription("Process names from the oldest known ancestor down to the compiler, joined by ' > '")),
	table.TextColumn("parent_class", table.ColumnDescription("script_host, office, lolbin, system_service, web_server, shell, remote_admin, dev_tool, build_system or unknown")),
	table.TextColumn("output_path", table.ColumnDescription("The compiled artifact: from file events by the compile, or the command line")),
	table.TextColumn("output_source", table.ColumnDescription("cmdline, file_event, both or none")),
	table.IntegerColumn("artifact_written", table.ColumnDescription("1 when a file event shows the artifact written")),
	table.BigIntColumn("artifact_written_time"),
	table.TextColumn("artifact_sha256"),
	table.IntegerColumn("executions", table.ColumnDescription("Process starts from output_path after the write")),
	table.BigIntColumn("first_exec_pid"),
	table.BigIntColumn("first_exec_time"),
	table.IntegerColumn("connections", table.ColumnDescription("Outbound connections by the artifact, the compiler (and its children) or, after an in-memory compile, the compiling parent")),
	table.TextColumn("first_remote_address"),
	table.IntegerColumn("first_remote_port"),
	table.TextColumn("connection_origin", table.ColumnDescription("artifact, compiler or parent")),
	table.TextColumn("followup_processes", table.ColumnDescription("Processes the compiler or its parent started after the compile, ';'-joined")),
	table.TextColumn("stage", table.ColumnDescription("Furthest step reached: compile, written, executed, network")),
	table.TextColumn("link_evidence", table.ColumnDescription("How each link was made, ';'-joined (write:process_guid, write:pid, write:path_time, exec:path, net:artifact_guid, ...)")),
	table.IntegerColumn("suspicious", table.ColumnDescription("1 when any reason was found")),
	table.TextColumn("reasons", table.ColumnDescription("Reason codes, ';'-joined; see the README")),
	table.TextColumn("telemetry_gaps", table.ColumnDescription("Sources missing for this row, ';'-joined (no_file_events, no_network_events, ...)")),
}

type compileLineage struct {
	logger hclog.Logger
	q      Querier
	opts   Options
}

// CompileLineageTable returns the compile_lineage table plugin.
func CompileLineageTable(logger hclog.Logger, q Querier, opts Options) *table.Plugin {
	t := &compileLineage{logger: logger.Named("compile_lineage"), q: q, opts: opts.withDefaults()}
	return table.NewPlugin("compile_lineage", compileLineageColumns, t.generate,
		table.WithDescription("One row per compiler or build-tool start in osquery's event buffers (csc, vbc, jsc, ilasm, msbuild, "+
			"gcc, clang, go, rustc...), linked to its parent and ancestry, the artifact it wrote, the artifact's executions "+
			"and network connections, with reasons it is suspicious (MITRE T1027.004 Compile After Delivery)."),
		table.WithExample("SELECT time, compiler_name, parent_name, output_path, stage, reasons FROM compile_lineage WHERE suspicious = 1 AND time > (strftime('%s','now') - 3600);"),
		table.WithPlatforms(table.LinuxPlatform, table.DarwinPlatform, table.WindowsPlatform),
	)
}

func (t *compileLineage) generate(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
	started := time.Now()
	now := t.opts.Now()
	from, to := timeBounds(qc, now.Add(-t.opts.Window).Unix())
	ctx, cancel := context.WithTimeout(ctx, t.opts.GenerateTimeout)
	defer cancel()

	tel, err := compilelineage.Discover(ctx, t.q, from)
	if err != nil {
		return nil, t.fail(ctx, err)
	}
	plan := compilelineage.Choose(tel)
	params := compilelineage.Params{ReadFile: ReadResponseFile}
	ev, err := compilelineage.Collect(ctx, t.q, plan, tel, from, to, params)
	if err != nil {
		return nil, t.fail(ctx, err)
	}
	lineages := compilelineage.Correlate(ev, params)
	rows := make([]map[string]string, 0, len(lineages))
	for i := range lineages {
		rows = append(rows, lineageRow(&lineages[i]))
	}
	t.logger.Debug("generated", "rows", len(rows), "processes", len(ev.Procs), "files", len(ev.Files),
		"connections", len(ev.Conns), "from", from, "to", to, "duration", time.Since(started))
	return rows, nil
}

func (t *compileLineage) fail(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("compile_lineage: gave up after %s (COMPILE_LINEAGE_GENERATE_TIMEOUT); add a time constraint to narrow the search: %w",
			t.opts.GenerateTimeout, err)
	}
	return fmt.Errorf("compile_lineage: %w", err)
}

// timeBounds reads the constraints osquery passes on `time`; osquery re-filters rows, so
// the bounds only need to be a superset.
func timeBounds(qc table.QueryContext, defaultFrom int64) (from, to int64) {
	from = defaultFrom
	cl, ok := qc.Constraints["time"]
	if !ok {
		return from, 0
	}
	lowered := false
	for _, c := range cl.Constraints {
		v, err := strconv.ParseInt(strings.TrimSpace(c.Expression), 10, 64)
		if err != nil {
			continue
		}
		switch c.Operator {
		case table.OperatorEquals:
			from, to, lowered = v, v, true
		case table.OperatorGreaterThan, table.OperatorGreaterThanOrEquals:
			if !lowered || v > from {
				from = v
			}
			lowered = true
		case table.OperatorLessThan, table.OperatorLessThanOrEquals:
			if to == 0 || v < to {
				to = v
			}
		}
	}
	if !lowered && to > 0 {
		from = 0 // an upper bound alone: look at the whole buffer before it
	}
	return from, to
}

// ReadResponseFile reads compiler response files (CodeDom .cmdline, .rsp) that are still on
// disk, with limits: only those suffixes, regular files, at most 64 KiB.
func ReadResponseFile(path string) ([]byte, error) {
	l := strings.ToLower(path)
	if !strings.HasSuffix(l, ".cmdline") && !strings.HasSuffix(l, ".rsp") {
		return nil, fmt.Errorf("not a response file: %s", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("response file %s: not a regular file", path)
	}
	const limit = 64 << 10
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read response file %s: %w", path, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("response file %s: larger than %d bytes", path, limit)
	}
	return data, nil
}

func lineageRow(l *compilelineage.Lineage) map[string]string {
	unix := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	c, p := &l.Compiler, &l.Parent
	return map[string]string{
		"lineage_id":             l.ID,
		"time":                   unix(c.Time),
		"platform":               l.Platform,
		"source":                 l.Source,
		"compiler_pid":           i(c.PID),
		"compiler_guid":          c.Key,
		"compiler_path":          c.Path,
		"compiler_name":          compilelineage.BaseName(c.Path),
		"compiler_original_name": c.OriginalName,
		"compiler_cmdline":       c.Cmdline,
		"compiler_user":          c.User,
		"parent_pid":             i(p.PID),
		"parent_path":            p.Path,
		"parent_name":            compilelineage.BaseName(p.Path),
		"parent_cmdline":         p.Cmdline,
		"ancestry":               strings.Join(l.Ancestry, " > "),
		"parent_class":           l.ParentClass,
		"output_path":            l.OutputPath,
		"output_source":          l.OutputSource,
		"artifact_written":       b(l.Written),
		"artifact_written_time":  unix(l.WrittenTime),
		"artifact_sha256":        l.ArtifactSHA,
		"executions":             strconv.Itoa(l.Executions),
		"first_exec_pid":         i(l.FirstExecPID),
		"first_exec_time":        unix(l.FirstExecTime),
		"connections":            strconv.Itoa(l.Connections),
		"first_remote_address":   l.FirstRemote,
		"first_remote_port":      i(l.FirstPort),
		"connection_origin":      l.ConnectionFrom,
		"followup_processes":     strings.Join(l.Followups, ";"),
		"stage":                  l.Stage,
		"link_evidence":          strings.Join(l.Evidence, ";"),
		"suspicious":             b(l.Suspicious()),
		"reasons":                strings.Join(l.Reasons, ";"),
		"telemetry_gaps":         compilelineage.GapString(l.Gaps),
	}
}
