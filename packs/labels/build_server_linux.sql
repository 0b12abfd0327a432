-- role: build_server
-- platform: linux
-- description: Linux CI build agents: hosts where a CI service runs jobs.
-- evidence: The agent process running: Runner.Listener (GitHub Actions), Agent.Listener (Azure Pipelines),
--   gitlab-runner, buildkite-agent, or java with agent.jar/remoting.jar (Jenkins agent) or
--   jetbrains.buildServer.agent (TeamCity); the service account the packages create (gitlab-runner by the
--   GitLab Runner deb/rpm, buildkite-agent by Buildkite's, jenkins by the Jenkins package); or the
--   installed agent: /usr/bin/gitlab-runner, /usr/bin/buildkite-agent, /etc/buildkite-agent/buildkite-agent.cfg,
--   /usr/share/java/jenkins.war, /var/lib/jenkins, /opt/buildAgent/conf/buildAgent.properties (TeamCity),
--   or a runner unpacked where the vendors' instructions put it (/home/<user>/actions-runner/bin/Runner.Listener,
--   /home/<user>/myagent/bin/Agent.Listener).
-- false_positives: A developer laptop with gitlab-runner installed to test pipelines locally; a host where
--   the Jenkins package was installed and never used.
-- tuning: Add your runner's install path or service account in a copy of this file.
SELECT 1 FROM processes
WHERE name IN ('Runner.Listener', 'Agent.Listener', 'gitlab-runner', 'buildkite-agent')
   OR (name = 'java'
       AND (cmdline LIKE '%agent.jar%' OR cmdline LIKE '%remoting.jar%' OR cmdline LIKE '%jetbrains.buildServer.agent%'))
UNION ALL
SELECT 1 FROM users WHERE username IN ('gitlab-runner', 'buildkite-agent', 'jenkins')
UNION ALL
SELECT 1 FROM file
WHERE path IN ('/usr/bin/gitlab-runner', '/usr/bin/buildkite-agent', '/etc/buildkite-agent/buildkite-agent.cfg',
               '/usr/share/java/jenkins.war', '/var/lib/jenkins', '/opt/buildAgent/conf/buildAgent.properties')
UNION ALL
SELECT 1 FROM file WHERE path LIKE '/home/%/actions-runner/bin/Runner.Listener'
UNION ALL
SELECT 1 FROM file WHERE path LIKE '/home/%/myagent/bin/Agent.Listener';
