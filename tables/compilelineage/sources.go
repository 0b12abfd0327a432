package compilelineage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// Querier runs SQL on the osquery core.
type Querier interface {
	QueryRowsContext(ctx context.Context, sql string) ([]map[string]string, error)
}

const sysmonChannel = "Microsoft-Windows-Sysmon/Operational"

// procSource reads process starts from one osquery table.
type procSource interface {
	name() string
	// compilers returns compiler starts with from <= time <= to.
	compilers(ctx context.Context, q Querier, from, to int64) ([]Proc, error)
	// related returns, in one query, what Related asks for: process starts, and the image
	// loads of the artifacts where the source records them (Sysmon event 7).
	related(ctx context.Context, q Querier, r Related) ([]Proc, []ImageLoad, error)
}

// Related asks for the processes linked to those already known: one scan of the process
// table per round instead of one per question.
type Related struct {
	ParentsOf  []Proc   // their parents, whenever they started
	ChildrenOf []Proc   // their children started at or after Since
	Paths      []string // starts of these images at or after Since (executions of artifacts)
	Since      int64
}

func (r Related) empty() bool {
	return len(r.ParentsOf) == 0 && len(r.ChildrenOf) == 0 && len(r.Paths) == 0
}

// branch is one part of a lookup in an event table: the rows matching on and pred that are not older than
// from and not newer than to (0: no bound on that side). Consecutive branches with the same on (a cheap test
// such as a Sysmon event id) have it written, and read from the table, once.
type branch struct {
	from, to int64
	on, pred string
}

// oneScan joins the branches of a lookup into one condition that reads the event table once. Every branch
// bounds `time`, and in osqueryd an event-table scan without a time constraint during a scheduled query
// returns only the events newer than that query's previous scan (--events_optimize); but an OR of branches
// that each constrain `time` is planned by SQLite as a multi-index OR, one table scan per branch, which drops
// rows whose row ids an earlier branch returned, and a UNION ALL of them is one scan of the event store per
// branch. So the time range osquery hands to the table's generate is the hull of the branches' ranges (from 0
// when a branch has no lower bound), and each branch tests its own range on `+time`, an expression SQLite
// never passes to xBestIndex: the OR is row filtering inside one time-bounded scan (only `time` is an index
// column of osquery's event tables). Each branch puts its own predicate first, so a row that matches none is
// rejected by the cheapest tests. "" when there are no branches.
func oneScan(branches []branch) string {
	if len(branches) == 0 {
		return ""
	}
	lo, hi := branches[0].from, branches[0].to
	for _, b := range branches[1:] {
		lo = min(lo, b.from)
		if b.to == 0 || hi == 0 {
			hi = 0
		} else {
			hi = max(hi, b.to)
		}
	}
	var groups, terms []string
	for i, b := range branches {
		t := "(" + b.pred
		if b.from > lo {
			t += fmt.Sprintf(" AND +time >= %d", b.from)
		}
		if b.to > 0 && b.to != hi {
			t += fmt.Sprintf(" AND +time <= %d", b.to)
		}
		terms = append(terms, t+")")
		if i+1 < len(branches) && branches[i+1].on == b.on {
			continue
		}
		g := strings.Join(terms, " OR ")
		if b.on != "" {
			g = "(" + b.on + " AND (" + g + "))"
		}
		groups, terms = append(groups, g), nil
	}
	return timeRange("time", lo, hi) + " AND (" + strings.Join(groups, " OR ") + ")"
}

// dedupeProcs keeps the first of the processes sharing a key.
func dedupeProcs(procs []Proc) []Proc {
	seen := make(map[string]bool, len(procs))
	out := procs[:0]
	for _, p := range procs {
		if seen[p.Key] {
			continue
		}
		seen[p.Key] = true
		out = append(out, p)
	}
	return out
}

// parentsBefore is the latest time a parent of procs can have started (their own start, with 2 s of slack
// for clocks that round differently).
func parentsBefore(procs []Proc) int64 {
	var latest int64
	for _, p := range procs {
		latest = max(latest, p.Time.Unix()+2)
	}
	return latest
}

// fileSource reads file writes.
type fileSource interface {
	name() string
	files(ctx context.Context, q Querier, procs []Proc, paths []string, from, to int64) ([]FileEvent, error)
}

// connSource reads outbound connections.
type connSource interface {
	name() string
	conns(ctx context.Context, q Querier, procs []Proc, since int64) ([]Conn, error)
}

// windowsCompilerFiles are the image names the compiler query pre-selects: the compilers,
// and the candidates Go code judges by their arguments or path (compilerKind).
func windowsCompilerFiles() []string {
	compilers, _ := vocab.Items(vocab.ListWindowsCompilers)
	candidates, _ := vocab.Items(vocab.ListWindowsCandidates)
	return append(compilers, candidates...)
}

func windowsCompilerSuffixes() []string {
	files := windowsCompilerFiles()
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = `\` + f
	}
	return out
}

// posixCompilerFilter pre-selects compiler candidates by their path, v (see readOnce); Go code decides
// (compilerKind).
const posixCompilerFilter = `(v LIKE '%gcc%' OR v LIKE '%g++%' OR v LIKE '%clang%' OR v LIKE '%/cc' OR
 v LIKE '%/c++' OR v LIKE '%/cc-%' OR v LIKE '%/c89' OR v LIKE '%/c99' OR v LIKE '%/tcc' OR
 v LIKE '%/go' OR v LIKE '%/rustc' OR v LIKE '%/ld' OR v LIKE '%/ld.%' OR v LIKE '%/lld' OR
 v LIKE '%/mold' OR v LIKE '%-ld' OR v LIKE '%-ld.%' OR v LIKE '%/osacompile' OR v LIKE '%/dotnet' OR
 v LIKE '%/swiftc' OR v LIKE '%/swift-driver')`

// readOnce is cond with expr evaluated once per row: osquery's SQLite calls a table's xColumn for every
// mention of a column in the WHERE clause, and a filter of twenty LIKE tests on path would read path twenty
// times per row of the scan. cond names the value as v; the LIMIT keeps SQLite from flattening the one-row
// subquery, which would put expr back in every test.
func readOnce(expr, cond string) string {
	return "EXISTS (SELECT 1 FROM (SELECT " + expr + " AS v LIMIT -1) WHERE " + cond + ")"
}

func timeRange(col string, from, to int64) string {
	s := fmt.Sprintf("%s >= %d", col, from)
	if to > 0 {
		s += fmt.Sprintf(" AND %s <= %d", col, to)
	}
	return s
}

func keysOf(procs []Proc, f func(Proc) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range procs {
		if k := f(p); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func pidsOf(procs []Proc, f func(Proc) int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, p := range procs {
		if v := f(p); v > 0 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func atoi(s string) int64 {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, _ := strconv.ParseInt(s[2:], 16, 64)
		return v
	}
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// rowTime is the best time of an event row: a precise timestamp string when the source has
// one, else the unix seconds of the `time` column.
func rowTime(precise, seconds string) time.Time {
	if precise != "" {
		for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, strings.TrimSuffix(precise, " UTC")); err == nil {
				return t.UTC()
			}
		}
	}
	return time.Unix(atoi(seconds), 0).UTC()
}

func query(ctx context.Context, q Querier, sql string) ([]map[string]string, error) {
	rows, err := q.QueryRowsContext(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", firstTable(sql), err)
	}
	return rows, nil
}

func firstTable(sql string) string {
	f := strings.Fields(sql)
	for i, w := range f {
		if strings.EqualFold(w, "FROM") && i+1 < len(f) {
			return f[i+1]
		}
	}
	return "?"
}

// ---- Sysmon through windows_events ----

type sysmon struct{}

func (sysmon) name() string { return "sysmon" }

type eventData struct {
	EventData map[string]string `json:"EventData"`
}

func parseData(s string) map[string]string {
	var d eventData
	if json.Unmarshal([]byte(s), &d) != nil {
		return nil
	}
	return d.EventData
}

func sysmonWhere(eid int, extra string) string {
	return sysmonScan(fmt.Sprintf("eventid = %d AND %s", eid, extra))
}

// sysmonScan selects the Sysmon events matching where.
func sysmonScan(where string) string {
	return fmt.Sprintf("SELECT time, datetime, data FROM windows_events WHERE source = '%s' AND %s", sysmonChannel, where)
}

func sysmonProcs(rows []map[string]string) []Proc {
	out := make([]Proc, 0, len(rows))
	for _, r := range rows {
		d := parseData(r["data"])
		if d == nil || d["ProcessGuid"] == "" {
			continue
		}
		out = append(out, Proc{
			Key: strings.ToLower(d["ProcessGuid"]), ParentKey: strings.ToLower(d["ParentProcessGuid"]),
			PID: atoi(d["ProcessId"]), PPID: atoi(d["ParentProcessId"]),
			Path: d["Image"], Cmdline: d["CommandLine"], User: d["User"], Cwd: d["CurrentDirectory"],
			OriginalName: d["OriginalFileName"], ParentPath: d["ParentImage"], ParentCmdline: d["ParentCommandLine"],
			SHA256: hashField(d["Hashes"], "SHA256"), Time: rowTime(d["UtcTime"], r["time"]), Source: "sysmon",
		})
	}
	return out
}

// hashField picks one algorithm out of Sysmon's "SHA256=...,MD5=..." list.
func hashField(hashes, alg string) string {
	for _, part := range strings.Split(hashes, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), alg) {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

const (
	jImage  = "json_extract(data, '$.EventData.Image')"
	jGUID   = "json_extract(data, '$.EventData.ProcessGuid')"
	jPGUID  = "json_extract(data, '$.EventData.ParentProcessGuid')"
	jOrigFN = "json_extract(data, '$.EventData.OriginalFileName')"
)

func (sysmon) compilers(ctx context.Context, q Querier, from, to int64) ([]Proc, error) {
	suf, _ := suffixAny("v", windowsCompilerSuffixes())
	orig, _ := textList(windowsCompilerFiles())
	// Compiler starts (event 1) and PowerShell 7 loading Roslyn (event 7) in one scan.
	rows, err := query(ctx, q, sysmonScan(timeRange("time", from, to)+" AND ((eventid = 1 AND ("+readOnce(jImage, suf)+" OR lower("+jOrigFN+") IN "+orig+
		")) OR (eventid = 7 AND lower("+jLoaded+") LIKE '%\\microsoft.codeanalysis.csharp.dll' AND substr(lower("+jImage+"), -9) = '\\pwsh.exe'))"))
	starts, loads := splitLoads(rows)
	return append(sysmonProcs(starts), roslynHosts(sysmonLoads(loads))...), err
}

// splitLoads separates Sysmon image loads (event 7) from process starts in one result.
func splitLoads(rows []map[string]string) (starts, loads []map[string]string) {
	for _, row := range rows {
		if d := parseData(row["data"]); d != nil && d["ImageLoaded"] != "" {
			loads = append(loads, row)
		} else {
			starts = append(starts, row)
		}
	}
	return starts, loads
}

// roslynHosts turns PowerShell 7 loading Roslyn (Add-Type compiles in process, no csc) into a
// compile of its own: the compile is the load, its parent the PowerShell that loaded it, so
// that host's later children and connections are the compile's follow-ups.
func roslynHosts(loads []ImageLoad) []Proc {
	var out []Proc
	seen := map[string]bool{}
	for _, ld := range loads {
		if seen[ld.ProcKey] {
			continue
		}
		seen[ld.ProcKey] = true
		out = append(out, Proc{Key: ld.ProcKey + roslynKeySuffix, ParentKey: ld.ProcKey, PID: ld.PID, PPID: ld.PID,
			Path: ld.Image, OriginalName: BaseName(ld.Path), ParentPath: ld.Image, Time: ld.Time, Source: "sysmon"})
	}
	return out
}

const (
	jCmd    = "json_extract(data, '$.EventData.CommandLine')"
	jLoaded = "json_extract(data, '$.EventData.ImageLoaded')"
)

func (sysmon) related(ctx context.Context, q Querier, r Related) ([]Proc, []ImageLoad, error) {
	var bs []branch
	if list, ok := textList(keysOf(r.ParentsOf, func(p Proc) string { return p.ParentKey })); ok {
		bs = append(bs, branch{to: parentsBefore(r.ParentsOf), on: "eventid = 1", pred: fmt.Sprintf("lower(%s) IN %s", jGUID, list)})
	}
	if list, ok := textList(keysOf(r.ChildrenOf, func(p Proc) string { return p.Key })); ok {
		bs = append(bs, branch{from: r.Since, on: "eventid = 1", pred: fmt.Sprintf("lower(%s) IN %s", jPGUID, list)})
	}
	// Executions of the artifacts: their starts, proxies running them, and (event 7) their
	// loads as modules.
	if pred := execPredicate(jImage, jCmd, true, r.Paths); pred != "" {
		bs = append(bs, branch{from: r.Since, on: "eventid = 1", pred: pred})
	}
	if list, ok := textList(pathForms(loadable(r.Paths))); ok {
		bs = append(bs, branch{from: r.Since, on: "eventid = 7", pred: "lower(" + jLoaded + ") IN " + list})
	}
	if len(bs) == 0 {
		return nil, nil, nil
	}
	rows, err := query(ctx, q, sysmonScan(oneScan(bs)))
	starts, loads := splitLoads(rows)
	return dedupeProcs(sysmonProcs(starts)), sysmonLoads(loads), err
}

// sysmonLoads reads Sysmon event 7 rows.
func sysmonLoads(rows []map[string]string) []ImageLoad {
	var out []ImageLoad
	for _, r := range rows {
		d := parseData(r["data"])
		if d == nil || d["ImageLoaded"] == "" {
			continue
		}
		out = append(out, ImageLoad{ProcKey: strings.ToLower(d["ProcessGuid"]), PID: atoi(d["ProcessId"]), Image: d["Image"],
			Path: d["ImageLoaded"], Time: rowTime(d["UtcTime"], r["time"]), Source: "sysmon"})
	}
	return out
}

// loadable keeps the artifacts a process can load as a module.
func loadable(paths []string) []string {
	var out []string
	for _, p := range paths {
		switch l := strings.ToLower(p); {
		case strings.HasSuffix(l, ".dll"), strings.HasSuffix(l, ".ocx"), strings.HasSuffix(l, ".cpl"), strings.HasSuffix(l, ".sys"),
			strings.HasSuffix(l, ".exe"):
			out = append(out, p)
		}
	}
	return out
}

// execPredicate matches, without its time bound, the starts that execute one of the
// artifacts: the artifact's own image (an IN list of exact forms; for Windows paths written
// with 8.3 short names, a base-name test that SamePath then confirms), a proxy program
// (rundll32, regasm, ld.so, insmod, open ...) whose command line names it (an IN list of the
// proxies' paths first, so the name test runs on their rows only), and for .app bundles the
// executables inside. "" when there is nothing to look for.
func execPredicate(pathExpr, cmdExpr string, windows bool, artifacts []string) string {
	// On Windows col is the lower-case image path, computed once per row (readOnce: for Sysmon and 4688 it is
	// a json_extract, which parses the event); a plain POSIX path column costs fewer reads tested directly.
	col, cmd := pathExpr, cmdExpr
	if windows {
		col, cmd = "v", "lower("+cmdExpr+")"
	}
	var preds []string
	if windows {
		if list, ok := textList(pathForms(artifacts)); ok {
			preds = append(preds, col+" IN "+list)
		}
		var short []string
		for _, p := range artifacts {
			if strings.Contains(p, "~") {
				short = append(short, `\`+BaseName(p))
			}
		}
		if suf, ok := suffixAny(col, dedupe(short)); ok {
			preds = append(preds, suf)
		}
	} else if list, ok := textList(dedupe(artifacts)); ok {
		preds = append(preds, col+" IN "+list)
	}
	var names []string
	for _, a := range artifacts {
		b := a[strings.LastIndexAny(a, `\/`)+1:]
		if windows {
			b = strings.ToLower(b)
		}
		ext := ""
		if i := strings.LastIndexByte(b, '.'); i >= 0 {
			ext = strings.ToLower(b[i:])
		}
		if slices.ContainsFunc(proxyRules, func(r ProxyRule) bool { return slices.Contains(r.Exts, ext) }) {
			names = append(names, strings.TrimSuffix(b, ".ko"))
		}
		if !windows && strings.HasSuffix(a, ".app") {
			preds = append(preds, fmt.Sprintf("(%s > %s AND %s < %s)", col, textLit(a+"/"), col, textLit(a+"0")))
		}
	}
	proxies := proxyPaths(windows)
	if windows {
		proxies = pathForms(proxies)
	}
	if list, ok := textList(proxies); ok && len(names) > 0 {
		var tests []string
		for _, n := range dedupe(names) {
			tests = append(tests, fmt.Sprintf("instr(%s, %s) > 0", cmd, textLit(n)))
		}
		preds = append(preds, fmt.Sprintf("(%s IN %s AND (%s))", col, list, strings.Join(tests, " OR ")))
	}
	if len(preds) == 0 {
		return ""
	}
	pred := "(" + strings.Join(dedupe(preds), " OR ") + ")"
	if windows {
		return readOnce("lower("+pathExpr+")", pred)
	}
	return pred
}

// pathForms lists the lower-case forms a Windows image path can take in process events:
// as written, and under the volume device names ETW reports (\Device\HarddiskVolumeN\...).
// An IN list of exact forms lets osquery's SQLite match with one lookup per row, where a
// suffix or LIKE test per candidate would cost a scan per output. POSIX paths are exact.
func pathForms(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !windowsPath(p) {
			out = append(out, p)
			continue
		}
		n := NormalizePath(p)
		out = append(out, n)
		rest := stripDrive(n)
		if rest != n {
			out = append(out, rest)
			for v := 1; v <= 8; v++ {
				out = append(out, fmt.Sprintf(`\device\harddiskvolume%d%s`, v, rest))
			}
		}
	}
	return dedupe(out)
}

func (sysmon) files(ctx context.Context, q Querier, procs []Proc, _ []string, from, to int64) ([]FileEvent, error) {
	var out []FileEvent
	// Builds and csc /shared also own what Roslyn's shared compiler server (VBCSCompiler.exe,
	// no child of theirs) writes: its writes ride on the first query, by image, in the same pass.
	server, _ := suffixAny(jImage, sharedCompilerImages())
	if !slices.ContainsFunc(procs, func(p Proc) bool { return servedByServer(&p) }) {
		server = ""
	}
	for _, part := range chunks(keysOf(procs, func(p Proc) string { return p.Key }), 50000) {
		list, _ := textList(part)
		writer := "lower(" + jGUID + ") IN " + list
		if server != "" {
			writer, server = "("+writer+" OR "+server+")", ""
		}
		rows, err := query(ctx, q, sysmonWhere(11, timeRange("time", from, to)+" AND "+writer))
		if err != nil {
			return out, err
		}
		for _, r := range rows {
			d := parseData(r["data"])
			if d == nil {
				continue
			}
			out = append(out, FileEvent{ProcKey: strings.ToLower(d["ProcessGuid"]), PID: atoi(d["ProcessId"]), Image: d["Image"],
				Path: d["TargetFilename"], Time: rowTime(d["UtcTime"], r["time"]), Source: "sysmon"})
		}
	}
	return out, nil
}

func (sysmon) conns(ctx context.Context, q Querier, procs []Proc, since int64) ([]Conn, error) {
	var out []Conn
	for _, part := range chunks(keysOf(procs, func(p Proc) string { return p.Key }), 50000) {
		list, _ := textList(part)
		rows, err := query(ctx, q, sysmonWhere(3, fmt.Sprintf("time >= %d AND lower(%s) IN %s", since, jGUID, list)))
		if err != nil {
			return out, err
		}
		for _, r := range rows {
			d := parseData(r["data"])
			if d == nil || strings.EqualFold(d["Initiated"], "false") {
				continue
			}
			out = append(out, Conn{ProcKey: strings.ToLower(d["ProcessGuid"]), PID: atoi(d["ProcessId"]),
				Remote: d["DestinationIp"], Port: atoi(d["DestinationPort"]), Time: rowTime(d["UtcTime"], r["time"]), Source: "sysmon"})
		}
	}
	return out, nil
}

// ---- pid-keyed process tables: process_events, es_process_events, process_etw_events, Security 4688 ----

// pidTable describes a process-start table whose rows carry pid and parent pid.
type pidTable struct {
	table, pidCol, ppidCol, userCol, cwdCol string
	filter                                  string // restricts rows to process starts
	seqCols                                 bool   // process_etw_events sequence numbers
	versionCols                             bool   // es_process_events pidversion, parent_pidversion, global_seq_num
	windows                                 bool
}

var (
	// bpfProcs are the Linux eBPF publisher's process starts (--enable_bpf_events; osquery writes
	// syscall = 'exec' for every start it keeps).
	bpfProcs = pidTable{table: "bpf_process_events", pidCol: "pid", ppidCol: "parent", userCol: "uid", cwdCol: "cwd",
		filter: "syscall = 'exec'"}
	linuxProcs = pidTable{table: "process_events", pidCol: "pid", ppidCol: "parent", userCol: "uid", cwdCol: "cwd",
		filter: "coalesce(syscall, '') IN ('', 'execve', 'execveat')"}
	darwinAuditProcs = pidTable{table: "process_events", pidCol: "pid", ppidCol: "parent", userCol: "uid", cwdCol: "cwd", filter: "1 = 1"}
	esProcs          = pidTable{table: "es_process_events", pidCol: "pid", ppidCol: "parent", userCol: "username", cwdCol: "cwd",
		filter: "event_type = 'exec'", versionCols: true}
	etwProcs = pidTable{table: "process_etw_events", pidCol: "pid", ppidCol: "ppid", userCol: "username",
		filter: "type = 'ProcessStart'", seqCols: true, windows: true}
)

func (t pidTable) name() string { return t.table }

func (t pidTable) selectSQL(where string) string {
	cols := fmt.Sprintf("time, %s AS pid, %s AS ppid, path, cmdline, %s AS user", t.pidCol, t.ppidCol, t.userCol)
	if t.cwdCol != "" {
		cols += ", " + t.cwdCol + " AS cwd"
	}
	if t.seqCols {
		cols += ", datetime, process_sequence_number AS seq, parent_process_sequence_number AS pseq"
	}
	if t.versionCols {
		cols += ", pidversion AS pidv, parent_pidversion AS ppidv, global_seq_num AS gseq"
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s", cols, t.table, where, t.filter)
}

func (t pidTable) procs(rows []map[string]string) []Proc {
	out := make([]Proc, 0, len(rows))
	for _, r := range rows {
		p := Proc{PID: atoi(r["pid"]), PPID: atoi(r["ppid"]), Path: r["path"], Cmdline: r["cmdline"], User: r["user"],
			Cwd: r["cwd"], Time: rowTime(r["datetime"], r["time"]), Source: t.table}
		p.Key = fmt.Sprintf("%s:%d@%d", t.table, p.PID, p.Time.UnixMilli())
		if pv := atoi(r["pidv"]); pv > 0 {
			p.PIDVersion, p.ParentPIDVersion, p.Seq = pv, atoi(r["ppidv"]), atoi(r["gseq"])
			p.Key = esKey(t.table, p)
		}
		if seq := atoi(r["seq"]); seq > 0 {
			p.Key = fmt.Sprintf("etw:%d", seq)
			if pseq := atoi(r["pseq"]); pseq > 0 {
				p.ParentKey = fmt.Sprintf("etw:%d", pseq)
			}
		}
		out = append(out, p)
	}
	return out
}

// esKey is the key of an EndpointSecurity exec: pid and pidversion name the process, and
// the exec's global sequence number (else its time) tells apart the images one process
// execs in turn.
func esKey(table string, p Proc) string {
	if p.Seq > 0 {
		return fmt.Sprintf("%s:%d:%d#%d", table, p.PID, p.PIDVersion, p.Seq)
	}
	return fmt.Sprintf("%s:%d:%d@%d", table, p.PID, p.PIDVersion, p.Time.UnixMilli())
}

func (t pidTable) compilers(ctx context.Context, q Querier, from, to int64) ([]Proc, error) {
	filter := posixCompilerFilter
	if t.windows {
		filter, _ = suffixAny("v", windowsCompilerSuffixes())
	}
	rows, err := query(ctx, q, t.selectSQL(timeRange("time", from, to)+" AND "+readOnce("path", filter)))
	return t.procs(rows), err
}

func (t pidTable) related(ctx context.Context, q Querier, r Related) ([]Proc, []ImageLoad, error) {
	var bs []branch
	if list, ok := intList(pidsOf(r.ParentsOf, func(p Proc) int64 { return p.PPID })); ok {
		bs = append(bs, branch{to: parentsBefore(r.ParentsOf), pred: t.pidCol + " IN " + list})
	}
	if list, ok := intList(pidsOf(r.ChildrenOf, func(p Proc) int64 { return p.PID })); ok {
		bs = append(bs, branch{from: r.Since, pred: t.ppidCol + " IN " + list})
	}
	if pred := execPredicate("path", "cmdline", t.windows, r.Paths); pred != "" {
		bs = append(bs, branch{from: r.Since, pred: pred})
	}
	if len(bs) == 0 {
		return nil, nil, nil
	}
	rows, err := query(ctx, q, t.selectSQL(oneScan(bs)))
	return dedupeProcs(t.procs(rows)), nil, err
}

// security4688 reads process starts from the Security channel (event 4688).
type security4688 struct{}

func (security4688) name() string { return "security_4688" }

func (security4688) sql(where string) string {
	return "SELECT time, datetime, data FROM windows_events WHERE source = 'Security' AND eventid = 4688 AND " + where
}

func (security4688) procs(rows []map[string]string) []Proc {
	out := make([]Proc, 0, len(rows))
	for _, r := range rows {
		d := parseData(r["data"])
		if d == nil {
			continue
		}
		p := Proc{PID: atoi(d["NewProcessId"]), PPID: atoi(d["ProcessId"]), Path: d["NewProcessName"],
			Cmdline: d["CommandLine"], ParentPath: d["ParentProcessName"], Time: rowTime(r["datetime"], r["time"]),
			Source: "security_4688"}
		p.User = d["TargetUserName"]
		if p.User == "" || p.User == "-" {
			p.User = d["SubjectUserName"]
		}
		if dom := d["SubjectDomainName"]; dom != "" && p.User == d["SubjectUserName"] {
			p.User = dom + `\` + p.User
		}
		p.Key = fmt.Sprintf("4688:%d@%d", p.PID, p.Time.UnixMilli())
		out = append(out, p)
	}
	return out
}

const (
	jNewName = "json_extract(data, '$.EventData.NewProcessName')"
	jNewPID  = "json_extract(data, '$.EventData.NewProcessId')"
	jCreator = "json_extract(data, '$.EventData.ProcessId')"
)

// hexPIDs lists the forms Windows writes a pid in 4688 events: 0x1a2c (Windows 10 and
// later) and zero-padded 0x00001a2c (Windows 7).
func hexPIDs(pids []int64) []string {
	out := make([]string, 0, 2*len(pids))
	for _, p := range pids {
		out = append(out, fmt.Sprintf("0x%x", p), fmt.Sprintf("0x%08x", p))
	}
	return out
}

func (s security4688) compilers(ctx context.Context, q Querier, from, to int64) ([]Proc, error) {
	suf, _ := suffixAny("v", windowsCompilerSuffixes())
	rows, err := query(ctx, q, s.sql(timeRange("time", from, to)+" AND "+readOnce(jNewName, suf)))
	return s.procs(rows), err
}

func (s security4688) related(ctx context.Context, q Querier, r Related) ([]Proc, []ImageLoad, error) {
	var bs []branch
	if list, ok := textList(hexPIDs(pidsOf(r.ParentsOf, func(p Proc) int64 { return p.PPID }))); ok {
		bs = append(bs, branch{to: parentsBefore(r.ParentsOf), pred: fmt.Sprintf("lower(%s) IN %s", jNewPID, list)})
	}
	if list, ok := textList(hexPIDs(pidsOf(r.ChildrenOf, func(p Proc) int64 { return p.PID }))); ok {
		bs = append(bs, branch{from: r.Since, pred: fmt.Sprintf("lower(%s) IN %s", jCreator, list)})
	}
	if pred := execPredicate(jNewName, "json_extract(data, '$.EventData.CommandLine')", true, r.Paths); pred != "" {
		bs = append(bs, branch{from: r.Since, pred: pred})
	}
	if len(bs) == 0 {
		return nil, nil, nil
	}
	rows, err := query(ctx, q, s.sql(oneScan(bs)))
	return dedupeProcs(s.procs(rows)), nil, err
}

// ---- file sources ----

// pidFiles reads file events that carry the writer's pid (process_file_events, es_process_file_events).
type pidFiles struct {
	table, pathExpr, filter string
}

var (
	auditFiles = pidFiles{table: "process_file_events",
		pathExpr: "CASE WHEN dest_path != '' THEN dest_path ELSE path END",
		filter:   "operation IN ('write', 'open', 'create', 'rename', 'truncate', 'link')"}
	esFiles = pidFiles{table: "es_process_file_events",
		pathExpr: "CASE WHEN dest_filename != '' THEN dest_filename ELSE filename END",
		filter:   "event_type IN ('create', 'write', 'rename', 'close', 'truncate', 'link')"}
)

func (f pidFiles) name() string { return f.table }

func (f pidFiles) files(ctx context.Context, q Querier, procs []Proc, _ []string, from, to int64) ([]FileEvent, error) {
	list, ok := intList(pidsOf(procs, func(p Proc) int64 { return p.PID }))
	if !ok {
		return nil, nil
	}
	rows, err := query(ctx, q, fmt.Sprintf("SELECT pid, %s AS target, time FROM %s WHERE pid IN %s AND %s AND %s",
		f.pathExpr, f.table, list, timeRange("time", from, to), f.filter))
	out := make([]FileEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, FileEvent{PID: atoi(r["pid"]), Path: r["target"], Time: rowTime("", r["time"]), Source: f.table})
	}
	return out, err
}

// pathFiles reads pid-less file monitors (file_events, ntfs_journal_events): only the paths
// the compile is known to produce are looked up, in its time window.
type pathFiles struct {
	table, pathCol, hashCol, filter string
	windows                         bool
}

var (
	inotifyFiles = pathFiles{table: "file_events", pathCol: "target_path", hashCol: "sha256",
		filter: "action IN ('CREATED', 'UPDATED', 'MOVED_TO', 'ATTRIBUTES_MODIFIED')"}
	ntfsFiles = pathFiles{table: "ntfs_journal_events", pathCol: "path", hashCol: "''",
		filter: "action IN ('FileWrite', 'FileCreation', 'FileRename_New', 'FileOverwrite', 'FileExtend')", windows: true}
)

func (f pathFiles) name() string { return f.table }

func (f pathFiles) files(ctx context.Context, q Querier, _ []Proc, paths []string, from, to int64) ([]FileEvent, error) {
	forms, col := dedupe(paths), f.pathCol
	if f.windows {
		forms, col = pathForms(paths), "lower("+f.pathCol+")"
	}
	list, ok := textList(forms)
	if !ok {
		return nil, nil
	}
	rows, err := query(ctx, q, fmt.Sprintf("SELECT %s AS target, %s AS sha256, time FROM %s WHERE %s AND %s AND %s IN %s",
		f.pathCol, f.hashCol, f.table, f.filter, timeRange("time", from, to), col, list))
	out := make([]FileEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, FileEvent{Path: r["target"], SHA256: r["sha256"], Time: rowTime("", r["time"]), Source: f.table})
	}
	return out, err
}

// ---- connection sources ----

// pidSockets reads outbound connections from an event table whose rows carry the pid: socket_events
// (Linux audit, macOS OpenBSM; action = 'connect') and bpf_socket_events (Linux eBPF; syscall = 'connect').
type pidSockets struct{ table, connect string }

var (
	auditSockets = pidSockets{table: "socket_events", connect: "action = 'connect'"}
	bpfSockets   = pidSockets{table: "bpf_socket_events", connect: "syscall = 'connect'"}
)

func (s pidSockets) name() string { return s.table }

func (s pidSockets) conns(ctx context.Context, q Querier, procs []Proc, since int64) ([]Conn, error) {
	list, ok := intList(pidsOf(procs, func(p Proc) int64 { return p.PID }))
	if !ok {
		return nil, nil
	}
	rows, err := query(ctx, q, fmt.Sprintf("SELECT pid, remote_address, remote_port, time FROM %s "+
		"WHERE time >= %d AND pid IN %s AND %s AND remote_address NOT IN ('', '0.0.0.0', '::')", s.table, since, list, s.connect))
	out := make([]Conn, 0, len(rows))
	for _, r := range rows {
		out = append(out, Conn{PID: atoi(r["pid"]), Remote: r["remote_address"], Port: atoi(r["remote_port"]),
			Time: rowTime("", r["time"]), Source: s.table})
	}
	return out, err
}

// openSockets reads process_open_sockets: a point-in-time view, the only Windows source of
// connections by pid without Sysmon.
type openSockets struct{}

func (openSockets) name() string { return "process_open_sockets" }

func (openSockets) conns(ctx context.Context, q Querier, procs []Proc, _ int64) ([]Conn, error) {
	list, ok := intList(pidsOf(procs, func(p Proc) int64 { return p.PID }))
	if !ok {
		return nil, nil
	}
	rows, err := query(ctx, q, "SELECT pid, remote_address, remote_port FROM process_open_sockets WHERE pid IN "+list+
		" AND remote_port != 0 AND remote_address NOT IN ('', '0.0.0.0', '::')")
	out := make([]Conn, 0, len(rows))
	for _, r := range rows {
		out = append(out, Conn{PID: atoi(r["pid"]), Remote: r["remote_address"], Port: atoi(r["remote_port"]), Source: "process_open_sockets"})
	}
	return out, err
}
