package serve

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeClient struct {
	deadline time.Duration
	err      error
}

func (f *fakeClient) QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error) {
	d, ok := ctx.Deadline()
	if ok {
		f.deadline = time.Until(d)
	}
	if f.err != nil {
		return nil, f.err
	}
	return []map[string]string{{"sql": sql}}, nil
}

func TestQuerierDeadlineAndErrors(t *testing.T) {
	fc := &fakeClient{}
	q := &Querier{Client: fc, Timeout: 2 * time.Second}
	rows, err := q.QueryRowsContext(context.Background(), "SELECT 1 FROM processes")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["sql"] != "SELECT 1 FROM processes" {
		t.Fatalf("rows = %v", rows)
	}
	if fc.deadline <= time.Second || fc.deadline > 2*time.Second {
		t.Fatalf("deadline %v, want about 2s", fc.deadline)
	}
	fc.err = errors.New("no such column: foo")
	_, err = q.QueryRowsContext(context.Background(), "SELECT foo FROM windows_events")
	if !errors.Is(err, fc.err) {
		t.Fatalf("err = %v", err)
	}
}

func TestRunWithoutOsquery(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.em")
	err := Run(context.Background(), Config{Socket: sock, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "connect to osquery at "+sock) {
		t.Fatalf("err = %v", err)
	}
}
