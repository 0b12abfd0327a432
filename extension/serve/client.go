package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
)

// queryClient is the tables' own connection to osquery. osquery-go's client reads replies
// straight from the socket, one system call per Thrift field, so a reply of a few thousand
// rows costs more in reads than osquery spends answering; this client buffers the socket.
// Calls are serialized (one socket) and each has a deadline: the socket timeout is set to
// what is left of the context, and a connection that failed mid-call is dropped and dialed
// again on the next call.
type queryClient struct {
	socket  string
	timeout time.Duration
	slot    chan struct{} // one call at a time
	sock    *thrift.TSocket
	client  *gen.ExtensionManagerClient
}

func dialQueryClient(socket string, timeout time.Duration) (*queryClient, error) {
	c := &queryClient{socket: socket, timeout: timeout, slot: make(chan struct{}, 1)}
	if err := c.dial(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *queryClient) dial() error {
	sock, err := transport.Open(c.socket, c.timeout)
	if err != nil {
		return err
	}
	buffered := thrift.NewTBufferedTransport(sock, 64<<10)
	c.sock = sock
	c.client = gen.NewExtensionManagerClientFactory(buffered, thrift.NewTBinaryProtocolFactoryConf(nil))
	return nil
}

// QueryRowsContext runs sql on osquery and returns its rows.
func (c *queryClient) QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error) {
	select {
	case c.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the osquery connection: %w", ctx.Err())
	}
	defer func() { <-c.slot }()
	if c.sock == nil {
		if err := c.dial(); err != nil {
			return nil, fmt.Errorf("reconnect to osquery: %w", err)
		}
	}
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		if err := c.sock.SetSocketTimeout(left); err != nil {
			return nil, err
		}
	}
	resp, err := c.client.Query(ctx, sql)
	if err != nil {
		// The reply may be half read: this connection cannot be trusted any more.
		c.sock.Close()
		c.sock = nil
		return nil, err
	}
	if resp.Status == nil {
		return nil, errors.New("osquery returned no status")
	}
	if resp.Status.Code != 0 {
		return nil, errors.New(resp.Status.Message)
	}
	return resp.Response, nil
}

// Close closes the connection.
func (c *queryClient) Close() error {
	c.slot <- struct{}{}
	defer func() { <-c.slot }()
	if c.sock == nil {
		return nil
	}
	err := c.sock.Close()
	c.sock = nil
	return err
}
