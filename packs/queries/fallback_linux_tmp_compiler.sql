-- name: fallback_linux_tmp_compiler
-- description: Extension-free fallback for Linux in the direction of MITRE AN1382: a C compiler driver
--   (gcc, g++, cc, c89, c99, clang, tcc and versioned or cross names) whose binary, working directory
--   or command-line source/output sits in /tmp, /dev/shm or /var/tmp, from audit process_events.
-- platform: linux
-- interval: 300
-- min_osquery_version: 5.0.0
-- logging: differential_ignore_removals
-- attack: T1027.004
-- false_positives: Developers compiling scratch files in /tmp, configure scripts or package builds
--   that build in /var/tmp (rpmbuild, dkms, pip wheels with C extensions under /tmp/pip-*).
-- tuning: Exclude known build trees by compiler_cmdline prefix (for example /tmp/pip-, /var/tmp/portage)
--   in a copy of this query or in the SIEM; /dev/shm builds are rare and worth keeping.
-- requires_extension: no
-- fallback: linux_tmp_compiler
-- flags.linux: disable_events=false disable_audit=false audit_allow_config=true
--   audit_allow_process_events=true
WITH starts AS MATERIALIZED (
  SELECT time, pid, parent AS ppid, path, cmdline, cwd, uid,
         substr(path, length(rtrim(path, replace(path, '/', ''))) + 1) AS name
  FROM process_events
  WHERE syscall IN ('execve', 'execveat')
),
compilers AS MATERIALIZED (
  SELECT c.*, s.path AS s_path, s.name AS s_name, s.cmdline AS s_cmdline
  FROM starts c
  LEFT JOIN starts s ON s.pid = c.ppid
    AND s.time = (SELECT max(x.time) FROM starts x WHERE x.pid = c.ppid AND x.time <= c.time)
  WHERE (c.name IN /* vocab:posix_cc_compilers */ (
      'cc', 'c++', 'c89', 'c99', 'gcc', 'g++', 'clang', 'clang++', 'tcc')
         OR c.name GLOB '*-gcc' OR c.name GLOB '*-g++' OR c.name GLOB 'gcc-[0-9]*' OR c.name GLOB 'g++-[0-9]*'
         OR c.name GLOB '*-gcc-[0-9]*' OR c.name GLOB '*-g++-[0-9]*' OR c.name GLOB 'clang-[0-9]*'
         OR c.name GLOB 'clang++-[0-9]*')
    AND (c.path GLOB '/tmp/*' OR c.path GLOB '/dev/shm/*' OR c.path GLOB '/var/tmp/*'
         OR c.cwd IN ('/tmp', '/dev/shm', '/var/tmp')
         OR c.cwd GLOB '/tmp/*' OR c.cwd GLOB '/dev/shm/*' OR c.cwd GLOB '/var/tmp/*'
         OR c.cmdline GLOB '*[ =]/tmp/*' OR c.cmdline GLOB '*[ =]/dev/shm/*' OR c.cmdline GLOB '*[ =]/var/tmp/*')
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, coalesce(c.s_path, pr.path) AS parent_path,
       coalesce(c.s_name, pr.name) AS parent_name, coalesce(c.s_cmdline, pr.cmdline) AS parent_cmdline,
       coalesce(u.username, CAST(c.uid AS TEXT)) AS compiler_user, 'linux_tmp_compiler' AS fallback
FROM compilers c
LEFT JOIN processes pr ON c.s_name IS NULL AND pr.pid = c.ppid AND pr.start_time <= c.time
LEFT JOIN users u ON u.uid = c.uid;
