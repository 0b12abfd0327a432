// Package tables holds the osquery tables that the compile-lineage extension adds:
// compile_lineage (one row per compile, linked to parent, artifact, execution and network)
// and compile_telemetry (which event sources feed it, and which are blind).
package tables

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"
)

// Querier runs SQL on the osquery core. The osquery-go client satisfies it.
type Querier interface {
	QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error)
}

// Defaults of Options, the one place each is set. The extension's environment variables
// (COMPILE_LINEAGE_QUERY_TIMEOUT, COMPILE_LINEAGE_GENERATE_TIMEOUT, COMPILE_LINEAGE_WINDOW)
// override them.
const (
	// DefaultQueryTimeout bounds each query the tables send to osquery.
	DefaultQueryTimeout = 10 * time.Second
	// DefaultGenerateTimeout bounds one table query, well below osquery's --thrift_timeout (300s).
	DefaultGenerateTimeout = 60 * time.Second
	// DefaultWindow is how far back compiler starts are searched without a time constraint
	// (osquery's --events_expiry is 3600s by default, so 24h covers any buffer kept by default).
	DefaultWindow = 24 * time.Hour
)

// Options tunes the tables. The zero value is ready to use.
type Options struct {
	// Now returns the current time; replay sets it to the newest event time.
	Now func() time.Time
	// QueryTimeout bounds every query sent to osquery (DefaultQueryTimeout). The extension's
	// Querier applies it; it is kept here so one value configures both.
	QueryTimeout time.Duration
	// GenerateTimeout bounds one generate call (DefaultGenerateTimeout).
	GenerateTimeout time.Duration
	// Window limits how far back compiler starts are searched when the query has no time
	// constraint (DefaultWindow).
	Window time.Duration
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.GenerateTimeout <= 0 {
		o.GenerateTimeout = DefaultGenerateTimeout
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	return o
}

// All returns the plugins of every table, ready to register with an extension server.
func All(logger hclog.Logger, q Querier, opts Options) []osquery.OsqueryPlugin {
	return []osquery.OsqueryPlugin{
		CompileLineageTable(logger, q, opts),
		CompileTelemetryTable(logger, q, opts),
	}
}
