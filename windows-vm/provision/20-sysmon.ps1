Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Installs a pinned Sysmon with the pinned lab configuration (provision/sysmon-config.xml).
. 'C:\lineage\vm\lib\common.ps1'

# Pins. The download URL is not versioned, so the zip hash is pinned and the version checked on the binary.
# Sysmon 15.22 (2026-09-10); the hash is the one winget's manifest for that release records
# (microsoft/winget-pkgs, manifests/m/Microsoft/Sysinternals/Sysmon/15.22).
$SysmonVersion = '15.22'
$SysmonZipUrl = 'https://download.sysinternals.com/files/Sysmon.zip'
$SysmonZipSha256 = '00ecf1b46aec99299d3ae0bca79dc621458bd014b20b509d7c5c8e8c8611aa54'
$ConfigPath = Join-Path $ClabVm 'provision\sysmon-config.xml'

# A zip placed in windows-vm/cache/ (git-ignored) is used instead of the download, for offline rebuilds.
$zip = Get-PinnedDownload -Url $SysmonZipUrl -Name 'Sysmon.zip' -Sha256 $SysmonZipSha256 -PinnedIn 'windows-vm/provision/20-sysmon.ps1 ($SysmonZipSha256)'
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
