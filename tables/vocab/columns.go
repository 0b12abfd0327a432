package vocab

// Column types, as osquery names them (osquery-go's table.ColumnType values).
const (
	TypeText    = "TEXT"
	TypeInteger = "INTEGER"
	TypeBigInt  = "BIGINT"
)

// Column is one column of a table: its name, osquery type and the description osquery shows.
type Column struct {
	Name        string
	Type        string
	Description string
	// Indexed columns receive their constraints in the extension (osquery's "additional"
	// columns): constraining them narrows what the extension reads.
	Indexed bool
}

// Table names.
const (
	TableLineage   = "compile_lineage"
	TableTelemetry = "compile_telemetry"
)

// compile_lineage column names, documented in the README's compile_lineage table.
const (
	ColLineageID            = "lineage_id"
	ColTime                 = "time"
	ColPlatform             = "platform"
	ColSource               = "source"
	ColCompilerPID          = "compiler_pid"
	ColCompilerGUID         = "compiler_guid"
	ColCompilerPath         = "compiler_path"
	ColCompilerName         = "compiler_name"
	ColCompilerOriginalName = "compiler_original_name"
	ColCompilerCmdline      = "compiler_cmdline"
	ColCompilerUser         = "compiler_user"
	ColParentPID            = "parent_pid"
	ColParentPath           = "parent_path"
	ColParentName           = "parent_name"
	ColParentCmdline        = "parent_cmdline"
	ColAncestry             = "ancestry"
	ColParentClass          = "parent_class"
	ColOutputPath           = "output_path"
	ColOutputSource         = "output_source"
	ColArtifactWritten      = "artifact_written"
	ColArtifactWrittenTime  = "artifact_written_time"
	ColArtifactSHA256       = "artifact_sha256"
	ColExecutions           = "executions"
	ColFirstExecPID         = "first_exec_pid"
	ColFirstExecTime        = "first_exec_time"
	ColConnections          = "connections"
	ColFirstRemoteAddress   = "first_remote_address"
	ColFirstRemotePort      = "first_remote_port"
	ColConnectionOrigin     = "connection_origin"
	ColFollowupProcesses    = "followup_processes"
	ColStage                = "stage"
	ColLinkEvidence         = "link_evidence"
	ColSuspicious           = "suspicious"
	ColReasons              = "reasons"
	ColTelemetryGaps        = "telemetry_gaps"
)

// ColFallback is the column the extension-free fallback queries add to say which rule
// matched (packs/README.md, "the fallback column convention"); compile_lineage has no such column.
const ColFallback = "fallback"

// ListSeparator joins the list columns (followup_processes, link_evidence, reasons,
// telemetry_gaps); AncestrySeparator joins the ancestry column.
const (
	ListSeparator     = ";"
	AncestrySeparator = " > "
)

var lineageColumns = []Column{
	{ColLineageID, TypeText, "Deterministic id of this compile (UUIDv5 over the compiler process identity)", false},
	{ColTime, TypeBigInt, "Compiler start, unix seconds; constrain it (time > ...) to narrow the search", true},
	{ColPlatform, TypeText, "windows, linux or darwin", false},
	{ColSource, TypeText, "Process telemetry used: sysmon, process_etw_events, security_4688, process_events, es_process_events, bpf_process_events", false},
	{ColCompilerPID, TypeBigInt, "Compiler process id", false},
	{ColCompilerGUID, TypeText, "Stable process key (Sysmon ProcessGuid, ETW sequence, macOS pid:pidversion#seq, or pid@start)", false},
	{ColCompilerPath, TypeText, "Compiler image path", false},
	{ColCompilerName, TypeText, "Lower-case base name, e.g. csc.exe, gcc", false},
	{ColCompilerOriginalName, TypeText, "PE original file name (Sysmon), which survives renaming", false},
	{ColCompilerCmdline, TypeText, "Compiler command line", false},
	{ColCompilerUser, TypeText, "User the compiler ran as", false},
	{ColParentPID, TypeBigInt, "Direct parent process id", false},
	{ColParentPath, TypeText, "Direct parent image path", false},
	{ColParentName, TypeText, "Direct parent lower-case base name", false},
	{ColParentCmdline, TypeText, "Direct parent command line", false},
	{ColAncestry, TypeText, "Process names from the oldest known ancestor down to the compiler, joined by ' > '", false},
	{ColParentClass, TypeText, "script_host, office, lolbin, system_service, web_server, shell, remote_admin, dev_tool, build_system or unknown", false},
	{ColOutputPath, TypeText, "The compiled artifact: from file events by the compile, or the command line", false},
	{ColOutputSource, TypeText, "cmdline, file_event, both or none", false},
	{ColArtifactWritten, TypeInteger, "1 when a file event shows the artifact written", false},
	{ColArtifactWrittenTime, TypeBigInt, "Time of the artifact's write, unix seconds (0 when not seen)", false},
	{ColArtifactSHA256, TypeText, "SHA-256 of the artifact when the file event hashed it", false},
	{ColExecutions, TypeInteger, "Process starts from output_path after the write", false},
	{ColFirstExecPID, TypeBigInt, "Process id of the artifact's first execution", false},
	{ColFirstExecTime, TypeBigInt, "Start of the artifact's first execution, unix seconds", false},
	{ColConnections, TypeInteger, "Outbound connections by the artifact, the compiler (and its children) or, after an in-memory compile, the compiling parent", false},
	{ColFirstRemoteAddress, TypeText, "Remote address of the first attributed connection", false},
	{ColFirstRemotePort, TypeInteger, "Remote port of the first attributed connection", false},
	{ColConnectionOrigin, TypeText, "artifact, compiler or parent", false},
	{ColFollowupProcesses, TypeText, "Processes the compiler or its parent started after the compile, ';'-joined", false},
	{ColStage, TypeText, "Furthest step reached: compile, written, executed, network", false},
	{ColLinkEvidence, TypeText, "How each link was made, ';'-joined (write:process_guid, write:pid, write:path_time, exec:path, net:artifact_guid, ...)", false},
	{ColSuspicious, TypeInteger, "1 when any reason was found", false},
	{ColReasons, TypeText, "Reason codes, ';'-joined; see the README", false},
	{ColTelemetryGaps, TypeText, "Sources missing for this row, ';'-joined (no_file_events, no_network_events, ...)", false},
}

// LineageColumns returns the columns of compile_lineage, in table order.
func LineageColumns() []Column { return append([]Column(nil), lineageColumns...) }

// compile_telemetry column names, documented in the README's compile_telemetry table.
const (
	ColTelPlatform        = "platform"
	ColTelSignal          = "signal"
	ColTelSourceTable     = "source_table"
	ColTelTableExists     = "table_exists"
	ColTelPublisherActive = "publisher_active"
	ColTelEvents          = "events"
	ColTelOldestTime      = "oldest_time"
	ColTelNewestTime      = "newest_time"
	ColTelStatus          = "status"
	ColTelUsed            = "used"
	ColTelEnableHint      = "enable_hint"
)

var telemetryColumns = []Column{
	{ColTelPlatform, TypeText, "windows, linux or darwin, as detected from the tables osquery has", false},
	{ColTelSignal, TypeText, "process, file or network", false},
	{ColTelSourceTable, TypeText, "osquery table (and, for windows_events, channel) that can feed the signal", false},
	{ColTelTableExists, TypeInteger, "1 when this osquery has the table", false},
	{ColTelPublisherActive, TypeInteger, "osquery_events subscriber state: 1 active, 0 off, -1 unknown", false},
	{ColTelEvents, TypeBigInt, "Events buffered now in the window", false},
	{ColTelOldestTime, TypeBigInt, "Oldest buffered event, unix seconds", false},
	{ColTelNewestTime, TypeBigInt, "Newest buffered event, unix seconds", false},
	{ColTelStatus, TypeText, "ok, empty, disabled, missing or failed", false},
	{ColTelUsed, TypeInteger, "1 when compile_lineage reads this source for the signal", false},
	{ColTelEnableHint, TypeText, "osquery flags or config that turn the source on", false},
}

// TelemetryColumns returns the columns of compile_telemetry, in table order.
func TelemetryColumns() []Column { return append([]Column(nil), telemetryColumns...) }
