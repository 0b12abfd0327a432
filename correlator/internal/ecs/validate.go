package ecs

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Field is what ECS says of one field.
type Field struct {
	Type               string              `json:"type"`
	Normalize          []string            `json:"normalize"`
	AllowedValues      []string            `json:"allowed_values"`
	ExpectedEventTypes map[string][]string `json:"expected_event_types"`
}

// Fields is the ECS field list by dotted name.
type Fields map[string]Field

// LoadFields reads a field list in the form of shared/ecs-fields.json
// ({"fields": {"host.name": {"type": "keyword"}, ...}}).
func LoadFields(path string) (Fields, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ECS fields: %w", err)
	}
	var f struct {
		Fields Fields `json:"fields"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("ECS fields %s: %w", path, err)
	}
	if len(f.Fields) == 0 {
		return nil, fmt.Errorf("ECS fields %s: no fields", path)
	}
	return f.Fields, nil
}

// Namespace is where the project's own fields live.
const Namespace = "compile_lineage"

// Validate checks a decoded document (json.Unmarshal into map[string]any)
// against ECS: every field outside compile_lineage.* must be an ECS field
// of the right type (arrays only where ECS normalises to arrays), allowed
// values must be allowed, every event.type must be expected for every
// event.category, and no ECS field may collide with the namespace. It
// returns one message per problem, sorted.
func Validate(doc map[string]any, f Fields) []string {
	var errs []string
	for name := range f {
		if name == Namespace || strings.HasPrefix(name, Namespace+".") {
			errs = append(errs, "ECS defines "+name+", which collides with the project namespace")
		}
	}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := k
			if prefix != "" {
				path = prefix + "." + k
			}
			if path == Namespace {
				if _, ok := v.(map[string]any); !ok {
					errs = append(errs, Namespace+" is not an object")
				}
				continue
			}
			if fd, ok := f[path]; ok && fd.Type != "object" && fd.Type != "flattened" && fd.Type != "nested" {
				errs = append(errs, checkValue(path, fd, v)...)
				continue
			}
			if obj, ok := objectParent(path, f); ok {
				// Inside an ECS object field (labels): keyword values.
				if _, isStr := v.(string); !isStr && obj == "labels" {
					errs = append(errs, fmt.Sprintf("%s: labels values must be strings, got %T", path, v))
				}
				continue
			}
			sub, isMap := v.(map[string]any)
			if !isMap {
				if hasChildren(path, f) {
					errs = append(errs, fmt.Sprintf("%s: a scalar (%T) where ECS has an object", path, v))
				} else {
					errs = append(errs, path+": not an ECS field and not under "+Namespace+".*")
				}
				continue
			}
			if fd, ok := f[path]; ok && fd.Type != "object" && fd.Type != "flattened" && fd.Type != "nested" {
				errs = append(errs, fmt.Sprintf("%s: an object where ECS has a %s", path, fd.Type))
				continue
			}
			walk(path, sub)
		}
	}
	walk("", doc)
	errs = append(errs, checkCategories(doc, f)...)
	sort.Strings(errs)
	return errs
}

func objectParent(path string, f Fields) (string, bool) {
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if fd, ok := f[path[:i]]; ok && (fd.Type == "object" || fd.Type == "flattened") {
			return path[:i], true
		}
	}
	return "", false
}

func hasChildren(path string, f Fields) bool {
	for name := range f {
		if strings.HasPrefix(name, path+".") {
			return true
		}
	}
	return false
}

func checkValue(path string, fd Field, v any) []string {
	if arr, ok := v.([]any); ok {
		if !slices.Contains(fd.Normalize, "array") {
			return []string{path + ": an array where ECS expects one value"}
		}
		var errs []string
		for _, x := range arr {
			errs = append(errs, checkValue(path, Field{Type: fd.Type, AllowedValues: fd.AllowedValues}, x)...)
		}
		return errs
	}
	bad := func(want string) []string {
		return []string{fmt.Sprintf("%s: %v (%T) is not a valid %s (%s)", path, v, v, fd.Type, want)}
	}
	switch fd.Type {
	case "keyword", "constant_keyword", "wildcard", "text", "match_only_text":
		s, ok := v.(string)
		if !ok {
			return bad("string")
		}
		if len(fd.AllowedValues) > 0 && !slices.Contains(fd.AllowedValues, s) {
			return []string{fmt.Sprintf("%s: %q is not an allowed value", path, s)}
		}
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(float64)
		if !ok || n != math.Trunc(n) {
			return bad("integer")
		}
	case "float", "double", "half_float", "scaled_float":
		if _, ok := v.(float64); !ok {
			return bad("number")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("boolean")
		}
	case "date":
		s, ok := v.(string)
		if !ok {
			return bad("RFC 3339 string")
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return bad("RFC 3339 string")
		}
	case "ip":
		s, ok := v.(string)
		if !ok || net.ParseIP(s) == nil {
			return bad("IP address")
		}
	default:
		return []string{fmt.Sprintf("%s: ECS type %s is not checked here", path, fd.Type)}
	}
	return nil
}

func checkCategories(doc map[string]any, f Fields) []string {
	ev, _ := doc["event"].(map[string]any)
	cats := stringList(ev["category"])
	types := stringList(ev["type"])
	if len(cats) == 0 || len(types) == 0 {
		return []string{"event.category and event.type are required"}
	}
	var errs []string
	exp := f["event.category"].ExpectedEventTypes
	for _, c := range cats {
		for _, t := range types {
			if !slices.Contains(exp[c], t) {
				errs = append(errs, fmt.Sprintf("event.type %s is not expected with event.category %s (expected %v)", t, c, exp[c]))
			}
		}
	}
	return errs
}

func stringList(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
