package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
)

// AlertQueue is an alert.Sink that puts each alert into a Spool; the
// spool's Run delivers it. Send returns once the alert is on disk.
type AlertQueue struct {
	Spool  *Spool
	Encode alert.Encoder // nil: the native JSON
}

// Send spools one alert under its alert_id.
func (q *AlertQueue) Send(_ context.Context, a *alert.Alert) error {
	enc := q.Encode
	if enc == nil {
		enc = alert.Marshal
	}
	doc, err := enc(a)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, a.Time)
	if err != nil {
		return fmt.Errorf("alert %s: time %q: %w", a.AlertID, a.Time, err)
	}
	return q.Spool.Enqueue(Record{ID: a.AlertID, Time: t, Host: a.Host, Doc: doc})
}
