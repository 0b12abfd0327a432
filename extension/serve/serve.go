// Package serve connects the compile-lineage tables to a running osquery core over its extension socket.
package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go"

	"github.com/compilelineage/compile-lineage/tables"
)

// ExtensionName is the name the extension registers with osquery.
const ExtensionName = "compile_lineage"

// Defaults used when a Config field is zero.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultInterval = 3 * time.Second
)

// Config tells Run where osquery is and how to behave.
type Config struct {
	// Socket is the osquery extension socket (osqueryd passes it with --socket).
	Socket string
	// Timeout bounds waiting for the socket and each Thrift call of the server (--timeout).
	Timeout time.Duration
	// Interval is the ping interval used to notice that osquery went away (--interval).
	Interval time.Duration
	// Logger receives structured logs; nil means no logs.
	Logger hclog.Logger
	// Tables tunes the tables.
	Tables tables.Options
	// Name and Version are reported to osquery; Name defaults to ExtensionName.
	Name, Version string
	// Plugins builds the plugins to register; nil means tables.All. Tests use it to serve their own tables.
	Plugins PluginsFunc
}

// PluginsFunc builds the plugins an extension registers, given the querier for callbacks into osquery.
type PluginsFunc func(logger hclog.Logger, q tables.Querier, opts tables.Options) []osquery.OsqueryPlugin

// Run registers the tables with osquery and serves them. It returns nil when ctx is cancelled and an error
// when osquery cannot be reached or goes away.
func Run(ctx context.Context, cfg Config) error {
	cfg = withDefaults(cfg)
	log := cfg.Logger

	// The server dials its own client (registration, pings; closed by Shutdown); the tables get a dedicated
	// one. Both wait for the socket (osquery-go polls every 200 ms), so dial them together.
	type opened struct {
		client *queryClient
		err    error
	}
	queryc := make(chan opened, 1)
	go func() {
		c, err := dialQueryClient(cfg.Socket, cfg.Timeout)
		queryc <- opened{c, err}
	}()
	server, serr := osquery.NewExtensionManagerServer(cfg.Name, cfg.Socket,
		osquery.ServerTimeout(cfg.Timeout),
		osquery.ServerPingInterval(cfg.Interval),
		osquery.ExtensionVersion(cfg.Version))
	qo := <-queryc
	if qo.client != nil {
		defer qo.client.Close()
	}
	if serr != nil {
		return fmt.Errorf("connect to osquery at %s: %w", cfg.Socket, serr)
	}
	if qo.err != nil {
		// Not registered yet: Shutdown only closes the server's client.
		_ = server.Shutdown(context.Background())
		return fmt.Errorf("connect to osquery at %s: %w", cfg.Socket, qo.err)
	}
	client := qo.client

	q := &Querier{Client: client, Timeout: cfg.Tables.QueryTimeout}
	build := cfg.Plugins
	if build == nil {
		build = tables.All
	}
	plugins := build(log.Named("tables"), q, cfg.Tables)
	server.RegisterPlugin(plugins...)
	log.Debug("registering", "socket", cfg.Socket, "plugins", len(plugins))

	errc := make(chan error, 1)
	go func() { errc <- server.Run() }()

	select {
	case err := <-errc:
		if err == nil {
			return errors.New("osquery stopped the extension")
		}
		return fmt.Errorf("extension stopped: %w", err)
	case <-ctx.Done():
	}
	log.Debug("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	if err := server.Shutdown(sctx); err != nil {
		log.Debug("shutdown", "error", err)
	}
	// Run returns once its Thrift server stopped; the server waits for osquery to close its connection, so
	// do not wait longer than the timeout.
	select {
	case <-errc:
	case <-sctx.Done():
		log.Debug("extension server did not stop in time", "timeout", cfg.Timeout)
	}
	return nil
}

func withDefaults(cfg Config) Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	cfg.Tables = cfg.Tables.WithDefaults()
	if cfg.Name == "" {
		cfg.Name = ExtensionName
	}
	return cfg
}

// Querier runs the tables' queries on osquery with a deadline per query. It satisfies tables.Querier.
type Querier struct {
	Client interface {
		QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error)
	}
	// Timeout is the deadline of each query (tables.DefaultQueryTimeout when zero).
	Timeout time.Duration
}

// QueryRowsContext runs sql within the per-query deadline. Errors are osquery's own: the
// tables name the query's table, and the table wrapper adds the table's name.
func (q *Querier) QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error) {
	timeout := q.Timeout
	if timeout <= 0 {
		timeout = tables.DefaultQueryTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return q.Client.QueryRowsContext(ctx, sql)
}
