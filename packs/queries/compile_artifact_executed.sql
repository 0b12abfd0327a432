-- name: compile_artifact_executed
-- description: Compiled artifacts that were started after the compiler wrote them (executions > 0),
--   suspicious or not: the Windows compile -> write -> execute chain of MITRE AN1381 and the Linux
--   compile -> exec chain of AN1382, linked by path and process identity.
-- platform: windows,linux,darwin
-- interval: 300
-- min_osquery_version: 5.8.0
-- logging: differential_ignore_removals
-- attack: T1027.004
-- false_positives: Developers running what they just built (unit test binaries, tools built from
--   source on a build host), installers that compile and run a helper.
-- tuning: Combine with suspicious = 1 or parent_class in the SIEM for developer machines and CI
--   agents; on servers and kiosks every row deserves a look.
-- requires_extension: yes
-- flags.windows: enable_process_etw_events=true enable_windows_events_publisher=true
--   enable_windows_events_subscriber=true
--   windows_event_channels=System,Application,Setup,Security,Microsoft-Windows-Sysmon/Operational
-- flags.linux: disable_events=false disable_audit=false audit_allow_config=true
--   audit_allow_process_events=true enable_file_events=true
-- flags.darwin: disable_events=false disable_endpointsecurity=false
--   disable_endpointsecurity_fim=false
SELECT lineage_id, time, platform, compiler_pid, compiler_path, compiler_name, compiler_cmdline,
       compiler_user, parent_path, parent_name, parent_class, output_path, artifact_written_time,
       artifact_sha256, executions, first_exec_pid, first_exec_time, stage, link_evidence,
       suspicious, reasons
FROM compile_lineage
WHERE executions > 0;
