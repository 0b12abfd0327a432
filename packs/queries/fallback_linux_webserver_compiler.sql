-- name: fallback_linux_webserver_compiler
-- description: Extension-free fallback for Linux: a C compiler driver (gcc, g++, cc, c89, c99, clang,
--   tcc and versioned or cross names) started by a web server, an application server or a web user,
--   from audit process_events. Web server = one of the three nearest ancestors is nginx, apache2,
--   httpd, lighttpd, caddy, php-fpm, php-cgi, uwsgi or gunicorn, or the compiler runs as www-data,
--   apache, nginx, http, wwwrun or lighttpd (web shell -> sh -> gcc, the Rocke and Sea Turtle pattern).
-- platform: linux
-- interval: 300
-- min_osquery_version: 5.0.0
-- logging: differential_ignore_removals
-- attack: T1027.004, T1505.003
-- false_positives: Web applications that build native extensions at request time (rare), PHP or
--   Python package installs run through a web admin panel.
-- tuning: Exclude a known build hook by parent_cmdline; if your app servers run under another user,
--   add it to the user list in a copy of this query.
-- requires_extension: no
-- fallback: linux_webserver_compiler
-- flags.linux: disable_events=false disable_audit=false audit_allow_config=true
--   audit_allow_process_events=true
WITH RECURSIVE
starts AS MATERIALIZED (
  SELECT time, pid, parent AS ppid, path, cmdline, cwd, uid,
         substr(path, length(rtrim(path, replace(path, '/', ''))) + 1) AS name
  FROM process_events
  WHERE syscall IN ('execve', 'execveat')
),
compilers AS MATERIALIZED (
  SELECT * FROM starts
  WHERE name IN /* vocab:posix_cc_compilers */ (
      'cc', 'c++', 'c89', 'c99', 'gcc', 'g++', 'clang', 'clang++', 'tcc')
     OR name GLOB '*-gcc' OR name GLOB '*-g++' OR name GLOB 'gcc-[0-9]*' OR name GLOB 'g++-[0-9]*'
     OR name GLOB '*-gcc-[0-9]*' OR name GLOB '*-g++-[0-9]*' OR name GLOB 'clang-[0-9]*'
     OR name GLOB 'clang++-[0-9]*'
),
ancestry(c_pid, c_time, a_pid, a_ppid, a_time, a_name, a_path, a_cmdline, depth) AS (
  SELECT pid, time, pid, ppid, time, name, path, cmdline, 0 FROM compilers
  UNION ALL
  SELECT a.c_pid, a.c_time, a.a_ppid, coalesce(s.ppid, pr.parent), coalesce(s.time, pr.start_time),
         coalesce(s.name, pr.name), coalesce(s.path, pr.path), coalesce(s.cmdline, pr.cmdline), a.depth + 1
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
         max(CASE WHEN depth >= 1 AND (a_name IN /* vocab:posix_web_servers */ (
             'nginx', 'apache2', 'httpd', 'lighttpd', 'caddy', 'uwsgi', 'gunicorn')
                                       OR a_name GLOB 'php-fpm*' OR a_name GLOB 'php-cgi*') THEN 1
                  ELSE 0 END) AS web
  FROM ancestry
  GROUP BY c_pid, c_time
)
SELECT DISTINCT c.time, c.pid AS compiler_pid, c.path AS compiler_path, c.name AS compiler_name,
       c.cmdline AS compiler_cmdline, c.ppid AS parent_pid, l.parent_path, l.parent_name,
       l.parent_cmdline, coalesce(u.username, CAST(c.uid AS TEXT)) AS compiler_user,
       'linux_webserver_compiler' AS fallback
FROM compilers c
JOIN lineage l ON l.c_pid = c.pid AND l.c_time = c.time
LEFT JOIN users u ON u.uid = c.uid
WHERE l.web = 1
   OR u.username IN /* vocab:posix_web_server_users */ (
       'www-data', 'apache', 'nginx', 'http', 'wwwrun', 'lighttpd');
