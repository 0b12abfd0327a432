package engine

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// HostRisk is what the engine remembers of a host's risk over the window:
// the lineages that count (each once, with its highest score) and the band
// of its last host alert in the current episode (-1: none). An episode
// ends when the sum falls below the threshold.
type HostRisk struct {
	Entries   []RiskEntry `json:"entries"`
	AlertBand int         `json:"alert_band"`
	Episode   int64       `json:"episode,omitempty"` // row time the episode's first alert was raised
}

// RiskEntry is one lineage counted in a host's risk.
type RiskEntry struct {
	LineageID  string   `json:"lineage_id"`
	Score      float64  `json:"score"`
	Severity   string   `json:"severity"`
	Stage      string   `json:"stage"`
	Time       int64    `json:"time"` // row time of its latest contribution
	Techniques []string `json:"techniques,omitempty"`
	Tactics    []string `json:"tactics,omitempty"`
}

func (h *HostRisk) sum() float64 {
	var s float64
	for _, e := range h.Entries {
		s += e.Score
	}
	return s
}

// hostRisk adds a scored lineage to its host's window and returns a host
// alert when the window sum reaches a band above the episode's last one.
// techniques and tactics are the lineage's when already known (nil: they
// are derived here).
func (e *Engine) hostRisk(row hostRow, rec *lineage.Record, role score.Role, res score.Result, techniques, tactics []string, at int64) *alert.Alert {
	hp := &e.Policy.HostRisk
	if res.Score < hp.MinLineageScore {
		return nil
	}
	key := row.key
	h, ok := e.State.HostRisk(key)
	if !ok {
		h = HostRisk{AlertBand: -1}
	}
	window := int64(hp.Window.Duration / time.Second)
	h.Entries = slices.DeleteFunc(h.Entries, func(x RiskEntry) bool { return x.Time <= at-window })
	i := slices.IndexFunc(h.Entries, func(x RiskEntry) bool { return x.LineageID == rec.LineageID })
	if techniques == nil {
		techniques, tactics = score.Techniques(e.Policy, rec), score.Tactics(rec)
	}
	entry := RiskEntry{LineageID: strings.Clone(rec.LineageID), Score: res.Score, Severity: res.Severity, Stage: rec.Stage, Time: at,
		Techniques: techniques, Tactics: tactics}
	switch {
	case i < 0:
		h.Entries = append(h.Entries, entry)
	case res.Score >= h.Entries[i].Score:
		h.Entries[i] = entry
	default:
		h.Entries[i].Time = at
	}
	sum := h.sum()
	band, rank := e.Policy.HostBand(sum)
	var out *alert.Alert
	switch {
	case rank < 0:
		h.AlertBand, h.Episode = -1, 0
	case rank > h.AlertBand:
		realert := h.AlertBand >= 0
		if !realert {
			h.Episode = at
		}
		h.AlertBand = rank
		out = e.hostAlert(row, role, &h, sum, band, at, window, realert)
	}
	e.State.SetHostRisk(key, h)
	return out
}

// hostRow is the identity of the host a row came from.
type hostRow struct {
	key, name, uuid, identifier, hostname string
}

func (e *Engine) hostAlert(row hostRow, role score.Role, h *HostRisk, sum float64, band string, at, window int64, realert bool) *alert.Alert {
	ls := make([]alert.HostRiskLineage, 0, len(h.Entries))
	top := 0.0
	for _, x := range h.Entries {
		ls = append(ls, alert.HostRiskLineage{LineageID: x.LineageID, Score: x.Score, Severity: x.Severity, Stage: x.Stage,
			Time: time.Unix(x.Time, 0).UTC().Format(time.RFC3339), Techniques: x.Techniques, Tactics: x.Tactics})
		top = max(top, x.Score)
	}
	slices.SortStableFunc(ls, func(a, b alert.HostRiskLineage) int { return cmp.Compare(a.Time, b.Time) })
	s := sha1.Sum([]byte(row.key + "|" + strconv.FormatInt(h.Episode, 10) + "|" + band))
	a := &alert.Alert{
		AlertID: hex.EncodeToString(s[:10]), Kind: alert.KindHostRisk,
		Time: time.Unix(at, 0).UTC().Format(time.RFC3339), Host: row.name, HostUUID: row.uuid,
		HostIdentifier: row.identifier, Hostname: row.hostname, Role: role.Name, Roles: role.All, RoleLabel: role.Label,
		Score: top, Severity: band, Realert: realert,
		HostRisk: &alert.HostRisk{
			Window: e.Policy.HostRisk.Window.String(), Since: time.Unix(at-window, 0).UTC().Format(time.RFC3339),
			Sum: round2(sum), Threshold: e.Policy.HostRisk.Threshold, Band: band, Lineages: ls,
		},
	}
	if len(a.Roles) == 0 {
		a.Roles = []string{role.Name}
	}
	return a
}

func round2(v float64) float64 {
	return float64(int64(v*100+0.5)) / 100
}
