package tables

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"
)

// UncachedPlugins are All's tables with compile_lineage computing on every generate, the baseline the
// statement cache is measured against.
func UncachedPlugins(logger hclog.Logger, q Querier, opts Options) []osquery.OsqueryPlugin {
	return []osquery.OsqueryPlugin{
		compileLineageTable(logger, q, opts, &statementCache{wall: time.Now, idleFor: 0}),
		CompileTelemetryTable(logger, q, opts),
	}
}
