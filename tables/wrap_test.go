package tables

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/osquery/osquery-go/plugin/table"
)

func TestWrapRecoversPanics(t *testing.T) {
	var logs strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Error})
	gen := wrap("compile_lineage", logger, time.Minute, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		var rows []map[string]string
		_ = rows[3] // index out of range, as odd telemetry could provoke
		return rows, nil
	})
	rows, err := gen(context.Background(), table.QueryContext{})
	if rows != nil || err == nil || !strings.HasPrefix(err.Error(), "compile_lineage: internal error (recovered panic): runtime error: index out of range") {
		t.Fatalf("rows %v, err %v", rows, err)
	}
	if !strings.Contains(logs.String(), "recovered from a panic") || !strings.Contains(logs.String(), "wrap_test.go") {
		t.Fatalf("the panic and its stack were not logged: %s", logs.String())
	}
}

func TestWrapDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	gen := wrap("compile_telemetry", hclog.NewNullLogger(), 20*time.Millisecond, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		<-release // a body that ignores its context: the deadline must hold anyway
		return []map[string]string{{"x": "1"}}, nil
	})
	rows, err := gen(context.Background(), table.QueryContext{})
	if rows != nil || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.HasPrefix(err.Error(), "compile_telemetry: gave up after 20ms (COMPILE_LINEAGE_GENERATE_TIMEOUT); add a time constraint") {
		t.Fatalf("rows %v, err %v", rows, err)
	}
}

func TestWrapPrefixesOnce(t *testing.T) {
	inner := errors.New("no such table: osquery_registry")
	gen := wrap("compile_lineage", hclog.NewNullLogger(), time.Minute, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		return nil, inner
	})
	_, err := gen(context.Background(), table.QueryContext{})
	if !errors.Is(err, inner) || err.Error() != "compile_lineage: no such table: osquery_registry" {
		t.Fatalf("err = %v", err)
	}
	ok := wrap("compile_lineage", hclog.NewNullLogger(), time.Minute, func(context.Context, table.QueryContext) ([]map[string]string, error) {
		return []map[string]string{{"stage": "compile"}}, nil
	})
	rows, err := ok(context.Background(), table.QueryContext{})
	if err != nil || len(rows) != 1 || rows[0]["stage"] != "compile" {
		t.Fatalf("rows %v, err %v", rows, err)
	}
}
