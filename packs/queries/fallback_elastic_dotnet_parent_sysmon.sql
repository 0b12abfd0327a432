-- name: fallback_elastic_dotnet_parent_sysmon
-- description: Extension-free fallback, Elastic "Suspicious .NET Code Compilation" over Sysmon event 1
--   in windows_events: csc.exe or vbc.exe whose ParentImage is wscript, mshta, cscript, wmic,
--   svchost, rundll32, cmstp or regsvr32. Sysmon carries the parent in the event, so no join is needed.
-- platform: windows
-- interval: 300
-- min_osquery_version: 5.4.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1059.005, T1218
-- false_positives: Developer automation or admin scripts run through a script host, enterprise apps
--   that compile dynamically from a service (svchost), security test tools.
-- tuning: Exclude a known script by parent_cmdline in the SIEM; keep Sysmon's OriginalFileName in
--   mind for renamed compilers (this rule, like Elastic's, matches the image name only).
-- requires_extension: no
-- fallback: elastic_dotnet_parent
-- flags.windows: disable_events=false enable_windows_events_publisher=true
--   enable_windows_events_subscriber=true
--   windows_event_channels=System,Application,Setup,Security,Microsoft-Windows-Sysmon/Operational
WITH starts AS (
  SELECT coalesce(CAST(strftime('%s', json_extract(data, '$.EventData.UtcTime')) AS INTEGER), time) AS time,
         CAST(json_extract(data, '$.EventData.ProcessId') AS INTEGER) AS pid,
         json_extract(data, '$.EventData.Image') AS path,
         json_extract(data, '$.EventData.CommandLine') AS cmdline,
         json_extract(data, '$.EventData.User') AS username,
         CAST(json_extract(data, '$.EventData.ParentProcessId') AS INTEGER) AS ppid,
         json_extract(data, '$.EventData.ParentImage') AS parent_path,
         json_extract(data, '$.EventData.ParentCommandLine') AS parent_cmdline
  FROM windows_events
  WHERE source = 'Microsoft-Windows-Sysmon/Operational' AND eventid = 1
),
named AS (
  SELECT *,
         lower(substr(path, length(rtrim(path, replace(path, '\', ''))) + 1)) AS name,
         lower(substr(parent_path, length(rtrim(parent_path, replace(parent_path, '\', ''))) + 1)) AS parent_name
  FROM starts
)
SELECT time, pid AS compiler_pid, path AS compiler_path, name AS compiler_name,
       cmdline AS compiler_cmdline, ppid AS parent_pid, parent_path, parent_name, parent_cmdline,
       username AS compiler_user, 'elastic_dotnet_parent' AS fallback
FROM named
WHERE name IN /* vocab:elastic_dotnet_compilers .exe */ ('csc.exe', 'vbc.exe')
  AND parent_name IN /* vocab:elastic_dotnet_parents .exe */ (
      'wscript.exe', 'mshta.exe', 'cscript.exe', 'wmic.exe', 'svchost.exe', 'rundll32.exe', 'cmstp.exe',
      'regsvr32.exe');
