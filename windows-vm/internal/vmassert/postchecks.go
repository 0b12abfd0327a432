package vmassert

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/compilelineage/compile-lineage/windows-vm/internal/expect"
)

// ExtensionState reports whether the named extension is registered with the daemon and which of the
// wanted tables it does not serve yet ("" and nil: ready).
func ExtensionState(ctx context.Context, q Querier, name string, tables []string) (string, []string, error) {
	exts, err := q.QueryRowsContext(ctx, "SELECT name, version, path FROM osquery_extensions")
	if err != nil {
		return "", nil, fmt.Errorf("query osquery_extensions: %w", err)
	}
	version := ""
	for _, e := range exts {
		if e["name"] == name {
			version = e["version"]
		}
	}
	if version == "" {
		return "", tables, nil
	}
	reg, err := q.QueryRowsContext(ctx, "SELECT name FROM osquery_registry WHERE registry = 'table' AND internal = 0")
	if err != nil {
		return version, nil, fmt.Errorf("query osquery_registry: %w", err)
	}
	var missing []string
	for _, t := range tables {
		if !slices.ContainsFunc(reg, func(r map[string]string) bool { return r["name"] == t }) {
			missing = append(missing, t)
		}
	}
	return version, missing, nil
}

// Subscribers the lab's scenarios depend on, and packs provision/osquery.conf loads.
var (
	wantSubscribers = []string{"windows_events", "process_etw_events", "ntfs_journal_events"}
	wantPacks       = []string{"compile_after_delivery", "compile_after_delivery_fallback"}
	wantServices    = []string{"osqueryd", "Sysmon64"}
)

// PostChecks checks the provisioned VM through the daemon before any scenario runs: the services,
// the event subscribers, both packs, and a compile_telemetry source used for process, file and network.
// It returns the failures and notes worth printing.
func PostChecks(ctx context.Context, q Querier) (fails, notes []string, err error) {
	services, err := q.QueryRowsContext(ctx, "SELECT name, status FROM services")
	if err != nil {
		return nil, nil, fmt.Errorf("query services: %w", err)
	}
	for _, want := range wantServices {
		if !slices.ContainsFunc(services, func(r map[string]string) bool {
			return strings.EqualFold(r["name"], want) && r["status"] == "RUNNING"
		}) {
			fails = append(fails, "service "+want+" is not RUNNING")
		}
	}
	events, err := q.QueryRowsContext(ctx, "SELECT name, publisher, type, active, events FROM osquery_events")
	if err != nil {
		return nil, nil, fmt.Errorf("query osquery_events: %w", err)
	}
	for _, want := range wantSubscribers {
		ok := slices.ContainsFunc(events, func(r map[string]string) bool {
			return r["name"] == want && r["type"] == "subscriber" && r["active"] == "1"
		})
		if !ok {
			fails = append(fails, "event subscriber "+want+" is not active in osquery_events")
		}
	}
	packs, err := q.QueryRowsContext(ctx, "SELECT name, active FROM osquery_packs")
	if err != nil {
		return nil, nil, fmt.Errorf("query osquery_packs: %w", err)
	}
	for _, want := range wantPacks {
		if !slices.ContainsFunc(packs, func(r map[string]string) bool { return r["name"] == want }) {
			fails = append(fails, "pack "+want+" is not loaded")
		}
	}
	tel, err := q.QueryRowsContext(ctx, TelemetrySQL)
	if err != nil {
		return nil, nil, fmt.Errorf("query compile_telemetry: %w", err)
	}
	for _, r := range tel {
		notes = append(notes, fmt.Sprintf("telemetry %-8s %-22s status=%s used=%s events=%s", r["signal"], r["source_table"], r["status"], r["used"], r["events"]))
	}
	for _, sig := range expect.Signals {
		if !slices.ContainsFunc(tel, func(r map[string]string) bool { return r["signal"] == sig && r["used"] == "1" }) {
			fails = append(fails, "compile_telemetry: no source used for "+sig)
		}
	}
	return fails, notes, nil
}
