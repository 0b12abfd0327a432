package expect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Alert is the part of a correlator alert (`correlator score` prints one JSON object per line) the
// scenarios check.
type Alert struct {
	Host      string  `json:"host"`
	Role      string  `json:"role"`
	LineageID string  `json:"lineage_id"`
	Score     float64 `json:"score"`
	Severity  string  `json:"severity"`
	Stage     string  `json:"stage"`
	// Set by `correlator score --all` on lineages that do not alert.
	BelowThreshold bool `json:"below_threshold"`
	Suppressed     bool `json:"suppressed"`
}

// Alerting reports whether the alert would be raised (not below the threshold, not suppressed).
func (a Alert) Alerting() bool { return !a.BelowThreshold && !a.Suppressed }

func alerting(alerts []Alert) []Alert {
	var out []Alert
	for _, a := range alerts {
		if a.Alerting() {
			out = append(out, a)
		}
	}
	return out
}

// ParseAlerts reads correlator JSON lines; name is used in errors.
func ParseAlerts(name string, r io.Reader) ([]Alert, error) {
	var out []Alert
	err := eachJSONLine(name, r, func(n int, line []byte) error {
		var a Alert
		if err := json.Unmarshal(line, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// TopScore is the highest score among alerts, raised or not (0 when there are none).
func TopScore(alerts []Alert) float64 {
	var top float64
	for _, a := range alerts {
		top = max(top, a.Score)
	}
	return top
}

// CheckCorrelator compares the alerts raised when the host had each role with e.Correlator.
// byRole maps a role to the output of `correlator score --all` for a run where the host had that role;
// alert_roles and quiet_roles look at raised alerts only, score_higher at every scored lineage.
func CheckCorrelator(e *Expected, byRole map[string][]Alert) []string {
	var fails []string
	c := e.Correlator
	need := slices.Concat(c.AlertRoles, c.QuietRoles)
	for r := range c.MinSeverity {
		need = append(need, r)
	}
	for _, p := range c.ScoreHigher {
		need = append(need, p[0], p[1])
	}
	for _, r := range need {
		if _, ok := byRole[r]; !ok {
			fails = append(fails, "correlator was not run with role "+r)
		}
	}
	for _, r := range c.AlertRoles {
		if len(alerting(byRole[r])) == 0 {
			fails = append(fails, fmt.Sprintf("no alert as %s (top score %.1f)", r, TopScore(byRole[r])))
		}
	}
	for _, r := range c.QuietRoles {
		if raised := alerting(byRole[r]); len(raised) > 0 {
			fails = append(fails, fmt.Sprintf("%d alert(s) as %s, want none (top score %.1f, severity %s)", len(raised), r, TopScore(raised), raised[0].Severity))
		}
	}
	roles := make([]string, 0, len(c.MinSeverity))
	for r := range c.MinSeverity {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	for _, r := range roles {
		want := slices.Index(Severities, c.MinSeverity[r])
		top, topName := -1, "none"
		for _, a := range alerting(byRole[r]) {
			if i := slices.Index(Severities, a.Severity); i > top {
				top, topName = i, a.Severity
			}
		}
		if top < want {
			fails = append(fails, fmt.Sprintf("most severe alert as %s is %s, want at least %s", r, topName, c.MinSeverity[r]))
		}
	}
	for _, p := range c.ScoreHigher {
		a, b := TopScore(byRole[p[0]]), TopScore(byRole[p[1]])
		if !(a > b) {
			fails = append(fails, fmt.Sprintf("top score as %s (%.1f) is not above %s (%.1f)", p[0], a, p[1], b))
		}
	}
	return fails
}

// eachJSONLine calls fn with every non-blank line of r and its line number; an error from fn
// or from reading is returned naming name and the line.
func eachJSONLine(name string, r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return nil
}
