// Package engine is the correlator's pipeline: result-log rows in, scored
// and deduplicated alerts out. It recognises compile-lineage rows by their
// columns, resolves the host role, scores, applies exceptions and decides
// whether the lineage alerts (one alert per lineage_id; again only when the
// stage or the severity band rises).
//
// An Engine is not safe for concurrent use; callers serialise Process.
package engine

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"time"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/exceptions"
	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/policy"
	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
	"github.com/compilelineage/compile-lineage/correlator/internal/roles"
	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// ErrNoLineageID marks a compile_lineage row without a lineage id.
var ErrNoLineageID = errors.New("compile_lineage row without lineage_id")

// Stats counts what the engine saw.
type Stats struct {
	Rows           int64 `json:"rows"`
	OtherRows      int64 `json:"other_rows"`
	LineageRows    int64 `json:"lineage_rows"`
	FallbackRows   int64 `json:"fallback_rows"`
	RemovedRows    int64 `json:"removed_rows"`
	Unchanged      int64 `json:"unchanged_rows"`
	Stale          int64 `json:"stale_rows"`
	Scored         int64 `json:"scored"`
	BelowThreshold int64 `json:"below_threshold"`
	Suppressed     int64 `json:"suppressed"`
	ExpiredMatched int64 `json:"expired_exception_matches"`
	Alerts         int64 `json:"alerts"`
	HostAlerts     int64 `json:"host_risk_alerts"`
	Realerts       int64 `json:"realerts"`
	NotRaised      int64 `json:"not_raised"`
	BadRows        int64 `json:"bad_rows"`
	Pruned         int64 `json:"pruned_lineages"`
}

// Engine scores rows.
type Engine struct {
	Policy     *policy.Policy
	Roles      *roles.Resolver
	Exceptions *exceptions.Set
	State      *State
	Now        func() time.Time
	Stats      Stats
	// KeepBelow makes Process also return below-threshold evaluations
	// (flagged), for --all and explain. Lineages an exception suppressed
	// are always returned, flagged, so they are counted.
	KeepBelow bool
	// ReuseAlert makes Process return its lineage alert in one struct it
	// overwrites on the next call, for callers that encode each alert at
	// once (batch score). Host risk alerts are always new.
	ReuseAlert bool
	// Retention is how long a lineage is remembered after its latest row
	// (by row time) before it is pruned; 0 means DefaultRetention.
	Retention time.Duration
	// PruneEvery is how many lineage rows pass between prunes (0: 65536).
	PruneEvery int
	// Fleet, when set, has the last word on pairs this State has not seen
	// fleet-wide (several correlators sharing one fleet; see internal/kafka).
	Fleet FleetRarity

	reused  alert.Alert    // the alert ReuseAlert returns
	reasons []score.Reason // and its reasons' room
	newest  int64          // latest row time seen
	sinceGC int            // lineage rows since the last prune
}

// FleetRarity decides whether a lineage is the first in the fleet to show a
// parent and compiler pair.
type FleetRarity interface {
	FirstInFleet(parent, compiler, lineageID string) bool
}

// DefaultRetention keeps lineages for 14 days after their latest row.
const DefaultRetention = 14 * 24 * time.Hour

// Output is the result of processing one row.
type Output struct {
	Alert *alert.Alert // nil when nothing is to be emitted
	Emit  bool         // true when Alert is a new alert or a re-alert
	// Host is a host risk alert the row raised (always to be emitted).
	Host *alert.Alert
}

// Process handles one row. input names the file and line (for the alert).
func (e *Engine) Process(row *resultlog.Row, input string) (Output, error) {
	e.Stats.Rows++
	cols := lineage.Scan(row.Columns)
	kind := cols.Kind()
	if kind == lineage.KindOther {
		e.Stats.OtherRows++
		return Output{}, nil
	}
	if kind == lineage.KindFallback {
		e.Stats.FallbackRows++
	} else {
		e.Stats.LineageRows++
	}
	if row.Action == "removed" {
		e.Stats.RemovedRows++
		return Output{}, nil
	}
	host := row.Host
	rec, _ := cols.ScoringFields(host.Key())
	if rec.LineageID == "" {
		e.Stats.BadRows++
		return Output{}, ErrNoLineageID
	}
	seenAt := rec.Time
	if row.UnixTime > seenAt {
		seenAt = row.UnixTime
	}
	e.prune(seenAt)
	fp := fingerprint(&rec)
	prior, seen := e.State.Lineage(rec.LineageID)
	if seen && prior.Fingerprint == fp {
		// The same lineage in the same state: differential re-emission.
		e.Stats.Unchanged++
		return Output{}, nil
	}
	if seen && lineage.StageRank(rec.Stage) < prior.Stage {
		// An older state of a lineage already seen further along (re-read
		// input, or out-of-order delivery).
		e.Stats.Stale++
		return Output{}, nil
	}

	assign := e.Roles.Resolve(host)
	var rar score.Rarity
	if seen {
		rar = score.Rarity{HostFirst: prior.HostFirst, FleetFirst: prior.FleetFirst}
	} else {
		rar.HostFirst, rar.FleetFirst = e.State.SeePair(host.Key(), rec.ParentName, rec.CompilerName)
		if rar.FleetFirst && e.Fleet != nil {
			rar.FleetFirst = e.Fleet.FirstInFleet(rec.ParentName, rec.CompilerName, rec.LineageID)
		}
	}
	role := score.Role{Name: assign.Role, All: assign.All, Label: assign.Label}
	res := score.Quick(e.Policy, &rec, role, rar)
	e.Stats.Scored++

	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	m := e.Exceptions.Match(exceptions.Subject{
		HostIDs:      []string{host.UUID, host.Identifier, host.Hostname},
		Roles:        role.All,
		ParentName:   rec.ParentName,
		CompilerName: rec.CompilerName,
		OutputPath:   rec.OutputPath,
		CompilerPath: rec.CompilerPath,
	}, now())
	suppressed := m.Applied != nil
	if m.Applied == nil && m.Expired != nil {
		e.Stats.ExpiredMatched++
	}
	if m.Applied != nil {
		e.State.HitException(m.Applied.ID)
	} else if m.Expired != nil {
		e.State.HitException(m.Expired.ID + " (expired)")
	}

	next := Prior{
		Stage:       lineage.StageRank(rec.Stage),
		Band:        e.Policy.BandRank(res.Severity),
		Score:       res.Score,
		Fingerprint: fp,
		HostFirst:   rar.HostFirst,
		FleetFirst:  rar.FleetFirst,
		Alerted:     prior.Alerted,
		AlertStage:  prior.AlertStage,
		AlertBand:   prior.AlertBand,
		Seen:        max(seenAt, prior.Seen),
	}
	out := Output{}
	realert := false
	switch {
	case !res.Alert:
		e.Stats.BelowThreshold++
	case suppressed:
		e.Stats.Suppressed++
	case !prior.Alerted:
		out.Emit = true
		e.Stats.Alerts++
	case next.Stage > prior.AlertStage || next.Band > prior.AlertBand:
		out.Emit = true
		realert = true
		e.Stats.Realerts++
	default:
		e.Stats.NotRaised++
	}
	if out.Emit {
		next.Alerted = true
		next.AlertStage = max(next.Stage, prior.AlertStage)
		next.AlertBand = max(next.Band, prior.AlertBand)
	}
	e.State.setLineage(rec.LineageID, next, seen)
	// The alert shows every column: decode the rest of the row when it is
	// returned.
	full := out.Emit || e.KeepBelow || (suppressed && res.Alert)
	quick := res
	if full {
		cols.Complete(&rec)
		if e.ReuseAlert {
			res = score.EvaluateInto(e.Policy, &rec, role, rar, e.reasons)
			e.reasons = res.Reasons
		} else {
			res = score.Evaluate(e.Policy, &rec, role, rar)
		}
	}
	if !suppressed {
		hr := hostRow{key: host.Key(), name: host.Name(), uuid: host.UUID, identifier: host.Identifier, hostname: host.Hostname}
		if out.Host = e.hostRisk(hr, &rec, role, quick, res.Techniques, res.Tactics, seenAt); out.Host != nil {
			e.Stats.HostAlerts++
		}
	}
	if !full {
		return out, nil
	}
	a := e.build(row, input, &rec, role, res)
	a.AlertID = alertID(rec.LineageID, rec.Stage, res.Severity)
	a.BelowThreshold = !res.Alert
	a.Realert = realert
	a.NotRaised = res.Alert && !suppressed && !out.Emit
	switch {
	case m.Applied != nil:
		a.Exception = note(m.Applied, true, "applied")
		a.Suppressed = true
	case m.Expired != nil:
		a.Exception = note(m.Expired, false, "expired")
	}
	out.Alert = a
	return out, nil
}

// prune drops lineages older than the retention, every pruneEvery rows.
func (e *Engine) prune(seenAt int64) {
	e.newest = max(e.newest, seenAt)
	e.sinceGC++
	every := e.PruneEvery
	if every <= 0 {
		every = 1 << 16
	}
	if e.sinceGC < every {
		return
	}
	e.sinceGC = 0
	ret := e.Retention
	if ret <= 0 {
		ret = DefaultRetention
	}
	e.Stats.Pruned += int64(e.State.Prune(e.newest - int64(ret/time.Second)))
	e.State.pruneHosts(e.newest - int64(e.Policy.HostRisk.Window.Duration/time.Second))
}

func (e *Engine) build(row *resultlog.Row, input string, rec *lineage.Record, role score.Role, res score.Result) *alert.Alert {
	t := rec.Time
	if t == 0 {
		t = row.UnixTime
	}
	a := &e.reused
	if !e.ReuseAlert {
		a = new(alert.Alert)
	}
	*a = alert.Alert{
		Kind:           alert.KindLineage,
		Time:           time.Unix(t, 0).UTC().Format(time.RFC3339),
		Host:           row.Host.Name(),
		HostUUID:       row.Host.UUID,
		HostIdentifier: row.Host.Identifier,
		Hostname:       row.Host.Hostname,
		Role:           role.Name,
		Roles:          role.All,
		RoleLabel:      role.Label,
		LineageID:      rec.LineageID,
		Score:          res.Score,
		Severity:       res.Severity,
		Stage:          rec.Stage,
		LogOdds:        res.LogOdds,
		Evidence:       res.Evidence,
		Probability:    res.Probability,
		Prior:          res.Prior,
		Impact:         res.Impact,
		Reasons:        res.Reasons,
		ReasonCodes:    rec.Reasons,
		Techniques:     res.Techniques,
		Tactics:        res.Tactics,
		Query:          row.Query,
		Input:          input,
		Record:         *rec,
	}
	if row.UnixTime > 0 {
		a.ObservedTime = time.Unix(row.UnixTime, 0).UTC().Format(time.RFC3339)
	}
	if len(role.All) == 0 {
		a.Roles = []string{role.Name}
	}
	return a
}

func note(x *exceptions.Exception, applied bool, status string) *alert.ExceptionNote {
	return &alert.ExceptionNote{ID: x.ID, Owner: x.Owner, Reason: x.Reason, Ticket: x.Ticket, Expires: x.Expires, Source: x.Source, Applied: applied, Status: status}
}

// fingerprint summarises what can change a lineage's score.
func fingerprint(r *lineage.Record) uint64 {
	h := uint64(14695981039346656037)
	mix := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	mix(r.Stage)
	mix(r.ParentClass)
	mix(r.ParentName)
	mix(r.CompilerName)
	mix(r.OutputPath)
	mix(r.ConnectionOrigin)
	for i := range 8 {
		h ^= uint64(byte(r.Executions >> (8 * i)))
		h *= 1099511628211
	}
	for _, x := range r.Reasons {
		mix(x)
	}
	return h
}

func alertID(id, stage, severity string) string {
	s := sha1.Sum([]byte(id + "|" + stage + "|" + severity))
	return hex.EncodeToString(s[:10])
}
