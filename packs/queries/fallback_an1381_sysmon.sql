-- name: fallback_an1381_sysmon
-- description: Extension-free fallback in the direction of MITRE AN1381 over Sysmon event 1 in
--   windows_events: csc.exe, ilasm.exe or msbuild.exe started by a user (not SYSTEM, LOCAL SERVICE or
--   NETWORK SERVICE) outside a development environment. Development environment = the compiler or its
--   parent runs from Visual Studio, the .NET SDK or JetBrains, or one of the three nearest ancestors is
--   an IDE, the .NET CLI or a CI agent. The parent comes from the event itself; older ancestors from
--   the same run's Sysmon events (by ProcessGuid, else by pid) or, when still running, from processes. The follow-up that AN1381
--   asks for (execution or network of the written binary, Sysmon 11 and 3) is what compile_lineage adds.
-- platform: windows
-- interval: 300
-- min_osquery_version: 5.4.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1127.001
-- false_positives: PowerShell Add-Type in admin or vendor scripts run by a user, developers building
--   with the .NET Framework MSBuild from a plain cmd.exe, build tools not in the list.
-- tuning: Add your IDEs, build agents and script launchers to the dev name list or path patterns in a
--   copy of this query; exclude specific parent_cmdline values in the SIEM.
-- requires_extension: no
-- fallback: mitre_an1381
-- flags.windows: disable_events=false enable_windows_events_publisher=true
--   enable_windows_events_subscriber=true
--   windows_event_channels=System,Application,Setup,Security,Microsoft-Windows-Sysmon/Operational
WITH RECURSIVE
named AS MATERIALIZED (
  SELECT coalesce(CAST(strftime('%s', json_extract(data, '$.EventData.UtcTime')) AS INTEGER), time) AS time,
         CAST(json_extract(data, '$.EventData.ProcessId') AS INTEGER) AS pid,
         CAST(json_extract(data, '$.EventData.ParentProcessId') AS INTEGER) AS ppid,
         json_extract(data, '$.EventData.ProcessGuid') AS guid,
         json_extract(data, '$.EventData.ParentProcessGuid') AS pguid,
         path, lower(substr(path, length(rtrim(path, replace(path, '\', ''))) + 1)) AS name,
         CASE WHEN lower(path) LIKE '%\csc.exe' OR lower(path) LIKE '%\ilasm.exe'
                   OR lower(path) LIKE '%\msbuild.exe' THEN data END AS compiler_data
  FROM (SELECT time, data, json_extract(data, '$.EventData.Image') AS path
        FROM windows_events
        WHERE source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 1)
),
compilers AS MATERIALIZED (
  SELECT *,
         lower(substr(parent_path, length(rtrim(parent_path, replace(parent_path, '\', ''))) + 1)) AS parent_name
  FROM (SELECT coalesce(guid, '') || '|' || coalesce(pid, '') || '|' || time || '|' || coalesce(path, '') AS k,
               time, pid, ppid, guid, pguid, path, name,
               json_extract(compiler_data, '$.EventData.CommandLine') AS cmdline,
               json_extract(compiler_data, '$.EventData.User') AS username,
               json_extract(compiler_data, '$.EventData.ParentImage') AS parent_path,
               json_extract(compiler_data, '$.EventData.ParentCommandLine') AS parent_cmdline
        FROM named
        WHERE name IN /* vocab:an1381_compilers .exe */ ('csc.exe', 'ilasm.exe', 'msbuild.exe'))
  WHERE upper(coalesce(username, '')) NOT IN ('SYSTEM', 'LOCAL SERVICE', 'NETWORK SERVICE',
                                              'S-1-5-18', 'S-1-5-19', 'S-1-5-20')
    AND upper(coalesce(username, '')) NOT LIKE 'NT AUTHORITY\%'
    AND lower(path) NOT LIKE '%\microsoft visual studio\%'
    AND lower(path) NOT LIKE '%\dotnet\sdk\%'
    AND lower(path) NOT LIKE '%\jetbrains\%'
),
ancestry(k, a_ppid, a_pguid, a_time, a_name, a_path, depth) AS (
  SELECT k, ppid, pguid, time, name, path, 0 FROM compilers
  UNION ALL
  SELECT a.k, coalesce(sg.ppid, sp.ppid, pr.parent), coalesce(sg.pguid, sp.pguid),
         coalesce(sg.time, sp.time, pr.start_time), coalesce(sg.name, sp.name, lower(pr.name)),
         coalesce(sg.path, sp.path, pr.path), a.depth + 1
  FROM ancestry a
  LEFT JOIN named sg ON sg.guid = a.a_pguid
  LEFT JOIN named sp ON sg.guid IS NULL AND sp.pid = a.a_ppid
    AND sp.time = (SELECT max(x.time) FROM named x WHERE x.pid = a.a_ppid AND x.time <= a.a_time)
  LEFT JOIN processes pr ON sg.guid IS NULL AND sp.pid IS NULL AND pr.pid = a.a_ppid
    AND pr.start_time <= a.a_time
  WHERE a.depth < 3 AND (sg.guid IS NOT NULL OR sp.pid IS NOT NULL OR pr.pid IS NOT NULL)
),
lineage AS MATERIALIZED (
  SELECT k,
         max(CASE WHEN depth >= 1 AND (a_name IN /* vocab:windows_dev_environment .exe */ (
             'devenv.exe', 'dotnet.exe', 'vbcscompiler.exe', 'servicehub.host.clr.x86.exe',
             'rider64.exe', 'code.exe', 'vstest.console.exe', 'testhost.exe', 'agent.worker.exe',
             'agent.listener.exe', 'runner.worker.exe', 'runner.listener.exe', 'gitlab-runner.exe',
             'buildagent.exe')
                                       OR (depth = 1 AND (lower(a_path) LIKE '%\microsoft visual studio\%'
                                                          OR lower(a_path) LIKE '%\dotnet\sdk\%'
                                                          OR lower(a_path) LIKE '%\jetbrains\%'))) THEN 1
                  ELSE 0 END) AS dev
  FROM ancestry
  GROUP BY k
)
SELECT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, c.parent_path, c.parent_name,
       c.parent_cmdline, c.username AS compiler_user, 'mitre_an1381' AS fallback
FROM compilers c
JOIN lineage l ON l.k = c.k
WHERE l.dev = 0
  AND lower(coalesce(c.parent_path, '')) NOT LIKE '%\microsoft visual studio\%'
  AND lower(coalesce(c.parent_path, '')) NOT LIKE '%\dotnet\sdk\%'
  AND lower(coalesce(c.parent_path, '')) NOT LIKE '%\jetbrains\%'
  AND coalesce(c.parent_name, '') NOT IN /* vocab:windows_dev_environment .exe */ (
      'devenv.exe', 'dotnet.exe', 'vbcscompiler.exe', 'servicehub.host.clr.x86.exe', 'rider64.exe',
      'code.exe', 'vstest.console.exe', 'testhost.exe', 'agent.worker.exe', 'agent.listener.exe',
      'runner.worker.exe', 'runner.listener.exe', 'gitlab-runner.exe', 'buildagent.exe');
