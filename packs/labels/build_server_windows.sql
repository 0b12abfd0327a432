-- role: build_server
-- platform: windows
-- description: Windows CI build agents: hosts where a CI service runs jobs.
-- evidence: A CI agent service: Azure Pipelines (service vstsagent.<organization>.<pool>.<agent>, display
--   name "Azure Pipelines Agent (...)", created by config.cmd --runAsService), GitHub Actions (service
--   actions.runner.<owner>-<repo>.<runner>, display name "GitHub Actions Runner (...)"), GitLab Runner
--   (service gitlab-runner, from gitlab-runner.exe install), Buildkite (service buildkite-agent), Jenkins
--   (a winsw service jenkinsslave-* or a display name with Jenkins and agent), TeamCity (display name
--   "TeamCity Build Agent"); or the agent process running (Agent.Listener.exe, Runner.Listener.exe,
--   gitlab-runner.exe, buildkite-agent.exe, java with agent.jar/remoting.jar for Jenkins or
--   jetbrains.buildServer.agent for TeamCity); or a default work folder (C:\agent\_work,
--   C:\agents\_work, C:\actions-runner\_work, C:\GitLab-Runner\builds, C:\BuildAgent\work,
--   C:\buildkite-agent\builds, C:\Jenkins\workspace).
-- false_positives: A developer's machine with a self-hosted runner registered for testing; an agent that
--   was installed and abandoned (the service or folder stays).
-- tuning: Add your agent's service name or work folder to the lists in a copy of this file; remove the
--   folder branch if stale agent folders are common.
SELECT 1 FROM services
WHERE name LIKE 'vstsagent.%' OR name LIKE 'actions.runner.%' OR name IN ('gitlab-runner', 'buildkite-agent')
   OR name LIKE 'jenkinsslave-%' OR display_name LIKE '%Jenkins%agent%'
   OR display_name LIKE 'Azure Pipelines Agent%' OR display_name LIKE 'GitHub Actions Runner%'
   OR display_name LIKE 'TeamCity Build Agent%'
UNION ALL
SELECT 1 FROM processes
WHERE lower(name) IN ('agent.listener.exe', 'runner.listener.exe', 'gitlab-runner.exe', 'buildkite-agent.exe')
   OR (lower(name) IN ('java.exe', 'javaw.exe')
       AND (cmdline LIKE '%agent.jar%' OR cmdline LIKE '%remoting.jar%' OR cmdline LIKE '%jetbrains.buildServer.agent%'))
UNION ALL
SELECT 1 FROM file
WHERE path IN ('C:\agent\_work', 'C:\agents\_work', 'C:\actions-runner\_work', 'C:\GitLab-Runner\builds',
               'C:\BuildAgent\work', 'C:\buildkite-agent\builds', 'C:\Jenkins\workspace');
