package expect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ResultRow is one row of an osquery result log (osqueryd.results.log / snapshots.log), whichever of the
// event, batch (diffResults) or snapshot formats it was logged in.
type ResultRow struct {
	Name           string
	HostIdentifier string
	UnixTime       int64
	Action         string // added, removed, snapshot
	Columns        map[string]string
	Decorations    map[string]string
}

type rawLine struct {
	Name           string           `json:"name"`
	HostIdentifier string           `json:"hostIdentifier"`
	UnixTime       json.RawMessage  `json:"unixTime"`
	Action         string           `json:"action"`
	Columns        map[string]any   `json:"columns"`
	Snapshot       []map[string]any `json:"snapshot"`
	Decorations    map[string]any   `json:"decorations"`
	DiffResults    *struct {
		Added   []map[string]any `json:"added"`
		Removed []map[string]any `json:"removed"`
	} `json:"diffResults"`
}

// ParseResultLog reads osquery result-log JSON lines. Blank lines are skipped; any other line that is not
// a result object is an error naming the file and line.
func ParseResultLog(name string, r io.Reader) ([]ResultRow, error) {
	var out []ResultRow
	err := eachJSONLine(name, r, func(n int, line []byte) error {
		var l rawLine
		if err := json.Unmarshal(line, &l); err != nil {
			return err
		}
		if l.Name == "" {
			return errors.New("result line without a name")
		}
		ut, err := jsonInt(l.UnixTime)
		if err != nil {
			return fmt.Errorf("unixTime: %w", err)
		}
		base := ResultRow{Name: l.Name, HostIdentifier: l.HostIdentifier, UnixTime: ut, Decorations: stringMap(l.Decorations)}
		add := func(action string, cols map[string]any) {
			row := base
			row.Action = action
			row.Columns = stringMap(cols)
			out = append(out, row)
		}
		switch {
		case l.Columns != nil:
			action := l.Action
			if action == "" {
				action = "added"
			}
			add(action, l.Columns)
		case l.Snapshot != nil:
			for _, c := range l.Snapshot {
				add("snapshot", c)
			}
		case l.DiffResults != nil:
			for _, c := range l.DiffResults.Removed {
				add("removed", c)
			}
			for _, c := range l.DiffResults.Added {
				add("added", c)
			}
		default:
			return fmt.Errorf("%s has no columns, snapshot or diffResults", l.Name)
		}
		return nil
	})
	return out, err
}

// jsonInt accepts a JSON number or a numeric string (osquery's docs show strings, its logger writes numbers).
func jsonInt(v json.RawMessage) (int64, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return 0, nil
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, err
		}
		if s == "" {
			return 0, nil
		}
		return strconv.ParseInt(s, 10, 64)
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s is not an integer", v)
	}
	return int64(f), nil
}

// stringMap turns decoded JSON values into osquery's string form (numbers as with --logger_numerics).
func stringMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(x)
		case nil:
			out[k] = ""
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// CheckPack returns one failure per expected pack query without a matching row and per forbidden pack
// query with one. Only rows whose columns match the query's Match count.
func CheckPack(e *Expected, rows []ResultRow) []string {
	var fails []string
	for _, q := range e.PackQueries {
		found := false
		for _, r := range rows {
			if r.Action != "removed" && q.Matches(r.Name, r.Columns) {
				found = true
				break
			}
		}
		if !found {
			fails = append(fails, fmt.Sprintf("pack query %s logged no row matching %v", q.Name, q.Match))
		}
	}
	for _, q := range e.ForbiddenPackQueries {
		for _, r := range rows {
			if r.Action != "removed" && q.Matches(r.Name, r.Columns) {
				fails = append(fails, fmt.Sprintf("pack query %s logged a row matching %v: %s", q.Name, q.Match, Describe(r.Columns)))
				break
			}
		}
	}
	return fails
}
