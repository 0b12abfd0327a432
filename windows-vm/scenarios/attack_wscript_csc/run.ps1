Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Attack: wscript runs a dropped .js that compiles C# with csc and runs the new exe.
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\attack_wscript_csc.log" -Force | Out-Null
$dir = Join-Path $env:TEMP 'clab\wscript'
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'tool.cs') -Destination (Join-Path $dir 'tool.cs')
$js = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'build.js'))
$js = $js.Replace('__DIR__', $dir.Replace('\', '\\')).Replace('__CSC__', ($Net4 + '\csc.exe').Replace('\', '\\'))
$jsPath = Join-Path $dir 'build.js'
Write-Utf8NoBom -Path $jsPath -Text $js
$p = Start-Process -FilePath "$env:SystemRoot\System32\wscript.exe" -ArgumentList ('"{0}"' -f $jsPath) -WorkingDirectory $dir -PassThru
$null = $p.Handle
if (-not $p.WaitForExit(120000)) { Stop-Process -Id $p.Id -Force; throw 'wscript did not finish within 120 s' }
if ($p.ExitCode -ne 0) { throw "build.js exited $($p.ExitCode)" }
$marker = Join-Path $dir 'svcupdate.txt'
if (-not (Test-Path -LiteralPath $marker)) { throw "svcupdate.exe did not run: $marker missing" }
Write-Host 'attack_wscript_csc done'
