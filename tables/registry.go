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

// Options tunes the tables. The zero value is ready to use.
type Options struct {
	// Now returns the current time; replay sets it to the newest event time.
	Now func() time.Time
	// QueryTimeout bounds every query sent to osquery (default 10s). The extension's
	// Querier applies it; it is kept here so one value configures both.
	QueryTimeout time.Duration
	// GenerateTimeout bounds one generate call (default 60s, below osquery's thrift_timeout).
	GenerateTimeout time.Duration
	// Window limits how far back compiler starts are searched when the query has no time
	// constraint (default 24h; osquery's events_expiry is 3600s by default).
	Window time.Duration
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 10 * time.Second
	}
	if o.GenerateTimeout <= 0 {
		o.GenerateTimeout = 60 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 24 * time.Hour
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
