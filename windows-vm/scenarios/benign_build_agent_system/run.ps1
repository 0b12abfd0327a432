Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Benign: a build agent (a scheduled task running as SYSTEM) builds C:\src\agent with MSBuild.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
$name = Split-Path -Leaf $PSScriptRoot
$result = New-ScenarioResult -Scenario $name -StartUtc (Get-Date).ToUniversalTime()

$src = 'C:\src\agent'
Remove-Item -LiteralPath $src -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $src | Out-Null
Copy-Item -Path (Join-Path $PSScriptRoot 'project\*') -Destination $src -Recurse
$task = 'clab-build-agent'
$action = "$Net4\MSBuild.exe C:\src\agent\agent.csproj /nologo /v:minimal /p:Configuration=Release"
$schtasks = "$env:SystemRoot\System32\schtasks.exe"
$r = Invoke-Native -FilePath $schtasks -Arguments @('/Create', '/F', '/TN', $task, '/RU', 'SYSTEM', '/SC', 'ONCE', '/ST', '23:59', '/TR', $action)
if ($r.ExitCode -ne 0) { throw ("schtasks /Create exited {0}: {1}" -f $r.ExitCode, ($r.Output -join "`n")) }
try {
    $r = Invoke-Native -FilePath $schtasks -Arguments @('/Run', '/TN', $task)
    if ($r.ExitCode -ne 0) { throw ("schtasks /Run exited {0}: {1}" -f $r.ExitCode, ($r.Output -join "`n")) }
    $out = Join-Path $src 'bin\Release\agent.dll'
    Wait-Until -Description "the build agent task to finish and write $out" -TimeoutSeconds 300 -IntervalMilliseconds 2000 -Condition {
        $info = Get-ScheduledTaskInfo -TaskName $task
        ((Get-ScheduledTask -TaskName $task).State -eq 'Ready') -and ($info.LastTaskResult -eq 0) -and (Test-Path -LiteralPath $out)
    }
    $result.artifacts = @($out)
} finally {
    Invoke-Native -FilePath $schtasks -Arguments @('/Delete', '/F', '/TN', $task) | Out-Null
}
Save-ScenarioResult -Result $result
Write-Host "$name done"
