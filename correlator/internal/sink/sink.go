// Package sink delivers alert documents to SIEMs: Elasticsearch's _bulk
// API and Splunk's HTTP Event Collector, over TLS, with retries and a disk
// spool so nothing is lost while a SIEM is down or after a crash.
//
// A Sink sends one batch of Records. Each Record carries a stable ID (the
// alert_id), so a resend after a crash is idempotent where the SIEM allows
// it (Elasticsearch _id) and recognisable where it does not (Splunk
// indexed field alert_id). A Spool in front of any Sink makes delivery
// durable: Enqueue returns once the records are on disk (files 0600), and
// Run delivers them in order, retrying with backoff.
package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Record is one document to deliver.
type Record struct {
	// ID is stable across resends (the alert_id).
	ID string `json:"id"`
	// Time is the event time (Splunk's time field).
	Time time.Time `json:"time"`
	// Host names the host the document is about (Splunk's host field).
	Host string `json:"host,omitempty"`
	// Doc is the JSON document.
	Doc json.RawMessage `json:"doc"`
}

// Sink sends a batch of records. A nil error means every record was
// accepted. A *BatchError says which records to retry and which the SIEM
// rejected for good; any other error means the whole batch is to be
// retried.
type Sink interface {
	Name() string
	Send(ctx context.Context, batch []Record) error
}

// BatchError reports a partly failed batch by record index.
type BatchError struct {
	Retry    []int          // indexes to send again
	Rejected map[int]string // indexes the SIEM refused for good, with its reason
	Cause    string         // summary
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("%s: %d to retry, %d rejected", e.Cause, len(e.Retry), len(e.Rejected))
}

// Permanent marks an error that retrying the same batch cannot fix (the
// SIEM refused the request itself, e.g. 400 Bad Request).
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// IsPermanent reports whether err is a Permanent error.
func IsPermanent(err error) bool {
	var p *Permanent
	return errors.As(err, &p)
}

// TLS holds the TLS options of a SIEM connection.
type TLS struct {
	CAFile     string // PEM roots to trust instead of the system's
	CertFile   string // client certificate (mutual TLS)
	KeyFile    string
	ServerName string // overrides the name checked in the server certificate
	// InsecureSkipVerify turns certificate checks off (lab use only).
	InsecureSkipVerify bool
}

// Config builds the tls.Config (TLS 1.2 or later).
func (t TLS) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file %s: %w", t.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s: %w", t.CertFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// HTTPClient returns a client with these TLS options and a timeout per
// request.
func (t TLS) HTTPClient(timeout time.Duration) (*http.Client, error) {
	cfg, err := t.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Timeout: timeout, Transport: tr}, nil
}
