Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: an Office-like parent (WINWORD.EXE, a renamed cmd.exe from 50-scenario-prereqs.ps1) starts
# cmd.exe on a dropped open.cmd -> ilasm /exe -> the new exe runs.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\attack_office_cmd_ilasm.log" -Force | Out-Null
$word = 'C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE'
if (-not (Test-Path -LiteralPath $word)) { throw "$word missing: run provision/50-scenario-prereqs.ps1" }
$dir = Join-Path $env:TEMP 'clab\office'
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'invoice.il') -Destination (Join-Path $dir 'invoice.il')
$cmdText = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'open.cmd')).Replace('__ILASM__', "$Net4\ilasm.exe").Replace('__DIR__', $dir)
$openCmd = Join-Path $dir 'open.cmd'
Write-Utf8NoBom -Path $openCmd -Text $cmdText
$p = Start-Process -FilePath $word -ArgumentList @('/c', "$env:SystemRoot\System32\cmd.exe", '/c', $openCmd) -WorkingDirectory $dir -PassThru
$null = $p.Handle
if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'WINWORD.EXE did not finish within 120 s' }
if ($p.ExitCode -ne 0) { throw "open.cmd exited $($p.ExitCode)" }
$marker = Join-Path $dir 'invoice.txt'
if (-not (Test-Path -LiteralPath $marker)) { throw "invoice.exe did not run: $marker missing" }
Write-Host 'attack_office_cmd_ilasm done'
