Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Installs compile_lineage.ext.exe (built on the host by `make build`) the way osqueryd demands:
# Administrators own the binary and its folder, no inherited ACEs, no write for users,
# and an extensions.load without a byte-order mark. Then starts osqueryd and waits for the extension.
. 'C:\lineage\vm\lib\common.ps1'

$src = Join-Path $ClabRoot 'build\compile_lineage.ext.exe'
if (-not (Test-Path -LiteralPath $src)) { throw "$src missing: run 'make build' on the host, then 'vagrant provision'" }
$extDir = Join-Path $OsqueryHome 'extensions'
$dst = Join-Path $extDir 'compile_lineage.ext.exe'
$load = Join-Path $OsqueryHome 'extensions.load'

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
foreach ($target in @($extDir, $dst)) {
    foreach ($icaclsArgs in @(
            @($target, '/setowner', 'Administrators', '/t'),
            @($target, '/grant', 'Administrators:f', '/t'),
            @($target, '/grant', 'SYSTEM:f', '/t'),
            @($target, '/inheritance:r', '/t'),
            @($target, '/inheritance:d', '/t'))) {
        $r = Invoke-Native -FilePath 'icacls.exe' -Arguments $icaclsArgs
        if ($r.ExitCode -ne 0) { throw ("icacls {0} exited {1}: {2}" -f ($icaclsArgs -join ' '), $r.ExitCode, ($r.Output -join "`n")) }
    }
}
foreach ($target in @($extDir, $dst)) {
    $acl = Get-Acl -LiteralPath $target
    if ($acl.Owner -notmatch 'Administrators$') { throw "owner of $target is $($acl.Owner), want Administrators" }
    $writers = $acl.Access | Where-Object {
        $_.AccessControlType -eq 'Allow' -and
        ($_.FileSystemRights -band [System.Security.AccessControl.FileSystemRights]::Write) -and
        ($_.IdentityReference.Value -notmatch '(Administrators|SYSTEM)$')
    }
    if ($writers) { throw "unsafe write access on ${target}: $(($writers | ForEach-Object { $_.IdentityReference.Value }) -join ', ')" }
    if ($acl.AreAccessRulesProtected -ne $true) { throw "inheritance still enabled on $target" }
}

Write-Utf8NoBom -Path $load -Text ($dst + "`r`n")

Start-Service -Name 'osqueryd'
try {
    Wait-Until -Description "extension $ExtensionName registered with osqueryd" -TimeoutSeconds 90 -IntervalMilliseconds 2000 -Condition {
        $rows = Invoke-Osquery -Sql "SELECT name, version, path FROM osquery_extensions WHERE name = '$ExtensionName';"
        $rows.Count -ge 1
    }
} catch {
    $logDir = Join-Path $OsqueryHome 'log'
    foreach ($f in @('osqueryd.INFO', 'osqueryd.WARNING', 'osqueryd.ERROR')) {
        $p = Join-Path $logDir $f
        if (Test-Path -LiteralPath $p) { Write-Host "---- tail $p"; Get-Content -LiteralPath $p -Tail 40 | Write-Host }
    }
    throw
}
$tables = Invoke-Osquery -Sql "SELECT name FROM osquery_registry WHERE registry = 'table' AND internal = 0;"
Write-Host ("extension tables: {0}" -f (($tables | ForEach-Object { $_.name }) -join ', '))
foreach ($t in @('compile_lineage', 'compile_telemetry')) {
    if (-not ($tables | Where-Object { $_.name -eq $t })) { throw "table $t not registered by the extension" }
}
