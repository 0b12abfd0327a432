Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Benign: a developer builds a small project under C:\src with MSBuild from their shell (negative control).
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
$name = Split-Path -Leaf $PSScriptRoot
$result = New-ScenarioResult -Scenario $name -StartUtc (Get-Date).ToUniversalTime()

$src = 'C:\src\hello'
Remove-Item -LiteralPath $src -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $src | Out-Null
Copy-Item -Path (Join-Path $PSScriptRoot 'project\*') -Destination $src -Recurse
$buildLog = Join-Path $ClabWork "out\$name-msbuild.log"
New-Item -ItemType Directory -Force -Path (Split-Path -Parent $buildLog) | Out-Null
$msbuildArgs = @('C:\src\hello\hello.csproj', '/nologo', '/v:minimal', '/p:Configuration=Debug')
$p = Start-Process -FilePath "$Net4\MSBuild.exe" -ArgumentList $msbuildArgs -WorkingDirectory $src -RedirectStandardOutput $buildLog -PassThru -NoNewWindow
$null = $p.Handle # keeps ExitCode readable after WaitForExit
if (-not $p.WaitForExit(300000)) { Stop-Process -Id $p.Id -Force; throw 'MSBuild did not finish within 300 s' }
if ($p.ExitCode -ne 0) { throw "MSBuild exited $($p.ExitCode); see $buildLog" }
$out = Join-Path $src 'bin\Debug\hello.exe'
if (-not (Test-Path -LiteralPath $out)) { throw "build output $out missing" }
$result.artifacts = @($out)
Save-ScenarioResult -Result $result
Write-Host "$name done"
