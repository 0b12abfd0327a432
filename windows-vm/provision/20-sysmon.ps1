Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Installs a pinned Sysmon with the pinned lab configuration (provision/sysmon-config.xml).
. 'C:\lineage\vm\lib\common.ps1'

# Pins. Sysinternals serves every release at the same URL, so the zip's SHA-256 is what keeps the lab
# reproducible; the version is checked on Sysmon64.exe as well. When Sysinternals publishes a new
# Sysmon this step stops with the new hash: pin it here (and the version), or keep a trusted Sysmon.zip
# in windows-vm/cache/ (README: What is pinned).
# Sysmon 15.22 (2026-09-10); the hash is the one winget's manifest for that release records
# (microsoft/winget-pkgs, manifests/m/Microsoft/Sysinternals/Sysmon/15.22).
$SysmonVersion = '15.22'
$SysmonZipUrl = 'https://download.sysinternals.com/files/Sysmon.zip'
$SysmonZipSha256 = '00ecf1b46aec99299d3ae0bca79dc621458bd014b20b509d7c5c8e8c8611aa54'
$ConfigPath = Join-Path $ClabVm 'provision\sysmon-config.xml'

$zip = Join-Path $ClabWork 'downloads\Sysmon.zip'
Save-PinnedDownload -Url $SysmonZipUrl -Path $zip -Sha256 $SysmonZipSha256 -PinIn 'provision/20-sysmon.ps1'
$dir = Join-Path $ClabWork 'sysmon'
Expand-Archive -LiteralPath $zip -DestinationPath $dir -Force
$exe = Join-Path $dir 'Sysmon64.exe'
$version = (Get-Item -LiteralPath $exe).VersionInfo.ProductVersion
if (-not $version.StartsWith($SysmonVersion)) {
    throw "Sysmon64.exe is version $version, pinned ${SysmonVersion}: update both pins in provision/20-sysmon.ps1"
}

$mode = '-i'
if (Get-Service -Name 'Sysmon64' -ErrorAction SilentlyContinue) { $mode = '-c' }
Invoke-Checked -FilePath $exe -ArgumentList @('-accepteula', $mode, $ConfigPath) -LogName 'sysmon-install'

Wait-Until -Description 'Sysmon64 service running' -TimeoutSeconds 60 -Condition {
    (Get-Service -Name 'Sysmon64').Status -eq 'Running'
}
Wait-Until -Description 'a Sysmon process-create event' -TimeoutSeconds 60 -Condition {
    Start-Process -FilePath 'cmd.exe' -ArgumentList '/c', 'exit 0' -WindowStyle Hidden -Wait
    $null -ne (Get-WinEvent -LogName 'Microsoft-Windows-Sysmon/Operational' -MaxEvents 20 | Where-Object { $_.Id -eq 1 })
}
Write-Host "sysmon $version installed with $ConfigPath"
