Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: wmic process call create -> (WmiPrvSE) MSBuild on an inline-task project -> csc compiles
# the task -> MSBuild connects to a 127.0.0.1 listener started here.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
$name = Split-Path -Leaf $PSScriptRoot
$expected = Get-Content -LiteralPath (Join-Path $PSScriptRoot 'expected.json') -Raw | ConvertFrom-Json
$port = [int]$expected.listener_port
$result = New-ScenarioResult -Scenario $name -StartUtc (Get-Date).ToUniversalTime()

$dir = 'C:\Users\Public\clab\wmic'
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$log = Join-Path $dir 'listener.log'
Remove-Item -LiteralPath $log -Force -ErrorAction SilentlyContinue
$listener = Start-LoopbackListener -Port $port -LogPath $log
try {
    $project = Join-Path $dir 'inline.xml'
    Write-Utf8NoBom -Path $project -Text ([IO.File]::ReadAllText((Join-Path $PSScriptRoot 'inline.xml')).Replace('__PORT__', [string]$port))
    $r = Invoke-Native -FilePath "$env:SystemRoot\System32\wbem\WMIC.exe" -Arguments @('process', 'call', 'create', "$Net4\MSBuild.exe $project")
    $text = $r.Output -join "`n"
    if ($text -notmatch 'ReturnValue = 0') { throw "wmic process call create failed: $text" }
    $m = [regex]::Match($text, 'ProcessId = (\d+)')
    if (-not $m.Success) { throw "wmic printed no ProcessId: $text" }
    $msbuildPid = [int]$m.Groups[1].Value
    Wait-Until -Description "MSBuild pid $msbuildPid to exit" -TimeoutSeconds 180 -Condition {
        $null -eq (Get-Process -Id $msbuildPid -ErrorAction SilentlyContinue)
    }
    Wait-Until -Description 'the inline task connection in the listener log' -TimeoutSeconds 60 -Condition {
        (Test-Path -LiteralPath $log) -and ((Get-Content -LiteralPath $log) -match '^\S+ msbuild ')
    }
    $result.notes = @(Get-Content -LiteralPath $log)
} finally {
    Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue
}
Save-ScenarioResult -Result $result
Write-Host "$name done"
