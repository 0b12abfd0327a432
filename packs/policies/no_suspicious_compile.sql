-- name: No suspicious compile in the last hour
-- description: Fails when compile_lineage has a row with suspicious = 1 that started in the last hour (by
--   osquery's own clock, the time table): a compiler run from a script host, Office, a web server or a
--   temp folder, a renamed compiler, an MSBuild inline task. Critical, so Fleet's policy automations
--   (failing-policy webhook, Jira or Zendesk ticket) fire when a host starts failing.
-- resolution: Investigate the compile: query the host with SELECT time, compiler_name, compiler_cmdline,
--   parent_name, ancestry, output_path, stage, reasons FROM compile_lineage WHERE suspicious = 1; and follow
--   the artifact (output_path) if it ran or connected out. The policy passes again an hour after the last
--   suspicious compile; lasting exceptions belong in the correlator's exceptions file, not here.
-- platform: windows,linux,darwin
-- critical: yes
-- requires_extension: yes
SELECT 1 WHERE NOT EXISTS (
  SELECT 1 FROM compile_lineage
  WHERE suspicious = 1 AND time >= (SELECT unix_time FROM time) - 3600
);
