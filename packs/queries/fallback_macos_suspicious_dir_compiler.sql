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
  SELECT c.*, s.path AS s_path, s.name AS s_name, s.cmdline AS s_cmdline
  FROM starts c
  LEFT JOIN starts s ON s.pid = c.ppid
    AND s.time = (SELECT max(x.time) FROM starts x WHERE x.pid = c.ppid AND x.time <= c.time)
  WHERE (c.name IN /* vocab:darwin_fallback_compilers */ (
      'cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'swiftc', 'mcs', 'osacompile')
         OR c.name GLOB 'gcc-[0-9]*' OR c.name GLOB 'g++-[0-9]*')
    AND (c.cwd IN ('/tmp', '/private/tmp', '/private/var/tmp', '/Users/Shared')
         OR c.cwd GLOB '/tmp/*' OR c.cwd GLOB '/private/tmp/*' OR c.cwd GLOB '/private/var/tmp/*'
         OR c.cwd GLOB '/Users/Shared/*' OR c.cwd GLOB '/Users/*/Downloads' OR c.cwd GLOB '/Users/*/Downloads/*'
         OR c.cmdline GLOB '*[ =]/tmp/*' OR c.cmdline GLOB '*[ =]/private/tmp/*'
         OR c.cmdline GLOB '*[ =]/private/var/tmp/*' OR c.cmdline GLOB '*[ =]/Users/Shared/*'
         OR c.cmdline GLOB '*[ =]/Users/*/Downloads/*')
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, coalesce(c.s_path, pr.path) AS parent_path,
       coalesce(c.s_name, pr.name) AS parent_name, coalesce(c.s_cmdline, pr.cmdline) AS parent_cmdline,
       c.username AS compiler_user, 'macos_suspicious_dir_compiler' AS fallback
FROM compilers c
LEFT JOIN processes pr ON c.s_name IS NULL AND pr.pid = c.ppid AND pr.start_time <= c.time;
