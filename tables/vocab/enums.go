package vocab

// Stages of a lineage, in increasing order of evidence (README, compile_lineage.stage).
const (
	StageCompile  = "compile"  // a compiler ran
	StageWritten  = "written"  // a file event shows the artifact written
	StageExecuted = "executed" // the artifact was started
	StageNetwork  = "network"  // the chain connected out
)

var stages = []string{StageCompile, StageWritten, StageExecuted, StageNetwork}

// Stages returns the stages, least evidence first.
func Stages() []string { return append([]string(nil), stages...) }

// StageRank orders stages (compile 0 ... network 3); an unknown stage ranks as compile.
func StageRank(stage string) int {
	for i, s := range stages {
		if s == stage {
			return i
		}
	}
	return 0
}

// Connection origins: who made the first attributed connection (README, connection_origin).
const (
	OriginArtifact = "artifact" // the executed artifact or its children
	OriginCompiler = "compiler" // the compiler, its helpers, or what an in-memory compile host started
	OriginParent   = "parent"   // the compiling parent and what it started after the compile
)

// Origins returns the connection origins; a row without connections has none ("").
func Origins() []string { return []string{OriginArtifact, OriginCompiler, OriginParent} }

// Output sources: where output_path came from (README, output_source).
const (
	OutputCmdline   = "cmdline"    // named on the command line or in a response file
	OutputFileEvent = "file_event" // a file the compile wrote
	OutputBoth      = "both"       // both agree
	OutputNone      = "none"       // not known
)

// OutputSources returns the output sources.
func OutputSources() []string {
	return []string{OutputCmdline, OutputFileEvent, OutputBoth, OutputNone}
}

// Platforms, as osquery names them (osquery-5.23.1-schemas.json "platforms").
const (
	PlatformWindows = "windows"
	PlatformLinux   = "linux"
	PlatformDarwin  = "darwin"
)

// Platforms returns the platforms the tables run on.
func Platforms() []string { return []string{PlatformWindows, PlatformLinux, PlatformDarwin} }

// Process telemetry names of the source column (README, compile_lineage.source).
const (
	SourceSysmon       = "sysmon"             // windows_events, Microsoft-Windows-Sysmon/Operational event 1
	SourceETW          = "process_etw_events" // osquery 5.8.0+ ETW process starts
	SourceSecurity4688 = "security_4688"      // windows_events, Security event 4688
	SourceAudit        = "process_events"     // Linux audit, macOS OpenBSM
	SourceES           = "es_process_events"  // macOS EndpointSecurity
	SourceBPF          = "bpf_process_events" // Linux eBPF publisher (--enable_bpf_events), when audit is off
)

// ProcessSources returns the process telemetry names.
func ProcessSources() []string {
	return []string{SourceSysmon, SourceETW, SourceSecurity4688, SourceAudit, SourceES, SourceBPF}
}

// Telemetry gap codes of the telemetry_gaps column (README, compile_lineage.telemetry_gaps).
const (
	GapNoProcessEvents     = "no_process_events"       // no process start source on this host
	GapNoFileEvents        = "no_file_events"          // no file write source: stage written is out of reach
	GapFileEventsWithoutID = "file_events_without_pid" // pid-less file monitor: writes linked by path and time
	GapNoNetworkEvents     = "no_network_events"       // no connection source: stage network is out of reach
	GapNetworkSnapshot     = "network_snapshot_only"   // process_open_sockets only: closed connections are missed
	GapNoProcessGUID       = "no_process_guid"         // Security 4688: processes keyed by pid and start only
	GapNoCmdline           = "no_cmdline"              // the compiler's command line is empty
	GapNoParent            = "no_parent"               // the parent is unknown
	GapLineageTruncated    = "lineage_truncated"       // a busy process tree was cut to bound the work
	GapResponseFileRefused = "response_file_refused"   // a response file named on the command line was not read (see link_evidence)
	// GapSourceFailedPrefix starts a gap naming an osquery table whose query failed, e.g.
	// source_failed:socket_events: the row is built without it.
	GapSourceFailedPrefix = "source_failed:"
)

var gaps = []string{GapNoProcessEvents, GapNoFileEvents, GapFileEventsWithoutID, GapNoNetworkEvents,
	GapNetworkSnapshot, GapNoProcessGUID, GapNoCmdline, GapNoParent, GapLineageTruncated, GapResponseFileRefused}

// Gaps returns the fixed telemetry gap codes (source_failed:<table> gaps come on top).
func Gaps() []string { return append([]string(nil), gaps...) }

// Link evidence codes of the link_evidence column (README, compile_lineage.link_evidence).
const (
	EvidenceWriteGUID         = "write:process_guid"    // the writer's process key is the compile's
	EvidenceWritePID          = "write:pid"             // the writer's pid is the compile's, after its start
	EvidenceWritePathTime     = "write:path_time"       // pid-less monitor: same path within the compile window
	EvidenceWriteParentGUID   = "write:parent_guid"     // an in-process compile host wrote the assembly
	EvidenceOutputResponse    = "output:response_file"  // the output was read from a response file
	EvidenceExecPath          = "exec:path"             // a process started from the output path
	EvidenceExecBundle        = "exec:bundle"           // a process started from inside the output .app bundle
	EvidenceExecProxyPrefix   = "exec:proxy:"           // + the proxy rule: rundll32, regsvr32, regasm, ld_so, insmod, open ...
	EvidenceExecImageLoad     = "exec:image_load"       // Sysmon event 7: a process loaded the output as a module
	EvidenceNetBuildFetch     = "net:build_tool_fetch"  // a build tool's registry download on 443/80: not counted, not compiler_network
	EvidenceScratchPrefix     = "scratch:"              // + the scratch rule: a build tool's own temp path, not temp_source/temp_output
	EvidenceQuietPrefix       = "quiet:"                // + the quieting rule: aspnet_recycle
	EvidenceResponseRefused   = "response_file:refused" // a named response file was not read: remote, device, link, special or too big
	EvidenceNetArtifactPrefix = "net:artifact"          // + _guid, _pid or _open_socket
	EvidenceNetCompilerPrefix = "net:compiler"          // + _guid, _pid or _open_socket
	EvidenceNetChildPrefix    = "net:compiler_child"    // + _guid, _pid or _open_socket
	EvidenceNetParentPrefix   = "net:parent"            // + _guid, _pid or _open_socket
)

// EvidenceWriteSharedPrefix + a shared-compiler rule (vbcscompiler) is the link_evidence of a write
// by a long-lived compiler server into obj\ or bin\ of the one build running on that project folder.
const EvidenceWriteSharedPrefix = "write:shared_compiler:"
