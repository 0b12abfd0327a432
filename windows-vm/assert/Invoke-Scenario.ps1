Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Runs one scenario's run.ps1 as the vagrant user through a scheduled task (parent svchost.exe), so the
# WinRM host that `vagrant winrm` uses (wsmprovhost.exe, a remote-admin parent) is not in the ancestry.
# The task's command line names the scenario (\scenarios\<name>\run.ps1): vmassert attributes the
# processes it starts to the scenario by that runner, not by time.
# Usage: Invoke-Scenario.ps1 <scenario name>. Arguments come through $args: a param() block would have to
# precede the strict-mode header every script starts with. Throws when the scenario fails.
. (Join-Path $PSScriptRoot '..\lib\common.ps1')
if ($args.Count -ne 1) { throw 'usage: Invoke-Scenario.ps1 <scenario name>' }
$Name = [string]$args[0]
if ($Name -notmatch '^(attack|benign)_[a-z0-9_]+$') { throw "bad scenario name $Name" }
$script = Join-Path $ClabVm "scenarios\$Name\run.ps1"
if (-not (Test-Path -LiteralPath $script)) { throw "no scenario $Name ($script)" }
$TimeoutSeconds = 600

$task = "clab-scenario-$Name"
$psExe = "$env:SystemRoot\System32\WindowsPowerShell\v1.0\powershell.exe"
$action = New-ScheduledTaskAction -Execute $psExe -Argument "-NoProfile -ExecutionPolicy Bypass -File $script" -WorkingDirectory 'C:\Users\vagrant'
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Seconds $TimeoutSeconds) -AllowStartIfOnBatteries
# Lab credentials of the box (vagrant/vagrant); the task runs with the user's full (elevated) token.
Register-ScheduledTask -TaskName $task -Action $action -Settings $settings -User 'vagrant' -Password 'vagrant' -RunLevel Highest -Force | Out-Null
try {
    $before = (Get-ScheduledTaskInfo -TaskName $task).LastRunTime
    Start-ScheduledTask -TaskName $task
    Wait-Until -Description "scenario $Name to finish" -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 2000 -Condition {
        ((Get-ScheduledTask -TaskName $task).State -eq 'Ready') -and ((Get-ScheduledTaskInfo -TaskName $task).LastRunTime -ne $before)
    }
    $code = (Get-ScheduledTaskInfo -TaskName $task).LastTaskResult
    if ($code -ne 0) { throw "scenario $Name exited $code (its output: C:\clab\logs\$Name.log)" }
} finally {
    Unregister-ScheduledTask -TaskName $task -Confirm:$false
}
