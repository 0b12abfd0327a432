Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: mshta -> csc -> the new exe runs -> it connects to a 127.0.0.1 listener started here.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
$name = Split-Path -Leaf $PSScriptRoot
$expected = Get-Content -LiteralPath (Join-Path $PSScriptRoot 'expected.json') -Raw | ConvertFrom-Json
$port = [int]$expected.listener_port
$result = New-ScenarioResult -Scenario $name -StartUtc (Get-Date).ToUniversalTime()

$dir = Join-Path $env:TEMP 'clab\mshta'
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$log = Join-Path $dir 'listener.log'
$listener = Start-LoopbackListener -Port $port -LogPath $log
try {
    Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'payload.cs') -Destination (Join-Path $dir 'payload.cs')
    $hta = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'launcher.hta'))
    $hta = $hta.Replace('__DIR__', $dir.Replace('\', '\\')).Replace('__CSC__', ($Net4 + '\csc.exe').Replace('\', '\\')).Replace('__PORT__', [string]$port)
    $htaPath = Join-Path $dir 'launcher.hta'
    Write-Utf8NoBom -Path $htaPath -Text $hta
    $p = Start-Process -FilePath "$env:SystemRoot\System32\mshta.exe" -ArgumentList ('"{0}"' -f $htaPath) -WorkingDirectory $dir -PassThru
    $null = $p.Handle # keeps ExitCode readable after WaitForExit
    if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'mshta did not finish within 120 s' }
    $exe = Join-Path $dir 'update.exe'
    if (-not (Test-Path -LiteralPath $exe)) { throw "csc did not write $exe" }
    Wait-Until -Description 'the payload connection in the listener log' -TimeoutSeconds 60 -Condition {
        (Test-Path -LiteralPath $log) -and ((Get-Content -LiteralPath $log) -match '^\S+ mshta ')
    }
    $result.artifacts = @($exe)
    $result.notes = @(Get-Content -LiteralPath $log)
} finally {
    Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue
}
Save-ScenarioResult -Result $result
Write-Host "$name done"
