Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: wmic process call create -> (WmiPrvSE) MSBuild on an inline-task project -> csc compiles
# the task -> MSBuild connects to a 127.0.0.1 listener started here. MSBuild is WMI's child, not this
# runner's: vmassert ties it to the scenario by its own folder C:\Users\Public\clab\wmic (own_paths).
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\attack_wmic_msbuild_inline.log" -Force | Out-Null
$port = 38474
$dir = 'C:\Users\Public\clab\wmic'
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $dir | Out-Null

$log = Join-Path $dir 'listener.log'
$ready = "$log.ready"
# vmassert listen exits 0 once the payload's line arrives ("msbuild ..."), 1 when none came within 300 s.
$listener = Start-Process -FilePath $Vmassert -ArgumentList @('listen', '--port', [string]$port, '--log', $log, '--ready', $ready, '--expect', 'msbuild', '--timeout', '300s') -PassThru -WindowStyle Hidden
$null = $listener.Handle
Wait-Until -Description "listener on 127.0.0.1:$port" -TimeoutSeconds 30 -Condition { (Test-Path -LiteralPath $ready) -or $listener.HasExited }
if ($listener.HasExited) { $listener.WaitForExit(); throw "the listener on 127.0.0.1:$port exited $($listener.ExitCode) before binding (port taken?)" }
try {
    $project = Join-Path $dir 'inline.xml'
    Write-Utf8NoBom -Path $project -Text ([IO.File]::ReadAllText((Join-Path $PSScriptRoot 'inline.xml')).Replace('__PORT__', [string]$port))
    Invoke-Checked -FilePath "$env:SystemRoot\System32\wbem\WMIC.exe" -ArgumentList @('process', 'call', 'create', "$Net4\MSBuild.exe $project") -LogName 'attack_wmic_msbuild_inline-wmic'
    if (-not $listener.WaitForExit(240000)) { throw 'no connection from the payload within 240 s (listener log: ' + $log + ')' }
    if ($listener.ExitCode -ne 0) { throw "the listener exited $($listener.ExitCode) without the inline task connection (log: $log)" }
    Wait-Until -Description 'MSBuild to exit' -TimeoutSeconds 120 -Condition {
        $null -eq (Get-Process -Name 'MSBuild' -ErrorAction SilentlyContinue)
    }
} finally {
    Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue
}
Write-Host 'attack_wmic_msbuild_inline done'
