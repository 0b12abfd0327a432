package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Layout is the partition count of each topic a member writes.
type Layout struct {
	ByHost int32 // also the changelog's
	Alerts int32 // 0 without an alerts topic
}

// EnsureTopics creates the internal topics (and the alerts topic) when
// missing and checks that the changelog has one partition per by-host
// partition. The changelog and fleet-pairs topics are compacted; compaction
// waits min.compaction.lag.ms (7 days) so a claim is never compacted away
// before every line that could re-read it was committed.
func EnsureTopics(ctx context.Context, adm *kadm.Client, c *Config) (Layout, error) {
	compact := map[string]*string{
		"cleanup.policy":        kadm.StringPtr("compact"),
		"min.compaction.lag.ms": kadm.StringPtr("604800000"),
	}
	want := []struct {
		topic      string
		partitions int32
		configs    map[string]*string
	}{
		{c.ByHostTopic(), c.Partitions, nil},
		{c.ChangelogTopic(), c.Partitions, compact},
		{c.PairsTopic(), 1, compact},
	}
	if c.AlertsTopic != "" {
		want = append(want, struct {
			topic      string
			partitions int32
			configs    map[string]*string
		}{c.AlertsTopic, c.Partitions, nil})
	}
	for _, w := range want {
		resp, err := adm.CreateTopic(ctx, w.partitions, c.Replication, w.configs, w.topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return Layout{}, fmt.Errorf("kafka: create topic %s: %w (%s)", w.topic, err, resp.ErrMessage)
		}
	}
	names := []string{c.ByHostTopic(), c.ChangelogTopic(), c.PairsTopic()}
	if c.AlertsTopic != "" {
		names = append(names, c.AlertsTopic)
	}
	md, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return Layout{}, fmt.Errorf("kafka: describe topics: %w", err)
	}
	count := func(t string) (int32, error) {
		d, ok := md[t]
		if !ok || d.Err != nil {
			return 0, fmt.Errorf("kafka: topic %s: not found after creation (%v)", t, d.Err)
		}
		return int32(len(d.Partitions)), nil
	}
	var l Layout
	if l.ByHost, err = count(c.ByHostTopic()); err != nil {
		return Layout{}, err
	}
	cl, err := count(c.ChangelogTopic())
	if err != nil {
		return Layout{}, err
	}
	if cl != l.ByHost {
		return Layout{}, fmt.Errorf("kafka: %s has %d partitions but %s has %d; they must match", c.ChangelogTopic(), cl, c.ByHostTopic(), l.ByHost)
	}
	if c.AlertsTopic != "" {
		if l.Alerts, err = count(c.AlertsTopic); err != nil {
			return Layout{}, err
		}
	}
	return l, nil
}
