package tables

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go/plugin/table"

	"github.com/compilelineage/compile-lineage/tables/compilelineage"
	"github.com/compilelineage/compile-lineage/tables/saferead"
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
	cache  *statementCache
}

// CompileLineageTable returns the compile_lineage table plugin.
func CompileLineageTable(logger hclog.Logger, q Querier, opts Options) *table.Plugin {
	return compileLineageTable(logger, q, opts, newStatementCache())
}

func compileLineageTable(logger hclog.Logger, q Querier, opts Options, cache *statementCache) *table.Plugin {
	logger = logger.Named(vocab.TableLineage)
	t := &compileLineage{logger: logger, q: q, opts: opts.WithDefaults(), cache: cache}
	return table.NewPlugin(vocab.TableLineage, compileLineageColumns, wrap(vocab.TableLineage, logger, t.opts.GenerateTimeout, t.generate),
		table.WithDescription("One row per compiler or build-tool start in osquery's event buffers (csc, vbc, jsc, ilasm, msbuild, "+
			"gcc, clang, go, rustc...), linked to its parent and ancestry, the artifact it wrote, the artifact's executions "+
			"and network connections, with reasons it is suspicious (MITRE T1027.004 Compile After Delivery)."),
		table.WithExample("SELECT time, compiler_name, parent_name, output_path, stage, reasons FROM compile_lineage WHERE suspicious = 1 AND time > (strftime('%s','now') - 3600);"),
		table.WithPlatforms(table.LinuxPlatform, table.DarwinPlatform, table.WindowsPlatform),
	)
}

func (t *compileLineage) generate(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
	now := t.opts.Now()
	rows, err := t.cache.do(timeKey(qc), now, func() ([]map[string]string, error) { return t.compute(ctx, qc, now) })
	if err != nil {
		return nil, err
	}
	return matchingRows(rows, qc), nil
}

// closedColumns are the columns whose values are a fixed set of lower-case words (stage, platform, ...): the
// ones an IN list names, and the only ones matchingRows filters on.
var closedColumns = map[string]bool{vocab.ColStage: true, vocab.ColPlatform: true, vocab.ColSource: true,
	vocab.ColParentClass: true, vocab.ColOutputSource: true, vocab.ColConnectionOrigin: true}

// matchingRows keeps the rows that can satisfy the equality constraints osquery passed on the closed-vocabulary
// columns: an IN list such as `stage IN ('written', 'executed')` makes osquery call generate once per value
// (--extensions_default_index), and each call then carries only its own rows instead of the whole result. The
// test ignores case, so it keeps every row SQLite's = could keep under the BINARY or NOCASE collation (a join
// with a NOCASE column compares that way), and SQLite re-applies every constraint to the rows it gets; all
// other constraints and columns are left to SQLite. The rows are shared with the statement cache and are not
// modified.
func matchingRows(rows []map[string]string, qc table.QueryContext) []map[string]string {
	type eq struct{ col, val string }
	var eqs []eq
	for col, cl := range qc.Constraints {
		if !closedColumns[col] {
			continue
		}
		for _, c := range cl.Constraints {
			if c.Operator == table.OperatorEquals {
				eqs = append(eqs, eq{col, c.Expression})
			}
		}
	}
	if len(eqs) == 0 {
		return rows
	}
	out := make([]map[string]string, 0, len(rows))
	for _, r := range rows {
		keep := true
		for _, e := range eqs {
			if v, ok := r[e.col]; !ok || !strings.EqualFold(v, e.val) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, r)
		}
	}
	return out
}

// compute builds the lineages for the time bounds of qc.
func (t *compileLineage) compute(ctx context.Context, qc table.QueryContext, now time.Time) ([]map[string]string, error) {
	started := time.Now()
	from, to := timeBounds(qc, now.Add(-t.opts.Window).Unix())

	tel, err := compilelineage.Discover(ctx, t.q, from)
	if err != nil {
		return nil, err
	}
	plan := compilelineage.Choose(tel)
	var params compilelineage.Params
	read := func(ctx context.Context, path string) ([]byte, error) {
		return saferead.ResponseFile(ctx, path, saferead.Limits{})
	}
	ev, err := compilelineage.Collect(ctx, t.q, plan, tel, from, to, params, read)
	if err != nil {
		return nil, err
	}
	for _, f := range ev.Failed {
		warnFailed(t.logger, f.Source, f.Err)
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
