Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: powershell -EncodedCommand -> Add-Type (csc on a CodeDom .cmdline, DLL loaded in memory)
# -> the same powershell.exe connects to a 127.0.0.1 listener started here.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\attack_powershell_addtype_net.log" -Force | Out-Null
$port = 38473
$work = Join-Path $env:TEMP 'clab\addtype'
Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $work | Out-Null

$log = Join-Path $work 'listener.log'
$ready = "$log.ready"
# vmassert listen exits 0 once the payload's line arrives ("addtype ..."), 1 when none came within 300 s.
$listener = Start-Process -FilePath $Vmassert -ArgumentList @('listen', '--port', [string]$port, '--log', $log, '--ready', $ready, '--expect', 'addtype', '--timeout', '300s') -PassThru -WindowStyle Hidden
$null = $listener.Handle
Wait-Until -Description "listener on 127.0.0.1:$port" -TimeoutSeconds 30 -Condition { (Test-Path -LiteralPath $ready) -or $listener.HasExited }
if ($listener.HasExited) { $listener.WaitForExit(); throw "the listener on 127.0.0.1:$port exited $($listener.ExitCode) before binding (port taken?)" }
try {
    $stage = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'stage.ps1'))
    $env:CLAB_PORT = [string]$port
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($stage))
    $psArgs = @('-NoProfile', '-NonInteractive', '-WindowStyle', 'Hidden', '-EncodedCommand', $encoded)
    $p = Start-Process -FilePath "$env:SystemRoot\System32\WindowsPowerShell\v1.0\powershell.exe" -ArgumentList $psArgs -PassThru
    $null = $p.Handle
    if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'the encoded powershell did not finish within 120 s' }
    if ($p.ExitCode -ne 0) { throw "the encoded powershell exited $($p.ExitCode)" }
    if (-not $listener.WaitForExit(240000)) { throw 'no connection from the payload within 240 s (listener log: ' + $log + ')' }
    if ($listener.ExitCode -ne 0) { throw "the listener exited $($listener.ExitCode) without the Add-Type beacon (log: $log)" }
} finally {
    Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue
}
Write-Host 'attack_powershell_addtype_net done'
