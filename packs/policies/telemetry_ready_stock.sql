-- name: Compile-lineage telemetry ready (stock osquery)
-- description: The same check for hosts without the compile-lineage extension, from osquery's own tables:
--   passes when, for each of the process, file and network signals, an event subscriber that can feed it is
--   active and has events (osquery_events), the Sysmon channel is subscribed where Sysmon is the source
--   (osquery_flags windows_event_channels), and on Windows without Sysmon a connection is visible in
--   process_open_sockets. The fallback pack needs only the process signal; all three mean the host is
--   ready for compile_lineage. osquery_events counts a subscriber's events over all its channels, so on
--   Windows this check cannot tell Security 4688 process starts from other Security events; the
--   extension's compile_telemetry counts event ids.
-- resolution: Query the host with SELECT name, active, events FROM osquery_events WHERE type = 'subscriber';
--   and turn on one source for each signal that has none active with events (set the flags through
--   agent_options.command_line_flags; packs/fleet/agent-options.yml has them per platform).
--   {telemetry_flags}
-- platform: windows,linux,darwin
-- critical: no
-- requires_extension: no
WITH sub AS (
  SELECT name FROM osquery_events WHERE type = 'subscriber' AND active = 1 AND events > 0
),
sysmon AS (
  SELECT 1 FROM sub WHERE name = 'windows_events'
    AND EXISTS (SELECT 1 FROM osquery_flags
                WHERE name = 'windows_event_channels' AND value LIKE '%Microsoft-Windows-Sysmon/Operational%')
)
SELECT 1 FROM os_version
WHERE (platform = 'windows'
    AND EXISTS (SELECT 1 FROM sub WHERE name IN ('process_etw_events', 'windows_events'))
    AND (EXISTS (SELECT 1 FROM sysmon) OR EXISTS (SELECT 1 FROM sub WHERE name = 'ntfs_journal_events'))
    AND (EXISTS (SELECT 1 FROM sysmon) OR EXISTS (SELECT 1 FROM process_open_sockets WHERE remote_port != 0)))
  OR (platform = 'darwin'
    AND EXISTS (SELECT 1 FROM sub WHERE name IN ('es_process_events', 'process_events'))
    AND EXISTS (SELECT 1 FROM sub WHERE name IN ('es_process_file_events', 'file_events'))
    AND EXISTS (SELECT 1 FROM sub WHERE name = 'socket_events'))
  OR (platform NOT IN ('windows', 'darwin')
    AND EXISTS (SELECT 1 FROM sub WHERE name IN ('process_events', 'bpf_process_events'))
    AND EXISTS (SELECT 1 FROM sub WHERE name IN ('process_file_events', 'file_events'))
    AND EXISTS (SELECT 1 FROM sub WHERE name IN ('socket_events', 'bpf_socket_events')));
