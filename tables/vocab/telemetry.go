package vocab

// A TelemetrySource is one osquery event source that can feed a signal (process, file, network) of
// compile_lineage on a platform: one row of compile_telemetry. Sources in windows_events are told apart
// by channel and event id (Label); Where narrows the source table when counting its events. Hint is
// compile_telemetry's enable_hint: the osquery flags or configuration that turn the source on (flag names
// from osquery's source, osquery-facts.md section 1); the packs' telemetry policies quote it.
type TelemetrySource struct {
	Platform, Signal, Table, Label, Where, Hint string
}

// telemetrySources are in compile_telemetry's row order.
var telemetrySources = []TelemetrySource{
	{"linux", "process", "process_events", "process_events", "", "--disable_audit=false --audit_allow_config=true --audit_allow_process_events=true"},
	{"linux", "file", "process_file_events", "process_file_events", "", "--disable_audit=false --audit_allow_config=true --audit_allow_fim_events=true and file_paths in the config"},
	{"linux", "file", "file_events", "file_events", "", "--enable_file_events=true and file_paths in the config"},
	{"linux", "network", "socket_events", "socket_events", "", "--disable_audit=false --audit_allow_config=true --audit_allow_sockets=true"},
	{"linux", "process", "bpf_process_events", "bpf_process_events", "syscall = 'exec'", "--enable_bpf_events=true (eBPF publisher, used when audit is off)"},
	{"linux", "network", "bpf_socket_events", "bpf_socket_events", "syscall = 'connect'", "--enable_bpf_events=true (eBPF publisher, used when audit is off)"},
	{"darwin", "process", "es_process_events", "es_process_events", "", "--disable_endpointsecurity=false and Full Disk Access for osqueryd"},
	{"darwin", "process", "process_events", "process_events", "", "--disable_audit=false (OpenBSM, macOS 10.15 and older)"},
	{"darwin", "file", "es_process_file_events", "es_process_file_events", "", "--disable_endpointsecurity_fim=false and file_paths in the config"},
	{"darwin", "file", "file_events", "file_events", "", "--enable_file_events=true and file_paths in the config"},
	{"darwin", "network", "socket_events", "socket_events", "", "--disable_audit=false --audit_allow_sockets=true"},
	{"windows", "process", "windows_events", "windows_events:Microsoft-Windows-Sysmon/Operational", "source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 1",
		"Sysmon recording event 1; --enable_windows_events_publisher=true --enable_windows_events_subscriber=true --windows_event_channels=...,Microsoft-Windows-Sysmon/Operational"},
	{"windows", "process", "process_etw_events", "process_etw_events", "type = 'ProcessStart'", "--enable_process_etw_events=true (osquery 5.8.0+)"},
	{"windows", "process", "windows_events", "windows_events:Security/4688", "source = 'Security' AND eventid = 4688",
		"Audit Process Creation (and 'Include command line in process creation events'); --enable_windows_events_publisher=true --enable_windows_events_subscriber=true"},
	{"windows", "file", "windows_events", "windows_events:Microsoft-Windows-Sysmon/Operational", "source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 11",
		"Sysmon recording event 11 (FileCreate) with the Sysmon channel in --windows_event_channels"},
	{"windows", "file", "ntfs_journal_events", "ntfs_journal_events", "", "--enable_ntfs_event_publisher=true and file_paths in the config"},
	{"windows", "network", "windows_events", "windows_events:Microsoft-Windows-Sysmon/Operational", "source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 3",
		"Sysmon recording event 3 (NetworkConnect) with the Sysmon channel in --windows_event_channels"},
	{"windows", "network", "process_open_sockets", "process_open_sockets", "", "always on; point in time only (connections already closed are missed)"},
}

// TelemetrySources returns compile_telemetry's sources, in its row order.
func TelemetrySources() []TelemetrySource {
	return append([]TelemetrySource(nil), telemetrySources...)
}
