-- role: server
-- platform: windows
-- description: Windows servers: a Windows Server edition, or a host running server roles (IIS, SQL Server,
--   or a web or database server listening beyond loopback).
-- evidence: os_version.name containing "Windows Server" (for example "Microsoft Windows Server 2022
--   Datacenter"); the IIS service W3SVC or a SQL Server instance service (MSSQLSERVER, MSSQL$<instance>)
--   running; or w3wp.exe, httpd.exe, nginx.exe, sqlservr.exe, mysqld.exe or postgres.exe listening on a
--   non-loopback address.
-- false_positives: A developer workstation with IIS or SQL Server Express running for local testing lands
--   here (server roles come before developer tools); Windows Server used as a desktop.
-- tuning: To keep developer machines with local IIS or SQL Server out, drop the service branch in a copy of
--   this file (the listening branch still catches servers that serve the network).
SELECT 1 FROM os_version WHERE name LIKE '%Windows Server%'
UNION ALL
SELECT 1 FROM services
WHERE status = 'RUNNING' AND (name IN ('W3SVC', 'MSSQLSERVER') OR name LIKE 'MSSQL$%')
UNION ALL
SELECT 1 FROM listening_ports AS l JOIN processes AS p USING (pid)
WHERE l.address NOT IN ('127.0.0.1', '::1')
  AND lower(p.name) IN ('w3wp.exe', 'httpd.exe', 'nginx.exe', 'sqlservr.exe', 'mysqld.exe', 'postgres.exe');
