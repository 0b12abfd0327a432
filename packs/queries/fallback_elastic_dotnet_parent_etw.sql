-- name: fallback_elastic_dotnet_parent_etw
-- description: Extension-free fallback, Elastic "Suspicious .NET Code Compilation": csc.exe or vbc.exe
--   started by wscript, mshta, cscript, wmic, svchost, rundll32, cmstp or regsvr32, from ETW process
--   starts. The parent comes from the same run's ProcessStart events, or from processes when it
--   started before the run and is still running.
-- platform: windows
-- interval: 300
-- min_osquery_version: 5.8.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1059.005, T1218
-- false_positives: Developer automation or admin scripts run through a script host, enterprise apps
--   that compile dynamically from a service (svchost), security test tools.
-- tuning: Exclude a known script by parent_cmdline in the SIEM; do not drop svchost.exe entirely,
--   it is also how WMI and scheduled-task launches appear.
-- requires_extension: no
-- fallback: elastic_dotnet_parent
-- flags.windows: disable_events=false enable_process_etw_events=true
WITH starts AS MATERIALIZED (
  SELECT time, pid, ppid, path, cmdline, username,
         lower(substr(path, length(rtrim(path, replace(path, '\', ''))) + 1)) AS name
  FROM process_etw_events
  WHERE type = 'ProcessStart'
),
compilers AS MATERIALIZED (
  SELECT * FROM starts WHERE name IN ('csc.exe', 'vbc.exe')
),
known AS MATERIALIZED (
  SELECT time, pid, path, cmdline, name FROM starts
  UNION ALL
  SELECT start_time, pid, path, cmdline, lower(name) FROM processes
  WHERE EXISTS (SELECT 1 FROM compilers) AND pid NOT IN (SELECT pid FROM starts)
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, p.path AS parent_path,
       p.name AS parent_name, p.cmdline AS parent_cmdline, c.username AS compiler_user,
       'elastic_dotnet_parent' AS fallback
FROM compilers c
JOIN known p ON p.pid = c.ppid
  AND p.time = (SELECT max(k.time) FROM known k WHERE k.pid = c.ppid AND k.time <= c.time)
WHERE p.name IN ('wscript.exe', 'mshta.exe', 'cscript.exe', 'wmic.exe', 'svchost.exe',
                 'rundll32.exe', 'cmstp.exe', 'regsvr32.exe');
