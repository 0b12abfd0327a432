Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: powershell -EncodedCommand -> Add-Type (csc on a CodeDom .cmdline, DLL loaded in memory)
# -> the same powershell.exe connects to a 127.0.0.1 listener started here.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
$name = Split-Path -Leaf $PSScriptRoot
$expected = Get-Content -LiteralPath (Join-Path $PSScriptRoot 'expected.json') -Raw | ConvertFrom-Json
$port = [int]$expected.listener_port
$result = New-ScenarioResult -Scenario $name -StartUtc (Get-Date).ToUniversalTime()

$work = Join-Path $env:TEMP 'clab\addtype'
New-Item -ItemType Directory -Force -Path $work | Out-Null
$log = Join-Path $work 'listener.log'
Remove-Item -LiteralPath $log -Force -ErrorAction SilentlyContinue
$listener = Start-LoopbackListener -Port $port -LogPath $log
try {
    $stage = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'stage.ps1'))
    $env:CLAB_PORT = [string]$port
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($stage))
    $psArgs = @('-NoProfile', '-NonInteractive', '-WindowStyle', 'Hidden', '-EncodedCommand', $encoded)
    $p = Start-Process -FilePath "$env:SystemRoot\System32\WindowsPowerShell\v1.0\powershell.exe" -ArgumentList $psArgs -PassThru
    $null = $p.Handle # keeps ExitCode readable after WaitForExit
    if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'the encoded powershell did not finish within 120 s' }
    if ($p.ExitCode -ne 0) { throw "the encoded powershell exited $($p.ExitCode)" }
    Wait-Until -Description 'the Add-Type beacon in the listener log' -TimeoutSeconds 60 -Condition {
        (Test-Path -LiteralPath $log) -and ((Get-Content -LiteralPath $log) -match '^\S+ addtype ')
    }
    $result.notes = @(Get-Content -LiteralPath $log)
} finally {
    Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue
}
Save-ScenarioResult -Result $result
Write-Host "$name done"
