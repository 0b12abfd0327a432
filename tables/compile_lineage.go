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
	"github.com/compilelineage/compile-lineage/tables/vocab"
)

var compileLineageColumns = columnDefinitions(vocab.LineageColumns())

// columnDefinitions turns the vocabulary's columns into osquery column definitions.
func columnDefinitions(cols []vocab.Column) []table.ColumnDefinition {
	out := make([]table.ColumnDefinition, len(cols))
	for i, c := range cols {
		opts := []table.ColumnOpt{table.ColumnDescription(c.Description)}
		if c.Indexed {
			opts = append(opts, table.AdditionalColumn())
		}
		switch c.Type {
		case vocab.TypeInteger:
			out[i] = table.IntegerColumn(c.Name, opts...)
		case vocab.TypeBigInt:
			out[i] = table.BigIntColumn(c.Name, opts...)
		default:
			out[i] = table.TextColumn(c.Name, opts...)
		}
	}
	return out
}

type compileLineage struct {
	logger hclog.Logger
	q      Querier
	opts   Options
}

// CompileLineageTable returns the compile_lineage table plugin.
func CompileLineageTable(logger hclog.Logger, q Querier, opts Options) *table.Plugin {
	t := &compileLineage{logger: logger.Named("compile_lineage"), q: q, opts: opts.withDefaults()}
	return table.NewPlugin(vocab.TableLineage, compileLineageColumns, t.generate,
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
	var params compilelineage.Params
	read := func(_ context.Context, path string) ([]byte, error) { return ReadResponseFile(path) }
	ev, err := compilelineage.Collect(ctx, t.q, plan, tel, from, to, params, read)
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
		vocab.ColLineageID:            l.ID,
		vocab.ColTime:                 unix(c.Time),
		vocab.ColPlatform:             l.Platform,
		vocab.ColSource:               l.Source,
		vocab.ColCompilerPID:          i(c.PID),
		vocab.ColCompilerGUID:         c.Key,
		vocab.ColCompilerPath:         c.Path,
		vocab.ColCompilerName:         compilelineage.BaseName(c.Path),
		vocab.ColCompilerOriginalName: c.OriginalName,
		vocab.ColCompilerCmdline:      c.Cmdline,
		vocab.ColCompilerUser:         c.User,
		vocab.ColParentPID:            i(p.PID),
		vocab.ColParentPath:           p.Path,
		vocab.ColParentName:           compilelineage.BaseName(p.Path),
		vocab.ColParentCmdline:        p.Cmdline,
		vocab.ColAncestry:             strings.Join(l.Ancestry, vocab.AncestrySeparator),
		vocab.ColParentClass:          l.ParentClass,
		vocab.ColOutputPath:           l.OutputPath,
		vocab.ColOutputSource:         l.OutputSource,
		vocab.ColArtifactWritten:      b(l.Written),
		vocab.ColArtifactWrittenTime:  unix(l.WrittenTime),
		vocab.ColArtifactSHA256:       l.ArtifactSHA,
		vocab.ColExecutions:           strconv.Itoa(l.Executions),
		vocab.ColFirstExecPID:         i(l.FirstExecPID),
		vocab.ColFirstExecTime:        unix(l.FirstExecTime),
		vocab.ColConnections:          strconv.Itoa(l.Connections),
		vocab.ColFirstRemoteAddress:   l.FirstRemote,
		vocab.ColFirstRemotePort:      i(l.FirstPort),
		vocab.ColConnectionOrigin:     l.ConnectionFrom,
		vocab.ColFollowupProcesses:    strings.Join(l.Followups, ";"),
		vocab.ColStage:                l.Stage,
		vocab.ColLinkEvidence:         strings.Join(l.Evidence, ";"),
		vocab.ColSuspicious:           b(l.Suspicious()),
		vocab.ColReasons:              strings.Join(l.Reasons, ";"),
		vocab.ColTelemetryGaps:        compilelineage.GapString(l.Gaps),
	}
}
