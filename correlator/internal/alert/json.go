package alert

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/compilelineage/compile-lineage/correlator/internal/score"
)

// AppendJSON appends the alert's native JSON document (without a trailing
// newline) to dst. The bytes are exactly those of encoding/json with HTML
// escaping off (json.Encoder with SetEscapeHTML(false)): the same field
// order, omitempty rules, the embedded record's fields at top level (the
// alert's own lineage_id, time, stage and reasons hide the record's), and
// the same number and string forms. It is written out by hand because an
// alert storm encodes every alert, and reflection was most of that cost;
// TestAppendJSONMatchesEncodingJSON and FuzzAppendJSON hold it to
// encoding/json. A NaN or infinite score is an error, as there.
func AppendJSON(dst []byte, a *Alert) ([]byte, error) {
	w := jw{b: dst}
	w.b = append(w.b, '{')
	w.str("alert_id", a.AlertID)
	w.str("kind", a.Kind)
	w.str("time", a.Time)
	w.strOmit("observed_time", a.ObservedTime)
	w.str("host", a.Host)
	w.str("host_uuid", a.HostUUID)
	w.strOmit("host_identifier", a.HostIdentifier)
	w.strOmit("hostname", a.Hostname)
	w.str("role", a.Role)
	if len(a.Roles) > 0 {
		w.strs("roles", a.Roles)
	}
	w.str("role_label", a.RoleLabel)
	w.str("lineage_id", a.LineageID)
	w.num("score", a.Score)
	w.str("severity", a.Severity)
	w.str("stage", a.Stage)
	w.num("log_odds", a.LogOdds)
	w.num("evidence", a.Evidence)
	w.num("probability", a.Probability)
	w.num("prior", a.Prior)
	w.num("impact_factor", a.Impact)
	w.reasons(a.Reasons)
	if len(a.ReasonCodes) > 0 {
		w.strs("reason_codes", a.ReasonCodes)
	}
	w.strs("techniques", a.Techniques)
	w.strs("tactics", a.Tactics)
	w.strOmit("query", a.Query)
	w.strOmit("input", a.Input)
	if x := a.Exception; x != nil {
		w.key("exception")
		w.b = append(w.b, '{')
		w.str("id", x.ID)
		w.str("owner", x.Owner)
		w.str("reason", x.Reason)
		w.strOmit("ticket", x.Ticket)
		w.str("expires", x.Expires)
		w.str("source", x.Source)
		w.bool("applied", x.Applied)
		w.str("status", x.Status)
		w.b = append(w.b, '}')
	}
	w.boolOmit("suppressed", a.Suppressed)
	w.boolOmit("below_threshold", a.BelowThreshold)
	w.boolOmit("realert", a.Realert)
	if h := a.HostRisk; h != nil {
		w.hostRisk(h)
	}
	r := &a.Record
	w.strOmit("platform", r.Platform)
	w.strOmit("source", r.Source)
	w.intOmit("compiler_pid", r.CompilerPID)
	w.strOmit("compiler_guid", r.CompilerGUID)
	w.strOmit("compiler_path", r.CompilerPath)
	w.str("compiler_name", r.CompilerName)
	w.strOmit("compiler_original_name", r.CompilerOriginalName)
	w.strOmit("compiler_cmdline", r.CompilerCmdline)
	w.strOmit("compiler_user", r.CompilerUser)
	w.intOmit("parent_pid", r.ParentPID)
	w.strOmit("parent_path", r.ParentPath)
	w.strOmit("parent_name", r.ParentName)
	w.strOmit("parent_cmdline", r.ParentCmdline)
	w.strOmit("ancestry", r.Ancestry)
	w.strOmit("parent_class", r.ParentClass)
	w.strOmit("output_path", r.OutputPath)
	w.strOmit("output_source", r.OutputSource)
	w.boolOmit("artifact_written", r.ArtifactWritten)
	w.intOmit("artifact_written_time", r.ArtifactWrittenTime)
	w.strOmit("artifact_sha256", r.ArtifactSHA256)
	w.intOmit("executions", r.Executions)
	w.intOmit("first_exec_pid", r.FirstExecPID)
	w.intOmit("first_exec_time", r.FirstExecTime)
	w.intOmit("connections", r.Connections)
	w.strOmit("first_remote_address", r.FirstRemoteAddress)
	w.intOmit("first_remote_port", r.FirstRemotePort)
	w.strOmit("connection_origin", r.ConnectionOrigin)
	w.strOmit("followup_processes", r.FollowupProcesses)
	w.strOmit("link_evidence", r.LinkEvidence)
	w.boolOmit("suspicious", r.Suspicious)
	if len(r.TelemetryGaps) > 0 {
		w.strs("telemetry_gaps", r.TelemetryGaps)
	}
	w.strOmit("fallback", r.Fallback)
	w.b = append(w.b, '}')
	if w.err != nil {
		return dst, fmt.Errorf("encode alert %s: %w", a.LineageID, w.err)
	}
	return w.b, nil
}

// jw appends the members of JSON objects.
type jw struct {
	b   []byte
	err error
}

// key starts a member: a comma unless it is the object's first.
func (w *jw) key(k string) {
	if n := len(w.b); n > 0 && w.b[n-1] != '{' {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jw) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jw) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jw) boolOmit(k string, v bool) {
	if v {
		w.bool(k, v)
	}
}

func (w *jw) intOmit(k string, v int64) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendInt(w.b, v, 10)
	}
}

func (w *jw) num(k string, v float64) {
	w.key(k)
	w.b = w.float(w.b, v)
}

// strs writes a string list; nil is null, as encoding/json writes it.
func (w *jw) strs(k string, v []string) {
	w.key(k)
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i, s := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendString(w.b, s)
	}
	w.b = append(w.b, ']')
}

func (w *jw) reasons(rs []score.Reason) {
	w.key("reasons")
	if rs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i := range rs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		r := &rs[i]
		w.b = append(w.b, '{')
		w.str("code", r.Code)
		w.num("points", r.Points)
		w.num("bits", r.Bits)
		w.num("lr", r.LR)
		w.str("detail", r.Detail)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ']')
}

func (w *jw) hostRisk(h *HostRisk) {
	w.key("host_risk")
	w.b = append(w.b, '{')
	w.str("window", h.Window)
	w.str("since", h.Since)
	w.num("sum", h.Sum)
	w.num("threshold", h.Threshold)
	w.str("band", h.Band)
	w.key("lineages")
	if h.Lineages == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for i := range h.Lineages {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			l := &h.Lineages[i]
			w.b = append(w.b, '{')
			w.str("lineage_id", l.LineageID)
			w.num("score", l.Score)
			w.str("severity", l.Severity)
			w.str("stage", l.Stage)
			w.str("time", l.Time)
			if len(l.Techniques) > 0 {
				w.strs("techniques", l.Techniques)
			}
			if len(l.Tactics) > 0 {
				w.strs("tactics", l.Tactics)
			}
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, '}')
}

// float writes a float64 as encoding/json does: shortest form, 'e' notation
// below 1e-6 and from 1e21, with a one-digit negative exponent unpadded.
func (w *jw) float(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if w.err == nil {
			w.err = fmt.Errorf("unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
		}
		return append(b, '0')
	}
	if n := math.Round(f * 100); math.Abs(n) < 1e15 && n/100 == f && (n != 0 || !math.Signbit(f)) {
		return appendCents(b, int64(n))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendCents writes n/100, a value with at most two decimals (scores and
// points are rounded so), as its shortest decimal form: the same digits
// strconv's shortest formatting gives, since the nearest double to that
// decimal is the value itself.
func appendCents(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/100, 10)
	switch c := n % 100; {
	case c == 0:
	case c%10 == 0:
		b = append(b, '.', byte('0'+c/10))
	default:
		b = append(b, '.', byte('0'+c/10), byte('0'+c%10))
	}
	return b
}

// safeASCII marks the bytes a JSON string holds as they are.
var safeASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does without
// HTML escaping: quotes, backslashes and control bytes escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and \u2029.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && safeASCII[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
