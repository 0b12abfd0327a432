-- name: fallback_an1381_etw
-- description: Extension-free fallback in the direction of MITRE AN1381: csc.exe, ilasm.exe or
--   msbuild.exe started by a user (not SYSTEM, LOCAL SERVICE or NETWORK SERVICE) outside a development
--   environment, from ETW process starts. Development environment = the compiler or its parent runs
--   from Visual Studio, the .NET SDK or JetBrains, or one of the three nearest ancestors is an IDE,
--   the .NET CLI or a CI agent. Ancestors come from the same run's ProcessStart events or, when they
--   started earlier and still run, from processes. AN1381's follow-up (execution or network of the
--   written binary) needs file and network telemetry that stock osquery lacks on Windows: that part is
--   what compile_lineage adds.
-- platform: windows
-- interval: 300
-- min_osquery_version: 5.8.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1127.001
-- false_positives: PowerShell Add-Type in admin or vendor scripts run by a user, developers building
--   with the .NET Framework MSBuild from a plain cmd.exe, build tools not in the list.
-- tuning: Add your IDEs, build agents and script launchers to the dev name list or path patterns in a
--   copy of this query; exclude specific parent_cmdline values in the SIEM.
-- requires_extension: no
-- fallback: mitre_an1381
-- flags.windows: disable_events=false enable_process_etw_events=true
WITH RECURSIVE
starts AS MATERIALIZED (
  SELECT time, pid, ppid, path, cmdline, username,
         lower(substr(path, length(rtrim(path, replace(path, '\', ''))) + 1)) AS name
  FROM process_etw_events
  WHERE type = 'ProcessStart'
),
compilers AS MATERIALIZED (
  SELECT * FROM starts
  WHERE name IN /* vocab:an1381_compilers .exe */ ('csc.exe', 'ilasm.exe', 'msbuild.exe')
    AND upper(coalesce(username, '')) NOT IN ('SYSTEM', 'LOCAL SERVICE', 'NETWORK SERVICE',
                                              'S-1-5-18', 'S-1-5-19', 'S-1-5-20')
    AND upper(coalesce(username, '')) NOT LIKE 'NT AUTHORITY\%'
),
ancestry(c_pid, c_time, a_pid, a_ppid, a_time, a_name, a_path, a_cmdline, depth) AS (
  SELECT pid, time, pid, ppid, time, name, path, cmdline, 0 FROM compilers
  UNION ALL
  SELECT a.c_pid, a.c_time, a.a_ppid, coalesce(s.ppid, pr.parent), coalesce(s.time, pr.start_time),
         coalesce(s.name, lower(pr.name)), coalesce(s.path, pr.path), coalesce(s.cmdline, pr.cmdline),
         a.depth + 1
  FROM ancestry a
  LEFT JOIN starts s ON s.pid = a.a_ppid
    AND s.time = (SELECT max(x.time) FROM starts x WHERE x.pid = a.a_ppid AND x.time <= a.a_time)
  LEFT JOIN processes pr ON s.pid IS NULL AND pr.pid = a.a_ppid AND pr.start_time <= a.a_time
  WHERE a.depth < 3 AND a.a_ppid > 0 AND (s.pid IS NOT NULL OR pr.pid IS NOT NULL)
),
lineage AS MATERIALIZED (
  SELECT c_pid, c_time,
         max(CASE WHEN depth = 1 THEN a_path END) AS parent_path,
         max(CASE WHEN depth = 1 THEN a_name END) AS parent_name,
         max(CASE WHEN depth = 1 THEN a_cmdline END) AS parent_cmdline,
         max(CASE WHEN (depth = 0 OR depth = 1) AND (lower(a_path) LIKE '%\microsoft visual studio\%'
                                                     OR lower(a_path) LIKE '%\dotnet\sdk\%'
                                                     OR lower(a_path) LIKE '%\jetbrains\%') THEN 1
                  WHEN depth >= 1 AND a_name IN /* vocab:windows_dev_environment .exe */ (
                      'devenv.exe', 'dotnet.exe', 'vbcscompiler.exe', 'servicehub.host.clr.x86.exe',
                      'rider64.exe', 'code.exe', 'vstest.console.exe', 'testhost.exe',
                      'agent.worker.exe', 'agent.listener.exe', 'runner.worker.exe',
                      'runner.listener.exe', 'gitlab-runner.exe', 'buildagent.exe') THEN 1
                  ELSE 0 END) AS dev
  FROM ancestry
  GROUP BY c_pid, c_time
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, l.parent_path, l.parent_name,
       l.parent_cmdline, c.username AS compiler_user, 'mitre_an1381' AS fallback
FROM compilers c
JOIN lineage l ON l.c_pid = c.pid AND l.c_time = c.time
WHERE l.dev = 0;
