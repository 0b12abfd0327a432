// Package lineage turns result-log rows into compile-lineage records. Rows
// are recognised by their columns, not by the query name, so a renamed
// Fleet query still works. Two row shapes are understood:
//
//   - compile_lineage rows (columns documented in the README: lineage_id,
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
		switch string(c.KeyBytes(i)) {
		case "lineage_id":
			id = true
		case "compiler_name":
			name = true
		case "stage":
			stage = true
		case "fallback":
			fallback = true
		case "compiler_path":
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
	return fromRow(hostKey, c, false)
}

// ScoringFields is FromRow without the columns only an alert shows (command
// lines, user, ancestry, GUID, hash, remote address, follow-ups, link
// evidence, telemetry gaps, platform, source): what scoring, dedup and
// exceptions read, for rows that will mostly not alert. FromRow gives the
// whole record.
func ScoringFields(hostKey string, c resultlog.Columns) (Record, bool) {
	return fromRow(hostKey, c, true)
}

// displayOnly marks the string fields ScoringFields leaves empty.
var displayOnly = [numStringFields]bool{
	fPlatform: true, fSource: true, fCompilerGUID: true, fCompilerCmdline: true, fCompilerUser: true,
	fParentCmdline: true, fAncestry: true, fOutputSource: true, fArtifactSHA256: true,
	fFirstRemoteAddress: true, fFollowupProcesses: true, fLinkEvidence: true, fTelemetryGaps: true,
}

// Complete fills in the columns ScoringFields left out, decoding only
// those, so that r equals FromRow's record.
func Complete(r *Record, c resultlog.Columns) {
	d := decoder{c: c, display: true}
	for i := range c.Len() {
		d.set(r, i)
	}
	d.finish(r)
	r.TelemetryGaps = SplitList(r.gaps)
	r.reasons, r.gaps = "", ""
}

func fromRow(hostKey string, c resultlog.Columns, scoring bool) (Record, bool) {
	kind := Classify(c)
	if kind == KindOther {
		return Record{}, false
	}
	var r Record
	d := decoder{c: c, scoring: scoring}
	for i := range c.Len() {
		d.set(&r, i)
	}
	d.finish(&r)
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

// Fields of Record decoded as strings.
const (
	fLineageID = iota
	fPlatform
	fSource
	fCompilerGUID
	fCompilerPath
	fCompilerName
	fCompilerOriginalName
	fCompilerCmdline
	fCompilerUser
	fParentPath
	fParentName
	fParentCmdline
	fAncestry
	fParentClass
	fOutputPath
	fOutputSource
	fArtifactSHA256
	fFirstRemoteAddress
	fConnectionOrigin
	fFollowupProcesses
	fStage
	fLinkEvidence
	fReasons
	fTelemetryGaps
	fFallback
	numStringFields
)

// decoder copies the string values of a row into one buffer; finish turns
// it into one string and points the record's fields into it.
type decoder struct {
	c       resultlog.Columns
	scoring bool             // skip the displayOnly fields
	display bool             // decode only the displayOnly fields (Complete)
	sb      *strings.Builder // its String() hands out the buffer without a copy
	scratch []byte
	span    [numStringFields][2]int32
	has     [numStringFields]bool
}

func (d *decoder) str(f, i int) {
	if (d.scoring && displayOnly[f]) || (d.display && !displayOnly[f]) {
		return
	}
	if d.sb == nil {
		total := 0
		for j := range d.c.Len() {
			total += d.c.RawLen(j)
		}
		if d.scoring {
			total = min(total, 512) // the scoring fields are a fraction of a row
		}
		d.sb = &strings.Builder{}
		d.sb.Grow(total)
	}
	a := d.sb.Len()
	d.scratch = d.c.AppendValue(d.scratch[:0], i)
	d.sb.Write(d.scratch)
	d.span[f] = [2]int32{int32(a), int32(d.sb.Len())}
	d.has[f] = true
}

func (d *decoder) finish(r *Record) {
	var arena string
	if d.sb != nil {
		arena = d.sb.String()
	}
	get := func(f int) string {
		if !d.has[f] {
			return ""
		}
		return arena[d.span[f][0]:d.span[f][1]]
	}
	if d.display {
		r.Platform = get(fPlatform)
		r.Source = get(fSource)
		r.CompilerGUID = get(fCompilerGUID)
		r.CompilerCmdline = get(fCompilerCmdline)
		r.CompilerUser = get(fCompilerUser)
		r.ParentCmdline = get(fParentCmdline)
		r.Ancestry = get(fAncestry)
		r.OutputSource = get(fOutputSource)
		r.ArtifactSHA256 = get(fArtifactSHA256)
		r.FirstRemoteAddress = get(fFirstRemoteAddress)
		r.FollowupProcesses = get(fFollowupProcesses)
		r.LinkEvidence = get(fLinkEvidence)
		r.gaps = get(fTelemetryGaps)
		return
	}
	r.LineageID = get(fLineageID)
	r.Platform = get(fPlatform)
	r.Source = get(fSource)
	r.CompilerGUID = get(fCompilerGUID)
	r.CompilerPath = get(fCompilerPath)
	r.CompilerName = get(fCompilerName)
	r.CompilerOriginalName = get(fCompilerOriginalName)
	r.CompilerCmdline = get(fCompilerCmdline)
	r.CompilerUser = get(fCompilerUser)
	r.ParentPath = get(fParentPath)
	r.ParentName = get(fParentName)
	r.ParentCmdline = get(fParentCmdline)
	r.Ancestry = get(fAncestry)
	r.ParentClass = get(fParentClass)
	r.OutputPath = get(fOutputPath)
	r.OutputSource = get(fOutputSource)
	r.ArtifactSHA256 = get(fArtifactSHA256)
	r.FirstRemoteAddress = get(fFirstRemoteAddress)
	r.ConnectionOrigin = get(fConnectionOrigin)
	r.FollowupProcesses = get(fFollowupProcesses)
	r.Stage = get(fStage)
	r.LinkEvidence = get(fLinkEvidence)
	r.reasons = get(fReasons)
	r.gaps = get(fTelemetryGaps)
	r.Fallback = get(fFallback)
}

func (d *decoder) set(r *Record, i int) {
	c := d.c
	// A switch over the key bytes compiles to comparisons without allocation.
	switch string(c.KeyBytes(i)) {
	case "lineage_id":
		d.str(fLineageID, i)
	case "time":
		r.Time = c.Int(i)
	case "platform":
		d.str(fPlatform, i)
	case "source":
		d.str(fSource, i)
	case "compiler_pid":
		r.CompilerPID = c.Int(i)
	case "compiler_guid":
		d.str(fCompilerGUID, i)
	case "compiler_path":
		d.str(fCompilerPath, i)
	case "compiler_name":
		d.str(fCompilerName, i)
	case "compiler_original_name":
		d.str(fCompilerOriginalName, i)
	case "compiler_cmdline":
		d.str(fCompilerCmdline, i)
	case "compiler_user":
		d.str(fCompilerUser, i)
	case "parent_pid":
		r.ParentPID = c.Int(i)
	case "parent_path":
		d.str(fParentPath, i)
	case "parent_name":
		d.str(fParentName, i)
	case "parent_cmdline":
		d.str(fParentCmdline, i)
	case "ancestry":
		d.str(fAncestry, i)
	case "parent_class":
		d.str(fParentClass, i)
	case "output_path":
		d.str(fOutputPath, i)
	case "output_source":
		d.str(fOutputSource, i)
	case "artifact_written":
		r.ArtifactWritten = c.Int(i) != 0
	case "artifact_written_time":
		r.ArtifactWrittenTime = c.Int(i)
	case "artifact_sha256":
		d.str(fArtifactSHA256, i)
	case "executions":
		r.Executions = c.Int(i)
	case "first_exec_pid":
		r.FirstExecPID = c.Int(i)
	case "first_exec_time":
		r.FirstExecTime = c.Int(i)
	case "connections":
		r.Connections = c.Int(i)
	case "first_remote_address":
		d.str(fFirstRemoteAddress, i)
	case "first_remote_port":
		r.FirstRemotePort = c.Int(i)
	case "connection_origin":
		d.str(fConnectionOrigin, i)
	case "followup_processes":
		d.str(fFollowupProcesses, i)
	case "stage":
		d.str(fStage, i)
	case "link_evidence":
		d.str(fLinkEvidence, i)
	case "suspicious":
		r.Suspicious = c.Int(i) != 0
	case "reasons":
		d.str(fReasons, i)
	case "telemetry_gaps":
		d.str(fTelemetryGaps, i)
	case "fallback":
		d.str(fFallback, i)
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
