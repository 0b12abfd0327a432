package vmassert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// CapPackIntervals returns an osquery pack (strict JSON) with every query's interval lowered to at most
// limit seconds, everything else unchanged, so a test run sees each scheduled query fire within
// minutes. name is used in errors.
func CapPackIntervals(name string, data []byte, limit int) ([]byte, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%s: interval cap %d: want >= 1", name, limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var pack map[string]any
	if err := dec.Decode(&pack); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	queries, ok := pack["queries"].(map[string]any)
	if !ok || len(queries) == 0 {
		return nil, fmt.Errorf("%s: no queries object", name)
	}
	for qname, v := range queries {
		q, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: query %s is not an object", name, qname)
		}
		n, ok := q["interval"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: query %s: interval missing or not a number", name, qname)
		}
		iv, err := strconv.Atoi(n.String())
		if err != nil || iv < 1 {
			return nil, fmt.Errorf("%s: query %s: interval %s: want a positive integer", name, qname, n)
		}
		q["interval"] = min(iv, limit)
	}
	out, err := json.MarshalIndent(pack, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return append(out, '\n'), nil
}
