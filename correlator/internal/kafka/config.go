// Package kafka runs the correlator as members of one Kafka consumer group.
//
// Every member consumes the input topics and re-keys each line by host onto
// an internal topic (GROUP.by-host), then scores the partitions of that topic
// it is assigned. All of one host's lines land in one by-host partition, so
// one member at a time scores a host, in order. The dedup, rarity and
// host-risk state of a by-host partition lives in a compacted changelog topic
// (GROUP.changelog, one partition per by-host partition) and is restored when
// a member is assigned the partition.
//
// Each poll is one Kafka transaction (kgo.GroupTransactSession): the re-keyed
// lines, the alerts (--alerts-topic), the changelog entries and the consumed
// offsets commit together or not at all. A member killed at any point leaves
// an open transaction that is aborted (by the broker's transaction timeout or
// when the member restarts with the same instance id); whoever is assigned the
// partitions next restores the state as of the last commit and re-scores the
// same lines, producing the same alerts with the same ids.
//
// Fleet-wide rarity ("first time this parent and compiler pair is seen in the
// fleet") is decided by the single-partition topic GROUP.fleet-pairs: a
// member that meets a pair it does not know appends a claim naming the
// lineage and waits to read it back; the first claim for the pair in that
// log wins, so every member, and every re-run after a crash, agrees on the
// one lineage that is first.
package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is how to reach the cluster and which topics to use.
type Config struct {
	Brokers     []string
	Topics      []string // input topics (osquery's kafka_producer topics, Fleet's kafkarest.result_topic)
	Group       string
	AlertsTopic string // "" : no alerts topic (local sinks only)
	// Instance names this member; it is the transactional id, so a member
	// restarted with the same instance fences its previous incarnation at once.
	Instance string

	// Partitions of the internal topics when they are created (default 12).
	Partitions int32
	// Replication of the internal topics when they are created (default -1: the broker's default).
	Replication int16

	SessionTimeout time.Duration // default 45s
	TxnTimeout     time.Duration // default 15s
	MaxPollRecords int           // default 500

	TLS           bool
	TLSCA         string // PEM file of CAs; "" : system roots
	TLSCert       string // client certificate (mutual TLS)
	TLSKey        string
	TLSServerName string

	SASLMechanism string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	SASLUser      string
	SASLPassword  string // never logged
}

// Internal topic names, derived from the group.
func (c *Config) ByHostTopic() string    { return c.Group + ".by-host" }
func (c *Config) ChangelogTopic() string { return c.Group + ".changelog" }
func (c *Config) PairsTopic() string     { return c.Group + ".fleet-pairs" }

func (c *Config) defaults() {
	if c.Partitions <= 0 {
		c.Partitions = 12
	}
	if c.Replication == 0 {
		c.Replication = -1
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.TxnTimeout <= 0 {
		c.TxnTimeout = 15 * time.Second
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 500
	}
	if c.Instance == "" {
		h, _ := os.Hostname()
		c.Instance = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
}

// Validate reports the first configuration error.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: --kafka-brokers is required")
	}
	if len(c.Topics) == 0 {
		return errors.New("kafka: at least one --kafka-topic is required")
	}
	if c.Group == "" {
		return errors.New("kafka: --kafka-group is required")
	}
	for _, t := range append([]string{c.AlertsTopic}, c.Topics...) {
		if t != "" && strings.HasPrefix(t, c.Group+".") {
			return fmt.Errorf("kafka: topic %q collides with the internal topics of group %q", t, c.Group)
		}
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("kafka: --kafka-sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	if c.SASLMechanism != "" && c.SASLUser == "" {
		return errors.New("kafka: SASL needs --kafka-sasl-user")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("kafka: --kafka-tls-cert and --kafka-tls-key go together")
	}
	return nil
}

// ClientOpts are the options every client of this member uses: brokers,
// TLS and SASL.
func (c *Config) ClientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS || c.TLSCA != "" || c.TLSCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("kafka: read CA %s: %w", c.TLSCA, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka: %s holds no PEM certificate", c.TLSCA)
			}
			tc.RootCAs = pool
		}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("kafka: load client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}
