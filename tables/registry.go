// Package tables holds the osquery tables that the compile-lineage extension adds.
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
	// QueryTimeout bounds every query sent to osquery (default 10s).
	QueryTimeout time.Duration
	// Window limits how far back compiler starts are searched when the query has no time constraint
	// (default 24h; osquery's events_expiry is 3600s by default, so this rarely cuts anything).
	Window time.Duration
}

// All returns the plugins of every table, ready to register with an extension server.
func All(logger hclog.Logger, q Querier, opts Options) []osquery.OsqueryPlugin {
	_ = logger
	_ = q
	_ = opts
	return nil
}
