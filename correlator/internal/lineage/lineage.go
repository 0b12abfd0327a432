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
	r := Scan(c)
	return r.Kind()
}

// Row is a row whose column names have been looked up once, for Kind,
// ScoringFields and Complete.
type Row struct {
	c     resultlog.Columns
	codes [64]uint8 // column code of the first 64 columns
	kind  Kind
}

// Scan looks up the row's column names.
func Scan(c resultlog.Columns) Row {
	r := Row{c: c}
	var id, name, stage, fallback, path bool
	for i := range c.Len() {
		code := columnCode(c.KeyBytes(i))
		if i < len(r.codes) {
			r.codes[i] = code
		}
		switch code {
		case fLineageID:
			id = true
		case fCompilerName:
			name = true
		case fStage:
			stage = true
		case fFallback:
			fallback = true
		case fCompilerPath:
			path = true
		}
	}
	switch {
	case id && name && stage:
		r.kind = KindLineage
	case !id && fallback && path:
		r.kind = KindFallback
	}
	return r
}

// Kind is the row's shape.
func (row *Row) Kind() Kind { return row.kind }

func (row *Row) code(i int) uint8 {
	if i < len(row.codes) {
		return row.codes[i]
	}
	return columnCode(row.c.KeyBytes(i))
}

// FromRow builds a Record from a compile_lineage or fallback row. ok is
// false for any other row. hostKey is used to derive fallback lineage ids.
// All string values share one allocation.
func FromRow(hostKey string, c resultlog.Columns) (Record, bool) {
	r := Scan(c)
	return r.record(hostKey, false)
}

// ScoringFields is FromRow without the columns only an alert shows (command
// lines, user, ancestry, GUID, hash, remote address, follow-ups, link
// evidence, telemetry gaps, platform, source): what scoring, dedup and
// exceptions read, for rows that will mostly not alert. FromRow gives the
// whole record.
func ScoringFields(hostKey string, c resultlog.Columns) (Record, bool) {
	r := Scan(c)
	return r.ScoringFields(hostKey)
}

// ScoringFields is the package's ScoringFields over a scanned row.
func (row *Row) ScoringFields(hostKey string) (Record, bool) { return row.record(hostKey, true) }

// displayOnly marks the string fields ScoringFields leaves empty.
var displayOnly = [numStringFields]bool{
	fPlatform: true, fSource: true, fCompilerGUID: true, fCompilerCmdline: true, fCompilerUser: true,
	fParentCmdline: true, fAncestry: true, fOutputSource: true, fArtifactSHA256: true,
	fFirstRemoteAddress: true, fFollowupProcesses: true, fLinkEvidence: true, fTelemetryGaps: true,
}

// Complete fills in the columns ScoringFields left out, decoding only
// those, so that r equals FromRow's record.
func Complete(r *Record, c resultlog.Columns) {
	row := Scan(c)
	row.Complete(r)
}

// Complete is the package's Complete over a scanned row.
func (row *Row) Complete(r *Record) {
	d := decoder{row: *row, display: true}
	d.decode(r)
	d.finish(r)
	r.TelemetryGaps = SplitList(r.gaps)
	r.reasons, r.gaps = "", ""
}

func (row *Row) record(hostKey string, scoring bool) (Record, bool) {
	kind := row.kind
	if kind == KindOther {
		return Record{}, false
	}
	var r Record
	d := decoder{row: *row, scoring: scoring}
	d.decode(&r)
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
	row     Row
	scoring bool            // skip the displayOnly fields
	display bool            // decode only the displayOnly fields (Complete)
	sb      strings.Builder // the values back to back; String() does not copy
	scratch [512]byte       // unescaping room for a value
	span    [numStringFields][2]int32
	has     [numStringFields]bool
}

// decode sizes the buffer for every string this decode keeps (raw lengths:
// unescaping only shortens), then sets the record's fields.
func (d *decoder) decode(r *Record) {
	c := d.row.c
	total := 0
	for j := range c.Len() {
		if g := d.row.code(j); g < numStringFields && d.wants(int(g)) {
			total += c.RawLen(j)
		}
	}
	d.sb.Grow(total)
	for i := range c.Len() {
		d.set(r, i)
	}
}

func (d *decoder) str(f, i int) {
	if !d.wants(f) {
		return
	}
	a := d.sb.Len()
	d.sb.Write(d.row.c.AppendValue(d.scratch[:0], i))
	d.span[f] = [2]int32{int32(a), int32(d.sb.Len())}
	d.has[f] = true
}

func (d *decoder) finish(r *Record) {
	arena := d.sb.String()
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

// Codes of the integer and flag columns, after the string fields; codeOther
// is any other column.
const (
	cTime = numStringFields + iota
	cCompilerPID
	cParentPID
	cArtifactWritten
	cArtifactWrittenTime
	cExecutions
	cFirstExecPID
	cFirstExecTime
	cConnections
	cFirstRemotePort
	cSuspicious
	codeOther = 255
)

// columnCode returns the field code of a column name (a switch over the
// key bytes compiles to comparisons without allocation).
func columnCode(key []byte) uint8 {
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
	case vocab.ColTime:
		return cTime
	case vocab.ColCompilerPID:
		return cCompilerPID
	case vocab.ColParentPID:
		return cParentPID
	case vocab.ColArtifactWritten:
		return cArtifactWritten
	case vocab.ColArtifactWrittenTime:
		return cArtifactWrittenTime
	case vocab.ColExecutions:
		return cExecutions
	case vocab.ColFirstExecPID:
		return cFirstExecPID
	case vocab.ColFirstExecTime:
		return cFirstExecTime
	case vocab.ColConnections:
		return cConnections
	case vocab.ColFirstRemotePort:
		return cFirstRemotePort
	case vocab.ColSuspicious:
		return cSuspicious
	}
	return codeOther
}

func (d *decoder) wants(f int) bool {
	return !(d.scoring && displayOnly[f]) && !(d.display && !displayOnly[f])
}

func (d *decoder) set(r *Record, i int) {
	code := d.row.code(i)
	if code < numStringFields {
		d.str(int(code), i)
		return
	}
	if d.display {
		return // Complete decodes strings only
	}
	c := d.row.c
	switch code {
	case cTime:
		r.Time = c.Int(i)
	case cCompilerPID:
		r.CompilerPID = c.Int(i)
	case cParentPID:
		r.ParentPID = c.Int(i)
	case cArtifactWritten:
		r.ArtifactWritten = c.Int(i) != 0
	case cArtifactWrittenTime:
		r.ArtifactWrittenTime = c.Int(i)
	case cExecutions:
		r.Executions = c.Int(i)
	case cFirstExecPID:
		r.FirstExecPID = c.Int(i)
	case cFirstExecTime:
		r.FirstExecTime = c.Int(i)
	case cConnections:
		r.Connections = c.Int(i)
	case cFirstRemotePort:
		r.FirstRemotePort = c.Int(i)
	case cSuspicious:
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
