// Package lineage turns result-log rows into compile-lineage records. Rows
// are recognised by their columns, not by the query name, so a renamed
// Fleet query still works. Two row shapes are understood:
//
//   - compile_lineage rows (columns of CONTRACT.md: lineage_id,
//     compiler_name, stage, ...), produced by the extension's table;
//   - rows of the extension-free fallback queries: they carry
//     compiler_path, compiler_cmdline, parent_path, parent_cmdline,
//     compiler_pid, time and fallback (the query's rule name), and no
//     lineage_id. Their lineage id is derived from host, pid, time and path
//     with uuid.NewSHA1, and they are scored at the compile stage.
package lineage

import (
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/compilelineage/compile-lineage/correlator/internal/resultlog"
)

// Stages in increasing order of evidence.
const (
	StageCompile  = "compile"
	StageWritten  = "written"
	StageExecuted = "executed"
	StageNetwork  = "network"
)

// StageRank orders stages; unknown stages rank as compile.
func StageRank(stage string) int {
	switch stage {
	case StageWritten:
		return 1
	case StageExecuted:
		return 2
	case StageNetwork:
		return 3
	default:
		return 0
	}
}

// FallbackNamespace is the uuid namespace of lineage ids derived for
// fallback rows.
var FallbackNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/compilelineage/compile-lineage/correlator/fallback"))

// Record is one compile lineage as seen in a result-log row.
type Record struct {
	LineageID            string   `json:"lineage_id"`
	Time                 int64    `json:"time"`
	Platform             string   `json:"platform,omitempty"`
	Source               string   `json:"source,omitempty"`
	CompilerPID          int64    `json:"compiler_pid,omitempty"`
	CompilerGUID         string   `json:"compiler_guid,omitempty"`
	CompilerPath         string   `json:"compiler_path,omitempty"`
	CompilerName         string   `json:"compiler_name"`
	CompilerOriginalName string   `json:"compiler_original_name,omitempty"`
	CompilerCmdline      string   `json:"compiler_cmdline,omitempty"`
	CompilerUser         string   `json:"compiler_user,omitempty"`
	ParentPID            int64    `json:"parent_pid,omitempty"`
	ParentPath           string   `json:"parent_path,omitempty"`
	ParentName           string   `json:"parent_name,omitempty"`
	ParentCmdline        string   `json:"parent_cmdline,omitempty"`
	Ancestry             string   `json:"ancestry,omitempty"`
	ParentClass          string   `json:"parent_class,omitempty"`
	OutputPath           string   `json:"output_path,omitempty"`
	OutputSource         string   `json:"output_source,omitempty"`
	ArtifactWritten      bool     `json:"artifact_written,omitempty"`
	ArtifactWrittenTime  int64    `json:"artifact_written_time,omitempty"`
	ArtifactSHA256       string   `json:"artifact_sha256,omitempty"`
	Executions           int64    `json:"executions,omitempty"`
	FirstExecPID         int64    `json:"first_exec_pid,omitempty"`
	FirstExecTime        int64    `json:"first_exec_time,omitempty"`
	Connections          int64    `json:"connections,omitempty"`
	FirstRemoteAddress   string   `json:"first_remote_address,omitempty"`
	FirstRemotePort      int64    `json:"first_remote_port,omitempty"`
	ConnectionOrigin     string   `json:"connection_origin,omitempty"`
	FollowupProcesses    string   `json:"followup_processes,omitempty"`
	Stage                string   `json:"stage"`
	LinkEvidence         string   `json:"link_evidence,omitempty"`
	Suspicious           bool     `json:"suspicious,omitempty"`
	Reasons              []string `json:"reasons,omitempty"`
	TelemetryGaps        []string `json:"telemetry_gaps,omitempty"`
	// Fallback is the rule name of an extension-free fallback query; empty
	// for compile_lineage rows.
	Fallback string `json:"fallback,omitempty"`

	reasons, gaps string // raw lists while decoding
}

// Kind tells which row shape a row has.
type Kind int

// Row kinds.
const (
	KindOther Kind = iota
	KindLineage
	KindFallback
)

// Classify reports the shape of a row without allocating.
func Classify(c resultlog.Columns) Kind {
	var id, name, stage, fallback, path bool
	for i := range c.Len() {
		switch {
		case c.KeyIs(i, "lineage_id"):
			id = true
		case c.KeyIs(i, "compiler_name"):
			name = true
		case c.KeyIs(i, "stage"):
			stage = true
		case c.KeyIs(i, "fallback"):
			fallback = true
		case c.KeyIs(i, "compiler_path"):
			path = true
		}
	}
	switch {
	case id && name && stage:
		return KindLineage
	case !id && fallback && path:
		return KindFallback
	default:
		return KindOther
	}
}

// FromRow builds a Record from a compile_lineage or fallback row. ok is
// false for any other row. hostKey is used to derive fallback lineage ids.
// All string values share one allocation.
func FromRow(hostKey string, c resultlog.Columns) (Record, bool) {
	kind := Classify(c)
	if kind == KindOther {
		return Record{}, false
	}
	var r Record
	total := 0
	for i := range c.Len() {
		total += c.RawLen(i)
	}
	d := decoder{c: c}
	d.sb.Grow(total)
	for i := range c.Len() {
		d.set(&r, i)
	}
	d.finish()
	r.CompilerName = strings.ToLower(r.CompilerName)
	r.ParentName = strings.ToLower(r.ParentName)
	r.Stage = strings.ToLower(r.Stage)
	r.Reasons = SplitList(r.reasons)
	r.TelemetryGaps = SplitList(r.gaps)
	r.reasons, r.gaps = "", ""
	if kind == KindFallback {
		fillFallback(&r, hostKey)
	}
	if r.CompilerName == "" {
		r.CompilerName = BaseName(r.CompilerPath)
	}
	if r.ParentName == "" {
		r.ParentName = BaseName(r.ParentPath)
	}
	if r.Stage == "" {
		r.Stage = StageCompile
	}
	return r, true
}

// decoder copies the string values of a row into one buffer and points the
// record's fields into one string made from it.
type decoder struct {
	c       resultlog.Columns
	sb      strings.Builder // String() hands out its buffer without a copy
	scratch []byte
	pend    [48]pending
	n       int
}

type pending struct {
	dst  *string
	a, b int
}

func (d *decoder) str(dst *string, i int) {
	if d.n == len(d.pend) {
		*dst = d.c.Value(i) // more string columns than expected (repeats)
		return
	}
	a := d.sb.Len()
	d.scratch = d.c.AppendValue(d.scratch[:0], i)
	d.sb.Write(d.scratch)
	d.pend[d.n] = pending{dst: dst, a: a, b: d.sb.Len()}
	d.n++
}

func (d *decoder) finish() {
	arena := d.sb.String()
	for _, p := range d.pend[:d.n] {
		*p.dst = arena[p.a:p.b]
	}
}

func (d *decoder) set(r *Record, i int) {
	c := d.c
	// Keys are compared without allocating.
	switch {
	case c.KeyIs(i, "lineage_id"):
		d.str(&r.LineageID, i)
	case c.KeyIs(i, "time"):
		r.Time = c.Int(i)
	case c.KeyIs(i, "platform"):
		d.str(&r.Platform, i)
	case c.KeyIs(i, "source"):
		d.str(&r.Source, i)
	case c.KeyIs(i, "compiler_pid"):
		r.CompilerPID = c.Int(i)
	case c.KeyIs(i, "compiler_guid"):
		d.str(&r.CompilerGUID, i)
	case c.KeyIs(i, "compiler_path"):
		d.str(&r.CompilerPath, i)
	case c.KeyIs(i, "compiler_name"):
		d.str(&r.CompilerName, i)
	case c.KeyIs(i, "compiler_original_name"):
		d.str(&r.CompilerOriginalName, i)
	case c.KeyIs(i, "compiler_cmdline"):
		d.str(&r.CompilerCmdline, i)
	case c.KeyIs(i, "compiler_user"):
		d.str(&r.CompilerUser, i)
	case c.KeyIs(i, "parent_pid"):
		r.ParentPID = c.Int(i)
	case c.KeyIs(i, "parent_path"):
		d.str(&r.ParentPath, i)
	case c.KeyIs(i, "parent_name"):
		d.str(&r.ParentName, i)
	case c.KeyIs(i, "parent_cmdline"):
		d.str(&r.ParentCmdline, i)
	case c.KeyIs(i, "ancestry"):
		d.str(&r.Ancestry, i)
	case c.KeyIs(i, "parent_class"):
		d.str(&r.ParentClass, i)
	case c.KeyIs(i, "output_path"):
		d.str(&r.OutputPath, i)
	case c.KeyIs(i, "output_source"):
		d.str(&r.OutputSource, i)
	case c.KeyIs(i, "artifact_written"):
		r.ArtifactWritten = c.Int(i) != 0
	case c.KeyIs(i, "artifact_written_time"):
		r.ArtifactWrittenTime = c.Int(i)
	case c.KeyIs(i, "artifact_sha256"):
		d.str(&r.ArtifactSHA256, i)
	case c.KeyIs(i, "executions"):
		r.Executions = c.Int(i)
	case c.KeyIs(i, "first_exec_pid"):
		r.FirstExecPID = c.Int(i)
	case c.KeyIs(i, "first_exec_time"):
		r.FirstExecTime = c.Int(i)
	case c.KeyIs(i, "connections"):
		r.Connections = c.Int(i)
	case c.KeyIs(i, "first_remote_address"):
		d.str(&r.FirstRemoteAddress, i)
	case c.KeyIs(i, "first_remote_port"):
		r.FirstRemotePort = c.Int(i)
	case c.KeyIs(i, "connection_origin"):
		d.str(&r.ConnectionOrigin, i)
	case c.KeyIs(i, "followup_processes"):
		d.str(&r.FollowupProcesses, i)
	case c.KeyIs(i, "stage"):
		d.str(&r.Stage, i)
	case c.KeyIs(i, "link_evidence"):
		d.str(&r.LinkEvidence, i)
	case c.KeyIs(i, "suspicious"):
		r.Suspicious = c.Int(i) != 0
	case c.KeyIs(i, "reasons"):
		d.str(&r.reasons, i)
	case c.KeyIs(i, "telemetry_gaps"):
		d.str(&r.gaps, i)
	case c.KeyIs(i, "fallback"):
		d.str(&r.Fallback, i)
	}
}

func fillFallback(r *Record, hostKey string) {
	r.Stage = StageCompile
	if r.LineageID == "" {
		key := strings.Join([]string{hostKey, strconv.FormatInt(r.CompilerPID, 10), strconv.FormatInt(r.Time, 10), strings.ToLower(r.CompilerPath)}, "|")
		r.LineageID = uuid.NewSHA1(FallbackNamespace, []byte(key)).String()
	}
	if r.Fallback == "" {
		r.Fallback = "fallback"
	}
}

// SplitList splits a ';'-joined list, dropping empty items.
func SplitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ";")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// BaseName returns the lower-case last element of a Windows or POSIX path.
func BaseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		p = p[i+1:]
	}
	return strings.ToLower(p)
}
