package kafka

import (
	"context"
	"hash/fnv"
)

// Entry is one piece of a partition's state in the changelog. A nil Value
// deletes the key.
type Entry struct {
	Key   string
	Value []byte
}

// Alert is one alert to deliver. ID is deterministic (the same lines give the
// same ids), Host keys it on the alerts topic, JSON is the document and Doc
// the engine's own value for local sinks.
type Alert struct {
	ID   string
	Host string
	JSON []byte
	Doc  any
}

// Scorer scores the lines of one by-host partition, in order.
type Scorer interface {
	// Line scores one result-log line and calls emit for every alert.
	Line(source string, no int64, data []byte, emit func(Alert)) error
	// Changes returns the state entries changed since the last call.
	Changes() []Entry
}

// FleetPairs decides whether lineage is the first in the fleet to show the
// parent and compiler pair. It may block; a failure is reported by Err.
type FleetPairs interface {
	FirstInFleet(parent, compiler, lineageID string) bool
}

// Engine is what the member needs of the scoring engine.
type Engine interface {
	// HostKey is the host a line belongs to ("" when it names none).
	HostKey(line []byte) string
	// NewScorer returns a scorer for partition p holding the restored entries.
	NewScorer(p int32, restored []Entry, fleet FleetPairs) (Scorer, error)
}

// Sink delivers alerts outside Kafka (file, webhook, stdout). It is called
// before the transaction that produced the alert commits, so a crash can
// repeat an alert there; receivers drop repeats by Alert.ID. Flush is
// called once after the alerts of a poll were sent, before the commit.
type Sink interface {
	Send(ctx context.Context, a Alert) error
	Flush(ctx context.Context) error
}

// PartitionFor maps a host key onto one of n partitions (FNV-1a), the same
// way on every member.
func PartitionFor(host string, n int32) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(host))
	return int32(h.Sum32() % uint32(n))
}
