package tables

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go/plugin/table"
)

// generator is the body of one table: it answers one query within ctx's deadline.
type generator func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error)

// wrap is the one wrapper of both tables' generate functions (as kolide/launcher's
// tablewrapper): it bounds a query by timeout, turns a panic into an error (telemetry is
// attacker-controlled; a panic on odd input must not kill the extension), and gives every
// error one prefix, the table name.
//
// The body runs in its own goroutine so that the deadline holds even while it computes; a
// body that outlives its deadline finishes in the background and its result is dropped.
func wrap(name string, logger hclog.Logger, timeout time.Duration, gen generator) table.GenerateFunc {
	return func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		type result struct {
			rows []map[string]string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					logger.Error("recovered from a panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					done <- result{err: fmt.Errorf("internal error (recovered panic): %v", v)}
				}
			}()
			rows, err := gen(ctx, qc)
			done <- result{rows, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				return nil, tableError(name, ctx, timeout, r.err)
			}
			return r.rows, nil
		case <-ctx.Done():
			return nil, tableError(name, ctx, timeout, ctx.Err())
		}
	}
}

// tableError gives err the table's prefix and, when the deadline passed, says what to do.
func tableError(name string, ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: gave up after %s (COMPILE_LINEAGE_GENERATE_TIMEOUT); add a time constraint to narrow the search: %w",
			name, timeout, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// warnFailed logs, once per query, each source that failed and was left out of the rows.
func warnFailed(logger hclog.Logger, source string, err error) {
	logger.Warn("source failed; rows are built without it", "source", source, "error", err)
}
