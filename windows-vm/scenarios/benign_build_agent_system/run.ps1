Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Benign: a build agent (a scheduled task running as SYSTEM) builds C:\src\agent with MSBuild. MSBuild is
# the task scheduler's child, not this runner's: vmassert ties it to the scenario by C:\src\agent (own_paths).
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\benign_build_agent_system.log" -Force | Out-Null
$src = 'C:\src\agent'
Remove-Item -LiteralPath $src -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $src | Out-Null
Copy-Item -Path (Join-Path $PSScriptRoot 'project\*') -Destination $src -Recurse
$task = 'clab-build-agent'
$schtasks = "$env:SystemRoot\System32\schtasks.exe"
$action = "$Net4\MSBuild.exe C:\src\agent\agent.csproj /nologo /v:minimal /p:Configuration=Release"
Invoke-Checked -FilePath $schtasks -ArgumentList @('/Create', '/F', '/TN', $task, '/RU', 'SYSTEM', '/SC', 'ONCE', '/ST', '23:59', '/TR', $action) -LogName 'benign_build_agent_system-create'
try {
    Invoke-Checked -FilePath $schtasks -ArgumentList @('/Run', '/TN', $task) -LogName 'benign_build_agent_system-run'
    $out = Join-Path $src 'bin\Release\agent.dll'
    Wait-Until -Description "the build agent task to finish and write $out" -TimeoutSeconds 300 -IntervalMilliseconds 2000 -Condition {
        ((Get-ScheduledTask -TaskName $task).State -eq 'Ready') -and ((Get-ScheduledTaskInfo -TaskName $task).LastTaskResult -eq 0) -and (Test-Path -LiteralPath $out)
    }
} finally {
    Invoke-Checked -FilePath $schtasks -ArgumentList @('/Delete', '/F', '/TN', $task) -LogName 'benign_build_agent_system-delete'
}
Write-Host 'benign_build_agent_system done'
