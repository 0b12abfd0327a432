Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Prepares what the scenarios need and checks every tool they call exists: no downloads at scenario time.
. 'C:\lineage\vm\lib\common.ps1'

$tools = @(
    "$Net4\csc.exe", "$Net4\vbc.exe", "$Net4\ilasm.exe", "$Net4\MSBuild.exe", "$Net4\cvtres.exe",
    "$env:SystemRoot\System32\mshta.exe", "$env:SystemRoot\System32\wscript.exe",
    "$env:SystemRoot\System32\regsvr32.exe", "$env:SystemRoot\System32\scrobj.dll",
    "$env:SystemRoot\System32\wbem\WMIC.exe", "$env:SystemRoot\System32\schtasks.exe", $Vmassert
)
$missing = @($tools | Where-Object { -not (Test-Path -LiteralPath $_) })
if ($missing.Count -gt 0) { throw ("scenario tools missing: " + ($missing -join ', ')) }

# Office-like parent: a renamed copy of cmd.exe where Word would live. Its Sysmon OriginalFileName
# stays Cmd.Exe, which is what a masquerading parent looks like.
$officeDir = 'C:\Program Files\Microsoft Office\root\Office16'
New-Item -ItemType Directory -Force -Path $officeDir | Out-Null
Copy-Item -LiteralPath "$env:SystemRoot\System32\cmd.exe" -Destination (Join-Path $officeDir 'WINWORD.EXE') -Force
Write-Host 'scenario prerequisites ready'
