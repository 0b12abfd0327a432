package alert

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/compilelineage/compile-lineage/correlator/internal/lineage"
	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// stdJSON is the reference: encoding/json without HTML escaping.
func stdJSON(a *Alert) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fill sets every exported field reachable from v to a non-zero value
// derived from n, so a field AppendJSON forgot shows up as a difference.
func fill(v reflect.Value, n *int, s string) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(s + strconv.Itoa(*n))
	case reflect.Int64, reflect.Int:
		v.SetInt(int64(*n) * 7919)
	case reflect.Float64:
		v.SetFloat(float64(*n) / 3)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		sl := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(sl.Index(i), n, s)
		}
		v.Set(sl)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n, s)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, s)
			}
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	full := func(s string) *Alert {
		a := &Alert{}
		n := 0
		fill(reflect.ValueOf(a).Elem(), &n, s)
		return a
	}
	floats := full("f")
	floats.Score, floats.LogOdds, floats.Evidence, floats.Probability, floats.Prior = 1e21, -1e-7, 5e-324, math.MaxFloat64, -0.0000012
	floats.Reasons[0].Bits, floats.Reasons[1].LR = 1e-6, 123456789012345678
	floats.Reasons[0].Points, floats.Reasons[1].Points, floats.Impact = math.Copysign(0, -1), -15.4, 9999999999999.99
	floats.HostRisk.Sum, floats.HostRisk.Threshold = 0.05, -0.01
	empty := &Alert{Roles: []string{}, Reasons: []score.Reason{}, Techniques: []string{}, Tactics: []string{}, HostRisk: &HostRisk{Lineages: []HostRiskLineage{}}, Exception: &ExceptionNote{}}
	cases := []struct {
		name string
		a    *Alert
	}{
		{"zero", &Alert{}},
		{"every field set", full("v")},
		{"escapes", full("a\"b\\c\n\r\t\b\f\x00\x1f\x7f<&>\u2028\u2029é\xff\xc3")},
		{"floats", floats},
		{"empty lists and objects", empty},
		{"sample", sample()},
		{"record only", &Alert{Record: lineage.Record{LineageID: "hidden", Time: 9, Stage: "hidden", Reasons: []string{"hidden"}, TelemetryGaps: []string{"no_network"}, ArtifactWritten: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := stdJSON(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendJSON([]byte("prefix"), tc.a)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Errorf("AppendJSON differs from encoding/json\n got: %s\nwant: prefix%s", got, want)
			}
			m, err := Marshal(tc.a)
			if err != nil || !bytes.Equal(m, append(want, '\n')) {
				t.Errorf("Marshal = %s, %v; want %s and a newline", m, err, want)
			}
		})
	}
}

func TestAppendJSONRejectsNaN(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		a := sample()
		a.Reasons[0].Points = f
		if _, err := stdJSON(a); err == nil {
			t.Fatalf("encoding/json accepted %v", f)
		}
		if b, err := AppendJSON(nil, a); err == nil {
			t.Errorf("AppendJSON(%v) = %s, want an error", f, b)
		}
	}
}

// FuzzAppendJSON puts arbitrary strings and numbers where telemetry and
// the scorer put them and holds AppendJSON to encoding/json.
func FuzzAppendJSON(f *testing.F) {
	f.Add("explorer.exe > mshta.exe > csc.exe", 52.46, int64(4000))
	f.Add("C:\\Users\\u\\AppData\\Local\\Temp\\x.dll\"", 1e-7, int64(-1))
	f.Add("\x00\x1f\u2028\xff<&>", 1e21, int64(0))
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		a := sample()
		a.Host, a.LineageID, a.Query, a.Input = s, s, s, s
		a.Score, a.LogOdds = x, -x
		a.Reasons = append(a.Reasons, score.Reason{Code: s, Points: x, Detail: s})
		a.ReasonCodes = []string{s, s}
		a.CompilerCmdline, a.ParentCmdline, a.Ancestry, a.OutputPath = s, s, s, s
		a.CompilerPID, a.FirstRemotePort = n, -n
		a.TelemetryGaps = []string{s}
		a.HostRisk = &HostRisk{Band: s, Sum: x, Lineages: []HostRiskLineage{{LineageID: s, Score: x, Techniques: []string{s}}}}
		want, werr := stdJSON(a)
		got, gerr := AppendJSON(nil, a)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("errors differ: encoding/json %v, AppendJSON %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON differs\n got: %s\nwant: %s", got, want)
		}
	})
}

// TestFloatCentsMatchEncodingJSON checks the two-decimal fast path against
// encoding/json over every value a score or a point count can take, and
// around the path's limits.
func TestFloatCentsMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	var vals []float64
	for n := int64(-20000); n <= 20000; n++ {
		vals = append(vals, float64(n)/100)
	}
	for _, n := range []int64{999999999999999, -999999999999999, 1e15, 123456789012345, 1 << 50} {
		vals = append(vals, float64(n)/100, float64(n)/100+0.001)
	}
	vals = append(vals, math.Copysign(0, -1), 0.005, 1e-7, 0.1+0.2, 2.675)
	var w jw
	for _, f := range vals {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.float(nil, f); string(got) != string(want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
}
