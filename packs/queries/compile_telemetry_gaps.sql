-- name: compile_telemetry_gaps
-- description: Telemetry blind spots: for each signal (process, file, network) that has no source
--   with status ok, the sources compile_telemetry checked, their status and the flag or config that
--   turns each on. A row means compile_lineage cannot see that part of the chain on this host.
-- platform: windows,linux,darwin
-- interval: 3000
-- min_osquery_version: 5.8.0
-- logging: differential
-- attack: T1027.004, T1562.006
-- false_positives: Quiet hosts where a source is on but has buffered no events yet (status empty);
--   hosts where a signal is deliberately off (for example no file events on Windows without Sysmon).
-- tuning: Accept known gaps per host group in the SIEM; a gap that appears on a host that had none
--   (differential logging shows it as added) can mean telemetry was turned off.
-- requires_extension: yes
-- flags.windows:
-- flags.linux:
-- flags.darwin:
SELECT platform, signal,
       group_concat(source_table || ':' || status, ';') AS sources,
       group_concat(CASE WHEN status <> 'ok' AND enable_hint <> '' THEN enable_hint END, '; ') AS enable_hints,
       sum(events) AS events
FROM compile_telemetry
GROUP BY platform, signal
HAVING sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) = 0;
