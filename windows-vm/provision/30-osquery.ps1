Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Installs a pinned osquery MSI and writes its flag file and configuration (packs, file_paths, decorators).
# The service is started by 40-extension.ps1 once the extension is in place.
. 'C:\lineage\vm\lib\common.ps1'

# Pins: the release MSI of the version and its SHA-256 as winget's manifest for it records
# (microsoft/winget-pkgs, manifests/o/osquery/osquery/5.23.1).
$OsqueryVersion = '5.23.1'
$OsqueryMsiUrl = "https://github.com/osquery/osquery/releases/download/$OsqueryVersion/osquery-$OsqueryVersion.msi"
$OsqueryMsiSha256 = 'bb3adc9f32f257147855404d24bceebcd8baf6e65f4d4ca43e186f4a85fa6ed3'

$msi = Get-PinnedDownload -Url $OsqueryMsiUrl -Name "osquery-$OsqueryVersion.msi" -Sha256 $OsqueryMsiSha256 -PinnedIn 'windows-vm/provision/30-osquery.ps1 ($OsqueryMsiSha256)'

$osqueryd = Join-Path $OsqueryHome 'osqueryd\osqueryd.exe'
$installed = $false
if (Test-Path -LiteralPath $osqueryd) {
    $installed = (Get-Item -LiteralPath $osqueryd).VersionInfo.ProductVersion.StartsWith($OsqueryVersion)
}
if (-not $installed) {
    $log = Join-Path $ClabWork 'logs\osquery-msi.log'
    $p = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/i', "`"$msi`"", '/qn', '/norestart', '/l*v', "`"$log`"") -Wait -PassThru
    if ($p.ExitCode -ne 0 -and $p.ExitCode -ne 3010) { throw "msiexec exited $($p.ExitCode); see $log" }
} else {
    Write-Host "osquery $OsqueryVersion already installed"
}
if (-not (Test-Path -LiteralPath $osqueryd)) { throw "osqueryd.exe missing at $osqueryd after install" }
$version = (Invoke-Native -FilePath (Join-Path $OsqueryHome 'osqueryi.exe') -Arguments @('--version')).Output -join ' '
if (-not ($version -match [regex]::Escape($OsqueryVersion))) { throw "osqueryi reports [$version], pinned $OsqueryVersion" }

$svc = Get-Service -Name 'osqueryd' -ErrorAction SilentlyContinue
if ($svc -and $svc.Status -ne 'Stopped') { Stop-Service -Name 'osqueryd' -Force }

# Flags and config: copied byte for byte from the repository (ASCII, no BOM), packs copied next to them.
$flags = Join-Path $OsqueryHome 'osquery.flags'
$conf = Join-Path $OsqueryHome 'osquery.conf'
Write-Utf8NoBom -Path $flags -Text ([System.IO.File]::ReadAllText((Join-Path $ClabVm 'provision\osquery.flags')))
Write-Utf8NoBom -Path $conf -Text ([System.IO.File]::ReadAllText((Join-Path $ClabVm 'provision\osquery.conf')))
$packDir = Join-Path $OsqueryHome 'packs'
New-Item -ItemType Directory -Force -Path $packDir | Out-Null
# The packs' SQL is used as shipped; only the intervals are capped so a test run sees every scheduled
# query fire within minutes (compile_baseline runs every 1800 s in production).
$PackIntervalCap = 60
foreach ($pack in @('compile_after_delivery.conf', 'compile_after_delivery_fallback.conf')) {
    $src = Join-Path $ClabRoot "packs\$pack"
    if (-not (Test-Path -LiteralPath $src)) { throw "pack $src missing: is packs/ synced?" }
    $json = [IO.File]::ReadAllText($src) | ConvertFrom-Json
    foreach ($q in $json.queries.PSObject.Properties) {
        $q.Value.interval = [Math]::Min([int]$q.Value.interval, $PackIntervalCap)
    }
    Write-Utf8NoBom -Path (Join-Path $packDir $pack) -Text ($json | ConvertTo-Json -Depth 20)
}
New-Item -ItemType Directory -Force -Path (Join-Path $OsqueryHome 'log') | Out-Null

$r = Invoke-Native -FilePath $osqueryd -Arguments @('--flagfile', $flags, '--config_check')
if ($r.ExitCode -ne 0) { throw ("osqueryd --config_check failed ({0}) for {1}: {2}" -f $r.ExitCode, $conf, ($r.Output -join "`n")) }

if (-not (Get-Service -Name 'osqueryd' -ErrorAction SilentlyContinue)) {
    New-Service -Name 'osqueryd' -DisplayName 'osqueryd' -StartupType Automatic `
        -BinaryPathName ('"{0}" --flagfile="{1}"' -f $osqueryd, $flags) | Out-Null
}
Set-Service -Name 'osqueryd' -StartupType Automatic
Write-Host "osquery $OsqueryVersion installed; flags $flags; config $conf"
