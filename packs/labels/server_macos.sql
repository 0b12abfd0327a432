-- role: server
-- platform: darwin
-- description: Macs that serve the network: a web or database server listening beyond loopback (macOS has no
--   server edition since macOS Server was discontinued).
-- evidence: nginx, httpd, caddy, mysqld, postgres, mongod or redis-server listening on a non-loopback
--   address.
-- false_positives: A developer's Mac running a database bound to all addresses for a container or a phone
--   on the same network.
-- tuning: Add in-house daemons to the process list; bind local databases to 127.0.0.1 to keep developer
--   Macs out.
SELECT 1 FROM listening_ports AS l JOIN processes AS p USING (pid)
WHERE l.address NOT IN ('127.0.0.1', '::1')
  AND p.name IN ('nginx', 'httpd', 'caddy', 'mysqld', 'postgres', 'mongod', 'redis-server');
