package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// SplunkHEC sends records to Splunk's HTTP Event Collector
// (/services/collector/event): one body of concatenated JSON events per
// batch, each with time, host, source, sourcetype and the document as
// event, and the record ID as the indexed field alert_id.
type SplunkHEC struct {
	// URL is the collector address, e.g. https://splunk.example:8088.
	URL        string
	Token      string
	Sourcetype string // default DefaultSourcetype
	Source     string // default "compile-lineage"
	Index      string // optional: the token's default index otherwise
	Client     *http.Client
}

// DefaultSourcetype is the sourcetype of alerts.
const DefaultSourcetype = "compile_lineage:alert"

// Name names the sink in logs.
func (s *SplunkHEC) Name() string { return "splunk_hec" }

type hecEvent struct {
	Time       json.Number       `json:"time"`
	Host       string            `json:"host,omitempty"`
	Source     string            `json:"source"`
	Sourcetype string            `json:"sourcetype"`
	Index      string            `json:"index,omitempty"`
	Fields     map[string]string `json:"fields"`
	Event      json.RawMessage   `json:"event"`
}

// HECBody builds the collector request body of a batch.
func (s *SplunkHEC) HECBody(batch []Record) ([]byte, error) {
	st, src := s.Sourcetype, s.Source
	if st == "" {
		st = DefaultSourcetype
	}
	if src == "" {
		src = "compile-lineage"
	}
	var b bytes.Buffer
	for _, r := range batch {
		ms := r.Time.UnixMilli()
		ev := hecEvent{
			Time:       json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)),
			Host:       r.Host,
			Source:     src,
			Sourcetype: st,
			Index:      s.Index,
			Fields:     map[string]string{"alert_id": r.ID},
			Event:      bytes.TrimSpace(r.Doc),
		}
		line, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("hec event %s: %w", r.ID, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// Send posts one batch.
func (s *SplunkHEC) Send(ctx context.Context, batch []Record) error {
	if len(batch) == 0 {
		return nil
	}
	body, err := s.HECBody(batch)
	if err != nil {
		return &Permanent{Err: err}
	}
	h := http.Header{}
	h.Set("Authorization", "Splunk "+s.Token)
	status, resp, err := post(ctx, s.Client, strings.TrimRight(s.URL, "/")+"/services/collector/event", "application/json", h, body)
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	var r struct {
		Text string `json:"text"`
		Code int    `json:"code"`
	}
	_ = json.Unmarshal(resp, &r)
	err = fmt.Errorf("splunk hec: status %d code %d: %s", status, r.Code, r.Text)
	if retryable(status) {
		return err
	}
	return &Permanent{Err: err}
}
