package main

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/kafka"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

func testKafkaEngine(t testing.TB) *kafkaEngine {
	t.Helper()
	var c common
	s, err := c.load(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return &kafkaEngine{s: s, dead: &resultlog.DeadLetterMemory{}, maxLine: resultlog.DefaultMaxLine, parser: resultlog.NewParser()}
}

func TestChangelogRoundTrip(t *testing.T) {
	k := testKafkaEngine(t)
	sc, err := k.NewScorer(0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := `{"name":"pack/Global/compile_lineage","hostIdentifier":"WS-1","unixTime":1764000010,"counter":1,"decorations":{"host_uuid":"u-1","hostname":"WS-1"},"columns":{"lineage_id":"6f1c2a8e-5b7d-5e0f-9a1b-3c4d5e6f7a81","time":"1764000000","compiler_name":"csc.exe","compiler_path":"C:\\Windows\\csc.exe","parent_name":"mshta.exe","parent_class":"script_host","stage":"network","executions":"1","connection_origin":"artifact","reasons":"parent_elastic_list;temp_output"},"action":"added"}`
	if got := k.HostKey([]byte(line)); got != "u-1" {
		t.Fatalf("HostKey = %q, want u-1", got)
	}
	var alerts []kafka.Alert
	if err := sc.Line("by-host/0", 7, []byte(line), func(a kafka.Alert) { alerts = append(alerts, a) }); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Host != "WS-1" || !strings.Contains(string(alerts[0].JSON), `"input":"by-host/0:7"`) {
		t.Fatalf("alerts %+v", alerts)
	}
	entries := sc.Changes()
	kinds := map[string]int{}
	for _, e := range entries {
		kinds[e.Key[:1]]++
	}
	// one lineage, the host pair and the fleet pair
	if kinds["l"] != 1 || kinds["p"] != 2 {
		t.Fatalf("changelog entries %q", entries)
	}
	// A scorer restored from those entries treats the same line as known.
	sc2, err := k.NewScorer(0, entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	alerts = nil
	if err := sc2.Line("by-host/0", 8, []byte(line), func(a kafka.Alert) { alerts = append(alerts, a) }); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 0 {
		t.Fatalf("restored scorer alerted again: %s", alerts[0].JSON)
	}
}

func TestChangelogRestoreErrors(t *testing.T) {
	k := testKafkaEngine(t)
	cases := []struct {
		entry kafka.Entry
		want  string
	}{
		{kafka.Entry{Key: "l\x00abc", Value: []byte("{")}, "changelog lineage abc"},
		{kafka.Entry{Key: "p\x00host-only", Value: []byte{1}}, "want host, parent and compiler"},
		{kafka.Entry{Key: "z\x00x", Value: []byte{1}}, "unknown kind"},
	}
	for _, tc := range cases {
		_, err := k.NewScorer(3, []kafka.Entry{tc.entry}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("entry %q: error %v, want %q", tc.entry.Key, err, tc.want)
		}
	}
}

// FuzzChangelogRestore: changelog records come from a topic anyone with
// write access can append to; restoring must fail cleanly or build a scorer.
func FuzzChangelogRestore(f *testing.F) {
	f.Add("l\x00id-1", []byte(`{"stage":2,"band":3,"score":61.5,"fingerprint":1,"alerted":true,"alert_stage":2,"alert_band":3,"seen":1764000000}`))
	f.Add("p\x00u-1\x00mshta.exe\x00csc.exe", []byte{1})
	f.Add("p\x00\x00mshta.exe\x00csc.exe", []byte{1})
	f.Add("x", []byte(nil))
	k := testKafkaEngine(f)
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		sc, err := k.NewScorer(0, []kafka.Entry{{Key: key, Value: value}}, nil)
		if err != nil {
			return
		}
		if err := sc.Line("t/0", 1, []byte(`{"name":"q","hostIdentifier":"h","columns":{"lineage_id":"id-1","compiler_name":"csc.exe","stage":"compile"},"action":"added"}`), func(kafka.Alert) {}); err != nil {
			t.Fatalf("scoring after restore: %v", err)
		}
	})
}

func TestRunKafkaFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no group", []string{"run", "--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in"}, "--kafka-group is required"},
		{"no topic", []string{"run", "--kafka-brokers", "127.0.0.1:1", "--kafka-group", "g"}, "at least one --kafka-topic"},
		{"follow and kafka", []string{"run", "--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in", "--kafka-group", "g", "--follow", "x.log"}, "--follow and --kafka-brokers exclude each other"},
		{"bad mechanism", []string{"run", "--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in", "--kafka-group", "g", "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-user", "u"}, `"GSSAPI": want PLAIN`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %v, stderr %q; want %q", err, stderr.String(), tc.want)
			}
		})
	}
}
