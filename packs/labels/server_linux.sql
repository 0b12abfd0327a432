-- role: server
-- platform: linux
-- description: Linux servers: a host without a graphical desktop (the Linux counterpart of a server
--   edition), or a web or database server listening beyond loopback.
-- evidence: No display manager or desktop session running (gdm, gdm3, lightdm, sddm, gnome-shell, Xorg,
--   Xwayland, plasmashell, xfce4-session) and none installed (/usr/sbin/gdm3, /usr/sbin/gdm,
--   /usr/sbin/lightdm, /usr/bin/sddm, /usr/bin/gnome-shell, /usr/bin/plasmashell, /usr/bin/xfce4-session);
--   or nginx, apache2, httpd, mysqld, mariadbd, postgres, mongod or redis-server listening on a
--   non-loopback address.
-- false_positives: A headless developer VM or WSL-like environment lands here; a desktop running a
--   database that listens on all addresses lands here too.
-- tuning: Add your desktop environment's session process or binary to both lists if it is missing (then
--   its hosts count as workstations); add in-house daemons to the listening list.
SELECT 1
WHERE NOT EXISTS (
    SELECT 1 FROM processes
    WHERE name IN ('gdm', 'gdm3', 'lightdm', 'sddm', 'gnome-shell', 'Xorg', 'Xwayland', 'plasmashell',
                   'xfce4-session')
  )
  AND NOT EXISTS (
    SELECT 1 FROM file
    WHERE path IN ('/usr/sbin/gdm3', '/usr/sbin/gdm', '/usr/sbin/lightdm', '/usr/bin/sddm', '/usr/bin/gnome-shell',
                   '/usr/bin/plasmashell', '/usr/bin/xfce4-session')
  )
UNION ALL
SELECT 1 FROM listening_ports AS l JOIN processes AS p USING (pid)
WHERE l.address NOT IN ('127.0.0.1', '::1')
  AND p.name IN ('nginx', 'apache2', 'httpd', 'mysqld', 'mariadbd', 'postgres', 'mongod', 'redis-server');
