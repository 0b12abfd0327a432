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
func FromRow(hostKey string, c resultlog.Columns) (Record, bool) {
	kind := Classify(c)
	if kind == KindOther {
		return Record{}, false
	}
	var r Record
	for i := range c.Len() {
		set(&r, c, i)
	}
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

func set(r *Record, c resultlog.Columns, i int) {
	// Keys are compared without allocating; only used values are copied.
	switch {
	case c.KeyIs(i, "lineage_id"):
		r.LineageID = c.Value(i)
	case c.KeyIs(i, "time"):
		r.Time = toInt(c.Value(i))
	case c.KeyIs(i, "platform"):
		r.Platform = c.Value(i)
	case c.KeyIs(i, "source"):
		r.Source = c.Value(i)
	case c.KeyIs(i, "compiler_pid"):
		r.CompilerPID = toInt(c.Value(i))
	case c.KeyIs(i, "compiler_guid"):
		r.CompilerGUID = c.Value(i)
	case c.KeyIs(i, "compiler_path"):
		r.CompilerPath = c.Value(i)
	case c.KeyIs(i, "compiler_name"):
		r.CompilerName = strings.ToLower(c.Value(i))
	case c.KeyIs(i, "compiler_original_name"):
		r.CompilerOriginalName = c.Value(i)
	case c.KeyIs(i, "compiler_cmdline"):
		r.CompilerCmdline = c.Value(i)
	case c.KeyIs(i, "compiler_user"):
		r.CompilerUser = c.Value(i)
	case c.KeyIs(i, "parent_pid"):
		r.ParentPID = toInt(c.Value(i))
	case c.KeyIs(i, "parent_path"):
		r.ParentPath = c.Value(i)
	case c.KeyIs(i, "parent_name"):
		r.ParentName = strings.ToLower(c.Value(i))
	case c.KeyIs(i, "parent_cmdline"):
		r.ParentCmdline = c.Value(i)
	case c.KeyIs(i, "ancestry"):
		r.Ancestry = c.Value(i)
	case c.KeyIs(i, "parent_class"):
		r.ParentClass = c.Value(i)
	case c.KeyIs(i, "output_path"):
		r.OutputPath = c.Value(i)
	case c.KeyIs(i, "output_source"):
		r.OutputSource = c.Value(i)
	case c.KeyIs(i, "artifact_written"):
		r.ArtifactWritten = toInt(c.Value(i)) != 0
	case c.KeyIs(i, "artifact_written_time"):
		r.ArtifactWrittenTime = toInt(c.Value(i))
	case c.KeyIs(i, "artifact_sha256"):
		r.ArtifactSHA256 = c.Value(i)
	case c.KeyIs(i, "executions"):
		r.Executions = toInt(c.Value(i))
	case c.KeyIs(i, "first_exec_pid"):
		r.FirstExecPID = toInt(c.Value(i))
	case c.KeyIs(i, "first_exec_time"):
		r.FirstExecTime = toInt(c.Value(i))
	case c.KeyIs(i, "connections"):
		r.Connections = toInt(c.Value(i))
	case c.KeyIs(i, "first_remote_address"):
		r.FirstRemoteAddress = c.Value(i)
	case c.KeyIs(i, "first_remote_port"):
		r.FirstRemotePort = toInt(c.Value(i))
	case c.KeyIs(i, "connection_origin"):
		r.ConnectionOrigin = c.Value(i)
	case c.KeyIs(i, "followup_processes"):
		r.FollowupProcesses = c.Value(i)
	case c.KeyIs(i, "stage"):
		r.Stage = strings.ToLower(c.Value(i))
	case c.KeyIs(i, "link_evidence"):
		r.LinkEvidence = c.Value(i)
	case c.KeyIs(i, "suspicious"):
		r.Suspicious = toInt(c.Value(i)) != 0
	case c.KeyIs(i, "reasons"):
		r.Reasons = SplitList(c.Value(i))
	case c.KeyIs(i, "telemetry_gaps"):
		r.TelemetryGaps = SplitList(c.Value(i))
	case c.KeyIs(i, "fallback"):
		r.Fallback = c.Value(i)
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

func toInt(s string) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == f && f < 9.2e18 && f > -9.2e18 {
		return int64(f)
	}
	return 0
}
