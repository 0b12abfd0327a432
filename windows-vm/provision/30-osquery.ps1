Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Installs the pinned osquery MSI and writes its flag file, configuration and packs.
# The service is started by 40-extension.ps1 once the extension is in place.
. 'C:\lineage\vm\lib\common.ps1'

# Pins: the release MSI and its SHA-256, as osquery publishes it (osquery/osquery-site,
# src/data/osquery_package_versions/5.23.1.json) and winget's manifest records it
# (microsoft/winget-pkgs, manifests/o/osquery/osquery/5.23.1).
$OsqueryVersion = '5.23.1'
$OsqueryMsiUrl = "https://pkg.osquery.io/windows/osquery-$OsqueryVersion.msi"
$OsqueryMsiSha256 = 'bb3adc9f32f257147855404d24bceebcd8baf6e65f4d4ca43e186f4a85fa6ed3'

$msi = Join-Path $ClabWork "downloads\osquery-$OsqueryVersion.msi"
Save-PinnedDownload -Url $OsqueryMsiUrl -Path $msi -Sha256 $OsqueryMsiSha256 -PinIn 'provision/30-osquery.ps1'

$osqueryd = Join-Path $OsqueryHome 'osqueryd\osqueryd.exe'
if ((Test-Path -LiteralPath $osqueryd) -and (Get-Item -LiteralPath $osqueryd).VersionInfo.ProductVersion.StartsWith($OsqueryVersion)) {
    Write-Host "osquery $OsqueryVersion already installed"
} else {
    # 3010: installed, restart required.
    Invoke-Checked -FilePath 'msiexec.exe' -ArgumentList @('/i', $msi, '/qn', '/norestart', '/l*v', "$ClabWork\logs\osquery-msi.log") -LogName 'osquery-msi' -OkCodes @(0, 3010)
}
$installed = (Get-Item -LiteralPath $osqueryd).VersionInfo.ProductVersion
if (-not $installed.StartsWith($OsqueryVersion)) { throw "osqueryd.exe is version $installed, pinned $OsqueryVersion" }

if ((Get-Service -Name 'osqueryd' -ErrorAction SilentlyContinue) -and (Get-Service -Name 'osqueryd').Status -ne 'Stopped') {
    Stop-Service -Name 'osqueryd' -Force
}

# Flags and config copied byte for byte (ASCII, no BOM). The packs' SQL is used as shipped; only the
# intervals are capped at 60 s so a run sees every scheduled query fire within minutes (vmassert cap-packs).
$flags = Join-Path $OsqueryHome 'osquery.flags'
Copy-Item -LiteralPath (Join-Path $ClabVm 'provision\osquery.flags') -Destination $flags -Force
Copy-Item -LiteralPath (Join-Path $ClabVm 'provision\osquery.conf') -Destination (Join-Path $OsqueryHome 'osquery.conf') -Force
Invoke-Checked -FilePath $Vmassert -ArgumentList @('cap-packs', '--in', "$ClabRoot\packs", '--out', "$OsqueryHome\packs", '--cap', '60',
    'compile_after_delivery.conf', 'compile_after_delivery_fallback.conf') -LogName 'cap-packs'
New-Item -ItemType Directory -Force -Path $OsqueryLogDir | Out-Null

Invoke-Checked -FilePath $osqueryd -ArgumentList @("--flagfile=$flags", '--config_check') -LogName 'osquery-config-check'

if (-not (Get-Service -Name 'osqueryd' -ErrorAction SilentlyContinue)) {
    New-Service -Name 'osqueryd' -DisplayName 'osqueryd' -StartupType Automatic `
        -BinaryPathName ('"{0}" --flagfile="{1}"' -f $osqueryd, $flags) | Out-Null
}
Set-Service -Name 'osqueryd' -StartupType Automatic
Write-Host "osquery $OsqueryVersion installed; flags $flags"
