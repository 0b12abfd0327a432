-- name: compile_suspicious
-- description: Compiles from suspicious parents or with suspicious traits: rows of compile_lineage
--   with suspicious = 1, with the reason codes, the parent chain and how far the compile got
--   (compile, written, executed, network).
-- platform: windows,linux,darwin
-- interval: 300
-- min_osquery_version: 5.8.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1127.001
-- false_positives: Admin scripts that compile C# through a script host or PowerShell Add-Type,
--   enterprise software that compiles at runtime, security test tools.
-- tuning: Filter on reasons and parent_path in the SIEM (for example drop parent_class = 'dev_tool'
--   rows on build hosts); keep the query itself unfiltered so the extension's scoring stays visible.
-- requires_extension: yes
-- flags.windows: enable_process_etw_events=true enable_windows_events_publisher=true
--   enable_windows_events_subscriber=true
--   windows_event_channels=System,Application,Setup,Security,Microsoft-Windows-Sysmon/Operational
-- flags.linux: disable_events=false disable_audit=false audit_allow_config=true
--   audit_allow_process_events=true audit_allow_sockets=true enable_file_events=true
-- flags.darwin: disable_events=false disable_endpointsecurity=false
--   disable_endpointsecurity_fim=false
SELECT lineage_id, time, platform, source, compiler_pid, compiler_guid, compiler_path, compiler_name,
       compiler_original_name, compiler_cmdline, compiler_user, parent_pid, parent_path, parent_name,
       parent_cmdline, ancestry, parent_class, output_path, output_source, artifact_written,
       artifact_sha256, executions, first_exec_time, connections, first_remote_address,
       first_remote_port, connection_origin, followup_processes, stage, link_evidence, reasons,
       telemetry_gaps
FROM compile_lineage
WHERE suspicious = 1;
