-- name: Compile-lineage telemetry ready
-- description: Passes when compile_telemetry reports, for each of the process, file and network signals, a
--   source with status ok on this host (osquery has the table, its subscriber is on, and it holds events),
--   so compile_lineage can follow a compile from its start to the written file and the network. Fails when
--   a signal has no source ok: compile_lineage would then miss that part of the chain.
-- resolution: Query the host with SELECT signal, source_table, status, enable_hint FROM compile_telemetry
--   WHERE status != 'ok'; and turn on one source for each signal that has none ok (set the flags through
--   agent_options.command_line_flags; packs/fleet/agent-options.yml has them per platform).
--   {telemetry_flags}
-- platform: windows,linux,darwin
-- critical: no
-- requires_extension: yes
SELECT 1 WHERE (
  SELECT COUNT(DISTINCT signal) FROM compile_telemetry
  WHERE status = 'ok' AND signal IN ('process', 'file', 'network')
) = 3;
