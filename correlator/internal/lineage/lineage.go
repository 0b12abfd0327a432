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
	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Stages in increasing order of evidence (tables/vocab owns them).
const (
	StageCompile  = vocab.StageCompile
	StageWritten  = vocab.StageWritten
	StageExecuted = vocab.StageExecuted
	StageNetwork  = vocab.StageNetwork
)

// StageRank orders stages; unknown stages rank as compile.
func StageRank(stage string) int { return vocab.StageRank(stage) }

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
		case vocab.ColLineageID:
			id = true
		case vocab.ColCompilerName:
			name = true
		case vocab.ColStage:
			stage = true
		case vocab.ColFallback:
			fallback = true
		case vocab.ColCompilerPath:
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
	if !d.wants(f) {
		return
	}
	if d.sb == nil {
		// One buffer sized for every string this decode keeps (raw
		// lengths: unescaping only shortens).
		total := 0
		for j := range d.c.Len() {
			if g := stringField(d.c.KeyBytes(j)); g >= 0 && d.wants(g) {
				total += d.c.RawLen(j)
			}
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

// stringField returns the string field of a column name, or -1.
func stringField(key []byte) int {
	switch string(key) {
	case vocab.ColLineageID:
		return fLineageID
	case vocab.ColPlatform:
		return fPlatform
	case vocab.ColSource:
		return fSource
	case vocab.ColCompilerGUID:
		return fCompilerGUID
	case vocab.ColCompilerPath:
		return fCompilerPath
	case vocab.ColCompilerName:
		return fCompilerName
	case vocab.ColCompilerOriginalName:
		return fCompilerOriginalName
	case vocab.ColCompilerCmdline:
		return fCompilerCmdline
	case vocab.ColCompilerUser:
		return fCompilerUser
	case vocab.ColParentPath:
		return fParentPath
	case vocab.ColParentName:
		return fParentName
	case vocab.ColParentCmdline:
		return fParentCmdline
	case vocab.ColAncestry:
		return fAncestry
	case vocab.ColParentClass:
		return fParentClass
	case vocab.ColOutputPath:
		return fOutputPath
	case vocab.ColOutputSource:
		return fOutputSource
	case vocab.ColArtifactSHA256:
		return fArtifactSHA256
	case vocab.ColFirstRemoteAddress:
		return fFirstRemoteAddress
	case vocab.ColConnectionOrigin:
		return fConnectionOrigin
	case vocab.ColFollowupProcesses:
		return fFollowupProcesses
	case vocab.ColStage:
		return fStage
	case vocab.ColLinkEvidence:
		return fLinkEvidence
	case vocab.ColReasons:
		return fReasons
	case vocab.ColTelemetryGaps:
		return fTelemetryGaps
	case vocab.ColFallback:
		return fFallback
	}
	return -1
}

func (d *decoder) wants(f int) bool {
	return !(d.scoring && displayOnly[f]) && !(d.display && !displayOnly[f])
}

func (d *decoder) set(r *Record, i int) {
	c := d.c
	if f := stringField(c.KeyBytes(i)); f >= 0 {
		d.str(f, i)
		return
	}
	// A switch over the key bytes compiles to comparisons without allocation.
	switch string(c.KeyBytes(i)) {
	case vocab.ColTime:
		r.Time = c.Int(i)
	case vocab.ColCompilerPID:
		r.CompilerPID = c.Int(i)
	case vocab.ColParentPID:
		r.ParentPID = c.Int(i)
	case vocab.ColArtifactWritten:
		r.ArtifactWritten = c.Int(i) != 0
	case vocab.ColArtifactWrittenTime:
		r.ArtifactWrittenTime = c.Int(i)
	case vocab.ColExecutions:
		r.Executions = c.Int(i)
	case vocab.ColFirstExecPID:
		r.FirstExecPID = c.Int(i)
	case vocab.ColFirstExecTime:
		r.FirstExecTime = c.Int(i)
	case vocab.ColConnections:
		r.Connections = c.Int(i)
	case vocab.ColFirstRemotePort:
		r.FirstRemotePort = c.Int(i)
	case vocab.ColSuspicious:
		r.Suspicious = c.Int(i) != 0
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
	parts := strings.Split(s, vocab.ListSeparator)
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
func BaseName(p string) string { return vocab.BaseName(p) }
