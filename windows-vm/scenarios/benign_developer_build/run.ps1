Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Benign: a developer builds a small project under C:\src with MSBuild from their shell (negative control).
. (Join-Path $PSScriptRoot '..\..\lib\common.ps1')
Start-Transcript -LiteralPath "$ClabWork\logs\benign_developer_build.log" -Force | Out-Null
$src = 'C:\src\hello'
Remove-Item -LiteralPath $src -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $src | Out-Null
Copy-Item -Path (Join-Path $PSScriptRoot 'project\*') -Destination $src -Recurse
$buildLog = Join-Path $ClabWork 'logs\benign_developer_build-msbuild.out'
$buildErr = Join-Path $ClabWork 'logs\benign_developer_build-msbuild.err'
$msbuildArgs = @('C:\src\hello\hello.csproj', '/nologo', '/v:minimal', '/p:Configuration=Debug')
$p = Start-Process -FilePath "$Net4\MSBuild.exe" -ArgumentList $msbuildArgs -WorkingDirectory $src -Wait -PassThru -NoNewWindow -RedirectStandardOutput $buildLog -RedirectStandardError $buildErr
Get-Content -LiteralPath $buildLog, $buildErr | Write-Host
if ($p.ExitCode -ne 0) { throw "MSBuild exited $($p.ExitCode); see $buildLog" }
$out = Join-Path $src 'bin\Debug\hello.exe'
if (-not (Test-Path -LiteralPath $out)) { throw "build output $out missing" }
Write-Host 'benign_developer_build done'
