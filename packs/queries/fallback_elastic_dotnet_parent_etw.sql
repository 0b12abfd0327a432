-- name: fallback_elastic_dotnet_parent_etw
-- description: Extension-free fallback, Elastic "Suspicious .NET Code Compilation": csc.exe or vbc.exe
--   started by wscript, mshta, cscript, wmic, svchost, rundll32, cmstp or regsvr32, from ETW process
--   starts. The parent comes from the same run's ProcessStart events, or, when it started before the
--   run and still runs, from processes (looked up by pid, only for compilers).
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
  SELECT c.*, s.path AS s_path, s.name AS s_name, s.cmdline AS s_cmdline
  FROM starts c
  LEFT JOIN starts s ON s.pid = c.ppid
    AND s.time = (SELECT max(x.time) FROM starts x WHERE x.pid = c.ppid AND x.time <= c.time)
  WHERE c.name IN /* vocab:elastic_dotnet_compilers .exe */ ('csc.exe', 'vbc.exe')
),
lineage AS (
  SELECT c.*, coalesce(c.s_path, pr.path) AS parent_path, coalesce(c.s_name, lower(pr.name)) AS parent_name,
         coalesce(c.s_cmdline, pr.cmdline) AS parent_cmdline
  FROM compilers c
  LEFT JOIN processes pr ON c.s_name IS NULL AND pr.pid = c.ppid AND pr.start_time <= c.time
)
SELECT DISTINCT time, pid AS compiler_pid, path AS compiler_path, name AS compiler_name,
       cmdline AS compiler_cmdline, ppid AS parent_pid, parent_path, parent_name, parent_cmdline,
       username AS compiler_user, 'elastic_dotnet_parent' AS fallback
FROM lineage
WHERE parent_name IN /* vocab:elastic_dotnet_parents .exe */ (
    'wscript.exe', 'mshta.exe', 'cscript.exe', 'wmic.exe', 'svchost.exe', 'rundll32.exe', 'cmstp.exe',
    'regsvr32.exe');
