-- name: fallback_macos_suspicious_dir_compiler
-- description: Extension-free fallback for macOS in the direction of MITRE AN1383: a compiler (clang,
--   gcc, cc, swiftc, Mono mcs, osacompile) started from, or with a source or output in, /tmp,
--   /private/tmp, /private/var/tmp, /Users/Shared or a user's Downloads folder, from EndpointSecurity
--   exec events. The parent comes from the same run's exec events or, when still running, processes.
-- platform: darwin
-- interval: 300
-- min_osquery_version: 5.0.0
-- logging: differential_ignore_removals
-- attack: T1027.004
-- false_positives: Developers compiling scratch files in /tmp or a project unpacked in Downloads,
--   Homebrew or pip builds that compile in /private/tmp.
-- tuning: Exclude build trees by compiler_cmdline prefix (for example /private/tmp/pip-,
--   /private/tmp/homebrew) in a copy of this query or in the SIEM.
-- requires_extension: no
-- fallback: macos_suspicious_dir_compiler
-- flags.darwin: disable_events=false disable_endpointsecurity=false
WITH starts AS MATERIALIZED (
  SELECT time, pid, parent AS ppid, path, cmdline, cwd, username,
         substr(path, length(rtrim(path, replace(path, '/', ''))) + 1) AS name
  FROM es_process_events
  WHERE event_type = 'exec'
),
compilers AS MATERIALIZED (
  SELECT * FROM starts
  WHERE (name IN ('cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'swiftc', 'mcs', 'osacompile')
         OR name GLOB 'gcc-[0-9]*' OR name GLOB 'g++-[0-9]*')
    AND (cwd IN ('/tmp', '/private/tmp', '/private/var/tmp', '/Users/Shared')
         OR cwd GLOB '/tmp/*' OR cwd GLOB '/private/tmp/*' OR cwd GLOB '/private/var/tmp/*'
         OR cwd GLOB '/Users/Shared/*' OR cwd GLOB '/Users/*/Downloads' OR cwd GLOB '/Users/*/Downloads/*'
         OR cmdline GLOB '*[ =]/tmp/*' OR cmdline GLOB '*[ =]/private/tmp/*'
         OR cmdline GLOB '*[ =]/private/var/tmp/*' OR cmdline GLOB '*[ =]/Users/Shared/*'
         OR cmdline GLOB '*[ =]/Users/*/Downloads/*')
),
known AS MATERIALIZED (
  SELECT time, pid, path, cmdline, name FROM starts
  UNION ALL
  SELECT start_time, pid, path, cmdline, name FROM processes
  WHERE EXISTS (SELECT 1 FROM compilers) AND pid NOT IN (SELECT pid FROM starts)
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, p.path AS parent_path,
       p.name AS parent_name, p.cmdline AS parent_cmdline, c.username AS compiler_user,
       'macos_suspicious_dir_compiler' AS fallback
FROM compilers c
LEFT JOIN known p ON p.pid = c.ppid
  AND p.time = (SELECT max(k.time) FROM known k WHERE k.pid = c.ppid AND k.time <= c.time);
