Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Installs compile_lineage.ext.exe (built on the host by `make build`) the way osqueryd demands:
# Administrators own the binary and its folder, no inherited ACEs, no write for users, and an
# extensions.load without a byte-order mark. Then starts osqueryd and waits until vmassert sees the
# extension and its tables registered. osqueryd itself refuses a binary with unsafe permissions
# ("Extension binary has unsafe permissions" in osqueryd.INFO), so its log is printed on failure.
. 'C:\lineage\vm\lib\common.ps1'

$src = Join-Path $ClabRoot 'build\compile_lineage.ext.exe'
if (-not (Test-Path -LiteralPath $src)) { throw "$src missing: run 'make build' on the host, then 'vagrant provision'" }
if (-not (Test-Path -LiteralPath $Vmassert)) { throw "$Vmassert missing: run 'make build' on the host, then 'vagrant provision'" }
$extDir = Join-Path $OsqueryHome 'extensions'
$dst = Join-Path $extDir 'compile_lineage.ext.exe'

# Windows locks loaded images: stop the daemon and any lingering extension before overwriting.
if ((Get-Service -Name 'osqueryd').Status -ne 'Stopped') { Stop-Service -Name 'osqueryd' -Force }
Get-Process -Name 'compile_lineage.ext' -ErrorAction SilentlyContinue | Stop-Process -Force
Wait-Until -Description 'extension process gone' -TimeoutSeconds 30 -Condition {
    $null -eq (Get-Process -Name 'compile_lineage.ext' -ErrorAction SilentlyContinue)
}
New-Item -ItemType Directory -Force -Path $extDir | Out-Null
Copy-Item -LiteralPath $src -Destination $dst -Force

# osquery docs (deployment/extensions.md): owner Administrators, full control for Administrators,
# inherited ACEs removed and inheritance disabled, on the folder and the file.
Invoke-Checked -FilePath 'icacls.exe' -ArgumentList @($extDir, '/setowner', 'Administrators', '/t') -LogName 'icacls-owner'
Invoke-Checked -FilePath 'icacls.exe' -ArgumentList @($extDir, '/grant', 'Administrators:f', '/t') -LogName 'icacls-admins'
Invoke-Checked -FilePath 'icacls.exe' -ArgumentList @($extDir, '/grant', 'SYSTEM:f', '/t') -LogName 'icacls-system'
Invoke-Checked -FilePath 'icacls.exe' -ArgumentList @($extDir, '/inheritance:r', '/t') -LogName 'icacls-inheritance-r'
Invoke-Checked -FilePath 'icacls.exe' -ArgumentList @($extDir, '/inheritance:d', '/t') -LogName 'icacls-inheritance-d'

Write-Utf8NoBom -Path (Join-Path $OsqueryHome 'extensions.load') -Text ($dst + "`r`n")

Start-Service -Name 'osqueryd'
try {
    Invoke-Checked -FilePath $Vmassert -ArgumentList @('wait-extension', '--timeout', '120s') -LogName 'wait-extension'
} catch {
    foreach ($f in @('osqueryd.INFO', 'osqueryd.WARNING', 'osqueryd.ERROR')) {
        $p = Join-Path $OsqueryLogDir $f
        if (Test-Path -LiteralPath $p) { Write-Host "---- tail $p"; Get-Content -LiteralPath $p -Tail 40 | Write-Host }
    }
    throw
}
