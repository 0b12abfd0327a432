-- name: compile_artifact_network
-- description: Compiles followed by network connections (connections > 0): from the compiled
--   artifact, from the compiler itself (a hollowed or masqueraded compiler) or from the compiling
--   parent (an in-memory compile loaded by powershell, MSBuild or w3wp); connection_origin says which.
-- platform: windows,linux,darwin
-- interval: 300
-- min_osquery_version: 5.8.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1071
-- false_positives: Freshly built services or test clients talking to a local or staging server;
--   build tools whose parent downloads packages (NuGet, Maven) right after a compile.
-- tuning: Drop rows whose first_remote_address is a known package mirror or loopback in the SIEM;
--   connection_origin = 'artifact' is the strongest signal.
-- requires_extension: yes
-- flags.windows: enable_process_etw_events=true enable_windows_events_publisher=true
--   enable_windows_events_subscriber=true
--   windows_event_channels=System,Application,Setup,Security,Microsoft-Windows-Sysmon/Operational
-- flags.linux: disable_events=false disable_audit=false audit_allow_config=true
--   audit_allow_process_events=true audit_allow_sockets=true enable_file_events=true
-- flags.darwin: disable_events=false disable_endpointsecurity=false
--   disable_endpointsecurity_fim=false
SELECT lineage_id, time, platform, compiler_pid, compiler_path, compiler_name, compiler_cmdline,
       compiler_user, parent_path, parent_name, parent_class, output_path, executions,
       connections, first_remote_address, first_remote_port, connection_origin, stage,
       link_evidence, suspicious, reasons
FROM compile_lineage
WHERE connections > 0;
