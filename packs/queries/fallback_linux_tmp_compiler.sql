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
  SELECT * FROM starts
  WHERE (name IN ('cc', 'c++', 'c89', 'c99', 'gcc', 'g++', 'clang', 'clang++', 'tcc')
         OR name GLOB '*-gcc' OR name GLOB '*-g++' OR name GLOB 'gcc-[0-9]*' OR name GLOB 'g++-[0-9]*'
         OR name GLOB '*-gcc-[0-9]*' OR name GLOB '*-g++-[0-9]*' OR name GLOB 'clang-[0-9]*'
         OR name GLOB 'clang++-[0-9]*')
    AND (path GLOB '/tmp/*' OR path GLOB '/dev/shm/*' OR path GLOB '/var/tmp/*'
         OR cwd = '/tmp' OR cwd = '/dev/shm' OR cwd = '/var/tmp'
         OR cwd GLOB '/tmp/*' OR cwd GLOB '/dev/shm/*' OR cwd GLOB '/var/tmp/*'
         OR cmdline GLOB '*[ =]/tmp/*' OR cmdline GLOB '*[ =]/dev/shm/*' OR cmdline GLOB '*[ =]/var/tmp/*')
),
known AS MATERIALIZED (
  SELECT time, pid, path, cmdline, name FROM starts
  UNION ALL
  SELECT start_time, pid, path, cmdline, name FROM processes
  WHERE EXISTS (SELECT 1 FROM compilers) AND pid NOT IN (SELECT pid FROM starts)
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, p.path AS parent_path,
       p.name AS parent_name, p.cmdline AS parent_cmdline,
       coalesce(u.username, CAST(c.uid AS TEXT)) AS compiler_user, 'linux_tmp_compiler' AS fallback
FROM compilers c
LEFT JOIN known p ON p.pid = c.ppid
  AND p.time = (SELECT max(k.time) FROM known k WHERE k.pid = c.ppid AND k.time <= c.time)
LEFT JOIN users u ON u.uid = c.uid;
