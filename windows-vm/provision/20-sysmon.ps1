Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
$syntaxErrors = $null
[void][System.Management.Automation.Language.Parser]::ParseFile($PSCommandPath, [ref]$null, [ref]$syntaxErrors)
if ($syntaxErrors) { throw ("syntax errors in {0}: {1}" -f $PSCommandPath, ($syntaxErrors -join "; ")) }
# Installs a pinned Sysmon with the pinned lab configuration (provision/sysmon-config.xml).
. 'C:\lineage\vm\lib\common.ps1'

# Pins. The download URL is not versioned, so the version is checked on the binary and the zip hash pinned.
$SysmonVersion = '15.15'
$SysmonZipUrl = 'https://download.sysinternals.com/files/Sysmon.zip'
$SysmonZipSha256 = 'PIN-ME'
$ConfigPath = Join-Path $ClabVm 'provision\sysmon-config.xml'

# A zip placed in windows-vm/cache/ (git-ignored) is used instead of the download, for offline rebuilds.
$zip = Get-PinnedDownload -Url $SysmonZipUrl -Name 'Sysmon.zip' -Sha256 $SysmonZipSha256
$dir = Join-Path $ClabWork 'sysmon'
Expand-Archive -LiteralPath $zip -DestinationPath $dir -Force
$exe = Join-Path $dir 'Sysmon64.exe'
$version = (Get-Item -LiteralPath $exe).VersionInfo.ProductVersion
if (-not $version.StartsWith($SysmonVersion)) {
    throw "Sysmon64.exe is version $version, pinned ${SysmonVersion}: update the pin or the cached zip"
}

[xml](Get-Content -LiteralPath $ConfigPath -Raw) | Out-Null
$mode = '-i'
if (Get-Service -Name 'Sysmon64' -ErrorAction SilentlyContinue) { $mode = '-c' }
$r = Invoke-Native -FilePath $exe -Arguments @('-accepteula', $mode, $ConfigPath)
if ($r.ExitCode -ne 0) { throw ("Sysmon64.exe $mode exited {0} with {1}: {2}" -f $r.ExitCode, $ConfigPath, ($r.Output -join "`n")) }

Wait-Until -Description 'Sysmon64 service running' -TimeoutSeconds 60 -Condition {
    (Get-Service -Name 'Sysmon64').Status -eq 'Running'
}
Wait-Until -Description 'a Sysmon process-create event' -TimeoutSeconds 60 -Condition {
    Start-Process -FilePath 'cmd.exe' -ArgumentList '/c', 'exit 0' -WindowStyle Hidden -Wait
    $null -ne (Get-WinEvent -LogName 'Microsoft-Windows-Sysmon/Operational' -MaxEvents 20 | Where-Object { $_.Id -eq 1 })
}
Write-Host "sysmon $version installed with $ConfigPath"
