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
}

// ParseAlerts reads correlator JSON lines; name is used in errors.
func ParseAlerts(name string, r io.Reader) ([]Alert, error) {
	var out []Alert
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var a Alert
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return out, nil
}

// TopScore is the highest score among alerts (0 when there are none).
func TopScore(alerts []Alert) float64 {
	var top float64
	for _, a := range alerts {
		top = max(top, a.Score)
	}
	return top
}

// CheckCorrelator compares the alerts raised when the host had each role with e.Correlator.
// byRole maps a role to the alerts of a run where the host had that role.
func CheckCorrelator(e *Expected, byRole map[string][]Alert) []string {
	var fails []string
	c := e.Correlator
	need := slices.Concat(c.AlertRoles, c.QuietRoles)
	for _, p := range c.ScoreHigher {
		need = append(need, p[0], p[1])
	}
	for _, r := range need {
		if _, ok := byRole[r]; !ok {
			fails = append(fails, "correlator was not run with role "+r)
		}
	}
	for _, r := range c.AlertRoles {
		if len(byRole[r]) == 0 {
			fails = append(fails, "no alert as "+r)
		}
	}
	for _, r := range c.QuietRoles {
		if n := len(byRole[r]); n > 0 {
			fails = append(fails, fmt.Sprintf("%d alert(s) as %s, want none (top score %.1f, severity %s)", n, r, TopScore(byRole[r]), byRole[r][0].Severity))
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
