-- role: build_server
-- platform: darwin
-- description: macOS CI build agents: Macs where a CI service runs jobs (Xcode builds, iOS pipelines).
-- evidence: The agent process running (Runner.Listener, Agent.Listener, gitlab-runner, buildkite-agent, java
--   with agent.jar/remoting.jar or jetbrains.buildServer.agent); its launchd job (actions.runner.* from the
--   GitHub runner's svc.sh install, vsts.agent.* from Azure Pipelines' svc.sh, gitlab-runner from
--   gitlab-runner install, com.buildkite.* from Buildkite's Homebrew service); or the installed agent
--   (/Users/<user>/actions-runner/bin/Runner.Listener, /Users/<user>/myagent/bin/Agent.Listener,
--   gitlab-runner or buildkite-agent in /opt/homebrew/bin or /usr/local/bin).
-- false_positives: A developer's Mac with gitlab-runner from Homebrew for local pipeline tests.
-- tuning: Add your runner's launchd label or install path in a copy of this file.
SELECT 1 FROM processes
WHERE name IN ('Runner.Listener', 'Agent.Listener', 'gitlab-runner', 'buildkite-agent')
   OR (name = 'java'
       AND (cmdline LIKE '%agent.jar%' OR cmdline LIKE '%remoting.jar%' OR cmdline LIKE '%jetbrains.buildServer.agent%'))
UNION ALL
SELECT 1 FROM launchd
WHERE label LIKE 'actions.runner.%' OR label LIKE 'vsts.agent.%' OR label = 'gitlab-runner' OR label LIKE 'com.buildkite.%'
UNION ALL
SELECT 1 FROM file
WHERE path IN ('/opt/homebrew/bin/gitlab-runner', '/usr/local/bin/gitlab-runner', '/opt/homebrew/bin/buildkite-agent',
               '/usr/local/bin/buildkite-agent')
UNION ALL
SELECT 1 FROM file WHERE path LIKE '/Users/%/actions-runner/bin/Runner.Listener'
UNION ALL
SELECT 1 FROM file WHERE path LIKE '/Users/%/myagent/bin/Agent.Listener';
