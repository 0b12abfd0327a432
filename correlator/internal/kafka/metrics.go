package kafka

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
)

// Metrics are a member's counters, served in the Prometheus text format.
type Metrics struct {
	Lines     atomic.Int64 // by-host lines scored
	Rekeyed   atomic.Int64 // input lines re-keyed
	Alerts    atomic.Int64
	Committed atomic.Int64 // transactions
	Aborted   atomic.Int64
	Restores  atomic.Int64 // partitions restored from the changelog
	Restored  atomic.Int64 // changelog entries read back
	Claims    atomic.Int64 // fleet-pair claims written
	SinkNanos atomic.Int64 // time spent waiting on local sinks
	Assigned  atomic.Int64 // by-host partitions held

	mu  sync.Mutex
	lag map[string]int64 // topic -> summed group lag
}

// SetLag records the group's lag per topic.
func (m *Metrics) SetLag(lag map[string]int64) {
	m.mu.Lock()
	m.lag = lag
	m.mu.Unlock()
}

// Lag returns the last recorded lag per topic.
func (m *Metrics) Lag() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.lag))
	for k, v := range m.lag {
		out[k] = v
	}
	return out
}

// Write writes every metric in the Prometheus text exposition format.
func (m *Metrics) Write(w io.Writer) error {
	counters := []struct {
		name, help string
		v          int64
	}{
		{"correlator_kafka_lines_total", "Result-log lines scored from the by-host topic.", m.Lines.Load()},
		{"correlator_kafka_rekeyed_total", "Input lines re-keyed by host onto the by-host topic.", m.Rekeyed.Load()},
		{"correlator_kafka_alerts_total", "Alerts produced (in committed and aborted transactions).", m.Alerts.Load()},
		{"correlator_kafka_transactions_committed_total", "Transactions committed.", m.Committed.Load()},
		{"correlator_kafka_transactions_aborted_total", "Transactions aborted (rebalance, sink or broker failure).", m.Aborted.Load()},
		{"correlator_kafka_restores_total", "By-host partitions whose state was restored from the changelog.", m.Restores.Load()},
		{"correlator_kafka_restored_entries_total", "Changelog entries read during restores.", m.Restored.Load()},
		{"correlator_kafka_fleet_pair_claims_total", "Claims written to the fleet-pairs topic.", m.Claims.Load()},
	}
	for _, c := range counters {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "# HELP correlator_kafka_sink_wait_seconds_total Time spent waiting on local sinks (backpressure).\n# TYPE correlator_kafka_sink_wait_seconds_total counter\ncorrelator_kafka_sink_wait_seconds_total %.3f\n", float64(m.SinkNanos.Load())/1e9); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "# HELP correlator_kafka_assigned_partitions By-host partitions this member scores.\n# TYPE correlator_kafka_assigned_partitions gauge\ncorrelator_kafka_assigned_partitions %d\n", m.Assigned.Load()); err != nil {
		return err
	}
	lag := m.Lag()
	topics := make([]string, 0, len(lag))
	for t := range lag {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	if _, err := io.WriteString(w, "# HELP correlator_kafka_group_lag Records not yet committed by the group, per topic.\n# TYPE correlator_kafka_group_lag gauge\n"); err != nil {
		return err
	}
	for _, t := range topics {
		if _, err := fmt.Fprintf(w, "correlator_kafka_group_lag{topic=%q} %d\n", t, lag[t]); err != nil {
			return err
		}
	}
	return nil
}

// ServeHTTP serves GET /metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = m.Write(w)
}
