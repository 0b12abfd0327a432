// Package alert defines the alert document and where alerts go: JSON lines
// on a writer (stdout), an append-only file (0640) and optionally a webhook.
package alert

import (
	"bytes"
	"context"
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

// Alert kinds.
const (
	KindLineage  = "lineage"   // one scored compile lineage
	KindHostRisk = "host_risk" // a host whose lineages add up over the window
)

// HostRisk is what a host risk alert adds: the window sum of the host's
// lineage scores and the lineages that made it.
type HostRisk struct {
	Window    string            `json:"window"`
	Since     string            `json:"since"` // start of the window (RFC 3339)
	Sum       float64           `json:"sum"`
	Threshold float64           `json:"threshold"`
	Band      string            `json:"band"`
	Lineages  []HostRiskLineage `json:"lineages"`
}

// HostRiskLineage is one lineage counted in a host's risk.
type HostRiskLineage struct {
	LineageID  string   `json:"lineage_id"`
	Score      float64  `json:"score"`
	Severity   string   `json:"severity"`
	Stage      string   `json:"stage"`
	Time       string   `json:"time"`
	Techniques []string `json:"techniques,omitempty"`
	Tactics    []string `json:"tactics,omitempty"`
}

// Alert is one scored compile lineage (Kind lineage) or one host whose
// risk over the window crossed the host threshold (Kind host_risk, with
// HostRisk set and no lineage). The embedded record gives the
// compile_lineage columns (compiler_*, parent_*, output_*, ...) at top level.
type Alert struct {
	AlertID        string         `json:"alert_id"`
	Kind           string         `json:"kind"`
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
	LogOdds        float64        `json:"log_odds"`
	Evidence       float64        `json:"evidence"`
	Probability    float64        `json:"probability"`
	Prior          float64        `json:"prior"`
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
	// NotRaised marks an evaluation above the threshold that the engine did
	// not raise: the lineage already alerted at this stage and band (for
	// example the same lineage logged again by another pack query with other
	// columns). It is returned for explain and --all only, never delivered.
	NotRaised bool      `json:"-"`
	HostRisk  *HostRisk `json:"host_risk,omitempty"`
	lineage.Record
}

// Raised reports whether a is an alert to deliver: above the threshold,
// not suppressed by an exception, and raised by the engine (new, or an
// escalation of stage or band).
func (a *Alert) Raised() bool {
	return !a.BelowThreshold && !a.Suppressed && !a.NotRaised
}

// Sink receives alerts.
type Sink interface {
	Send(ctx context.Context, a *Alert) error
}

// Encoder turns an alert into one JSON document (no trailing newline
// needed); Marshal is the native one.
type Encoder func(*Alert) ([]byte, error)

// WriterSink writes JSON lines to a writer.
type WriterSink struct {
	mu sync.Mutex
	w  io.Writer
	// Encode overrides the native JSON (e.g. ECS); nil means Marshal.
	Encode Encoder
}

// NewWriterSink returns a sink over w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Marshal encodes an alert as one JSON line (without HTML escaping, so
// "a > b" ancestry stays readable); see AppendJSON.
func Marshal(a *Alert) ([]byte, error) {
	b, err := AppendJSON(make([]byte, 0, 4096), a)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Send writes one JSON line.
func (s *WriterSink) Send(_ context.Context, a *Alert) error {
	b, err := encode(s.Encode, a)
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

// encode runs enc (nil: Marshal) and ends the document with a newline.
func encode(enc Encoder, a *Alert) ([]byte, error) {
	if enc == nil {
		return Marshal(a)
	}
	b, err := enc(a)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b, nil
}

// Webhook posts each alert as JSON. The bearer token, if any, is sent in
// the Authorization header and never logged.
type Webhook struct {
	URL    string
	Token  string
	Client *http.Client
	// Encode overrides the native JSON (e.g. ECS); nil means Marshal.
	Encode Encoder
}

// Send posts one alert.
func (w *Webhook) Send(ctx context.Context, a *Alert) error {
	b, err := encode(w.Encode, a)
	if err != nil {
		return err
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
