package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

// Encoder turns an alert into the document a SIEM gets.
type Encoder func(*alert.Alert) ([]byte, error)

// AlertQueue is an alert.Sink that puts each alert into a Spool; the
// spool's Run delivers it. Send returns once the alert is on disk.
type AlertQueue struct {
	Spool  *Spool
	Encode Encoder
}

// Send spools one alert under its alert_id.
func (q *AlertQueue) Send(_ context.Context, a *alert.Alert) error {
	doc, err := q.Encode(a)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, a.Time)
	if err != nil {
		return fmt.Errorf("alert %s: time %q: %w", a.AlertID, a.Time, err)
	}
	return q.Spool.Enqueue(Record{ID: a.AlertID, Time: t, Host: a.Host, Doc: doc})
}
