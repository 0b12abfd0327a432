// Package alert defines the alert document and where alerts go: JSON lines
// on a writer (stdout), an append-only file (0640) and optionally a webhook.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// ExceptionNote records the exception that did or did not apply.
type ExceptionNote struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Reason  string `json:"reason"`
	Ticket  string `json:"ticket,omitempty"`
	Expires string `json:"expires"`
	Source  string `json:"source"`
	Applied bool   `json:"applied"`
	Status  string `json:"status"` // applied, expired
}

// Alert is one scored compile lineage. The embedded record gives the
// compile_lineage columns (compiler_*, parent_*, output_*, ...) at top level.
type Alert struct {
	AlertID        string         `json:"alert_id"`
	Time           string         `json:"time"`
	ObservedTime   string         `json:"observed_time,omitempty"`
	Host           string         `json:"host"`
	HostUUID       string         `json:"host_uuid"`
	HostIdentifier string         `json:"host_identifier,omitempty"`
	Hostname       string         `json:"hostname,omitempty"`
	Role           string         `json:"role"`
	Roles          []string       `json:"roles,omitempty"`
	RoleLabel      string         `json:"role_label"`
	LineageID      string         `json:"lineage_id"`
	Score          float64        `json:"score"`
	Severity       string         `json:"severity"`
	Stage          string         `json:"stage"`
	Evidence       float64        `json:"evidence"`
	Likelihood     float64        `json:"likelihood_factor"`
	Impact         float64        `json:"impact_factor"`
	Reasons        []score.Reason `json:"reasons"`
	ReasonCodes    []string       `json:"reason_codes,omitempty"`
	Techniques     []string       `json:"techniques"`
	Tactics        []string       `json:"tactics"`
	Query          string         `json:"query,omitempty"`
	Input          string         `json:"input,omitempty"`
	Exception      *ExceptionNote `json:"exception,omitempty"`
	Suppressed     bool           `json:"suppressed,omitempty"`
	BelowThreshold bool           `json:"below_threshold,omitempty"`
	Realert        bool           `json:"realert,omitempty"`
	lineage.Record
}

// Sink receives alerts.
type Sink interface {
	Send(ctx context.Context, a *Alert) error
}

// WriterSink writes JSON lines to a writer.
type WriterSink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriterSink returns a sink over w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Marshal encodes an alert as one JSON line (without HTML escaping, so
// "a > b" ancestry stays readable).
func Marshal(a *Alert) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("encode alert %s: %w", a.LineageID, err)
	}
	return buf.Bytes(), nil
}

// Send writes one JSON line.
func (s *WriterSink) Send(_ context.Context, a *Alert) error {
	b, err := Marshal(a)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write alert %s: %w", a.LineageID, err)
	}
	return nil
}

// FileSink appends JSON lines to a file created with mode 0640 and syncs
// after every alert.
type FileSink struct {
	WriterSink
	f *os.File
}

// OpenFile opens an alert file for appending.
func OpenFile(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open alert file: %w", err)
	}
	return &FileSink{WriterSink: WriterSink{w: f}, f: f}, nil
}

// Send writes and syncs one alert.
func (s *FileSink) Send(ctx context.Context, a *Alert) error {
	if err := s.WriterSink.Send(ctx, a); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync alert file: %w", err)
	}
	return nil
}

// Sync flushes what was written through the embedded WriterSink (callers
// that batch alerts write without a sync per alert, then Sync once).
func (s *FileSink) Sync() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync alert file: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileSink) Close() error { return s.f.Close() }

// Webhook posts each alert as JSON. The bearer token, if any, is sent in
// the Authorization header and never logged.
type Webhook struct {
	URL    string
	Token  string
	Client *http.Client
}

// Send posts one alert.
func (w *Webhook) Send(ctx context.Context, a *Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert %s: %w", a.LineageID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook post: status %d", resp.StatusCode)
	}
	return nil
}

// Multi sends to every sink in order and stops at the first error.
type Multi []Sink

// Send sends to all sinks.
func (m Multi) Send(ctx context.Context, a *Alert) error {
	for _, s := range m {
		if err := s.Send(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
