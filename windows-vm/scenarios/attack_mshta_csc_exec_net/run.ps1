Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: mshta -> csc -> the new exe runs -> it connects to a 127.0.0.1 listener started here.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\attack_mshta_csc_exec_net.log" -Force | Out-Null
$port = 38471
$dir = Join-Path $env:TEMP 'clab\mshta'
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $dir | Out-Null

$log = Join-Path $dir 'listener.log'
$ready = "$log.ready"
# vmassert listen exits 0 once the payload's line arrives ("mshta ..."), 1 when none came within 300 s.
$listener = Start-Process -FilePath $Vmassert -ArgumentList @('listen', '--port', [string]$port, '--log', $log, '--ready', $ready, '--expect', 'mshta', '--timeout', '300s') -PassThru -WindowStyle Hidden
$null = $listener.Handle
Wait-Until -Description "listener on 127.0.0.1:$port" -TimeoutSeconds 30 -Condition { (Test-Path -LiteralPath $ready) -or $listener.HasExited }
if ($listener.HasExited) { $listener.WaitForExit(); throw "the listener on 127.0.0.1:$port exited $($listener.ExitCode) before binding (port taken?)" }
try {
    Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'payload.cs') -Destination (Join-Path $dir 'payload.cs')
    $hta = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'launcher.hta'))
    $hta = $hta.Replace('__DIR__', $dir.Replace('\', '\\')).Replace('__CSC__', ($Net4 + '\csc.exe').Replace('\', '\\')).Replace('__PORT__', [string]$port)
    $htaPath = Join-Path $dir 'launcher.hta'
    Write-Utf8NoBom -Path $htaPath -Text $hta
    $p = Start-Process -FilePath "$env:SystemRoot\System32\mshta.exe" -ArgumentList ('"{0}"' -f $htaPath) -WorkingDirectory $dir -PassThru
    if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'mshta did not finish within 120 s' }
    $exe = Join-Path $dir 'update.exe'
    if (-not (Test-Path -LiteralPath $exe)) { throw "csc did not write $exe" }
    if (-not $listener.WaitForExit(240000)) { throw 'no connection from the payload within 240 s (listener log: ' + $log + ')' }
    if ($listener.ExitCode -ne 0) { throw "the listener exited $($listener.ExitCode) without the payload connection (log: $log)" }
} finally {
    Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue
}
Write-Host 'attack_mshta_csc_exec_net done'
