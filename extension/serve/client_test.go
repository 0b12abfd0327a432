package serve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
)

// fakeCore answers Query over a real Thrift socket, like osquery's extension manager.
type fakeCore struct {
	gen.ExtensionManager              // other methods are not called
	delay                atomic.Int64 // nanoseconds; the test changes it while the server answers
}

func (f *fakeCore) Query(ctx context.Context, sql string) (*gen.ExtensionResponse, error) {
	time.Sleep(time.Duration(f.delay.Load()))
	if strings.Contains(sql, "nosuch") {
		return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "no such table: nosuch"}}, nil
	}
	rows := make(gen.ExtensionPluginResponse, 3000)
	for i := range rows {
		rows[i] = map[string]string{"pid": "1", "path": "/usr/bin/gcc"}
	}
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0}, Response: rows}, nil
}

func startCore(t *testing.T, core *fakeCore) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "osquery.em")
	st, err := transport.OpenServer(sock, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	srv := thrift.NewTSimpleServer4(gen.NewExtensionManagerProcessor(core), st,
		thrift.NewTBufferedTransportFactory(64<<10), thrift.NewTBinaryProtocolFactoryConf(nil))
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	// Stop waits for open client connections; the test closes its client first, and a
	// connection the server still holds must not hang the test (no global ServerStopTimeout).
	t.Cleanup(func() {
		stopped := make(chan struct{})
		go func() { _ = srv.Stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Error("core server did not stop")
		}
	})
	return sock
}

func TestQueryClient(t *testing.T) {
	core := &fakeCore{}
	sock := startCore(t, core)
	c, err := dialQueryClient(sock, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	rows, err := c.QueryRowsContext(ctx, "SELECT pid, path FROM process_events")
	if err != nil || len(rows) != 3000 || rows[2999]["path"] != "/usr/bin/gcc" {
		t.Fatalf("rows %d, err %v", len(rows), err)
	}
	if _, err := c.QueryRowsContext(ctx, "SELECT * FROM nosuch"); err == nil || err.Error() != "no such table: nosuch" {
		t.Fatalf("status error = %v", err)
	}

	// A reply slower than the deadline fails the call; the next call dials again and works.
	core.delay.Store(int64(300 * time.Millisecond))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.QueryRowsContext(short, "SELECT 1"); err == nil {
		t.Fatal("no error past the deadline")
	}
	core.delay.Store(0)
	time.Sleep(400 * time.Millisecond) // let the slow reply drain on the server side
	if rows, err := c.QueryRowsContext(ctx, "SELECT 1"); err != nil || len(rows) != 3000 {
		t.Fatalf("after reconnect: %d rows, %v", len(rows), err)
	}
}
