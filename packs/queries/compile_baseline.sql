-- name: compile_baseline
-- description: Every compile the extension saw, suspicious or not, for a per-host baseline of
--   which compilers run, under which parents and users, and where they write.
-- platform: windows,linux,darwin
-- interval: 1800
-- min_osquery_version: 5.8.0
-- logging: differential_ignore_removals
-- attack: T1027.004
-- false_positives: Not an alert: most rows are normal builds. Use it to learn what is normal per host
--   and to spot the first compiler ever seen on a server.
-- tuning: Lower the interval on hosts that compile rarely; on build farms consider not scheduling it
--   (every build is a row) or aggregate by compiler_name and parent_name in the SIEM.
-- requires_extension: yes
-- flags.windows: enable_process_etw_events=true
-- flags.linux: disable_events=false disable_audit=false audit_allow_config=true
--   audit_allow_process_events=true
-- flags.darwin: disable_events=false disable_endpointsecurity=false
SELECT lineage_id, time, platform, source, compiler_path, compiler_name, compiler_user,
       parent_path, parent_name, parent_class, ancestry, output_path, stage, suspicious, reasons,
       telemetry_gaps
FROM compile_lineage;
