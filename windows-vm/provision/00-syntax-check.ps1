Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Parses every PowerShell file synced into the guest and fails listing every file with errors.
# This is the only faithful PowerShell syntax gate: the Linux host has no pwsh.
. 'C:\lineage\vm\lib\common.ps1'

$files = @(Get-ChildItem -LiteralPath $ClabVm -Recurse -File | Where-Object { $_.Extension -eq '.ps1' -or $_.Extension -eq '.psm1' })
if ($files.Count -eq 0) { throw "no PowerShell files under ${ClabVm}: is the windows-vm folder synced?" }
$bad = @()
foreach ($f in $files) {
    try {
        Assert-ScriptSyntax -Path $f.FullName
    } catch {
        $bad += $_.Exception.Message
    }
    $bytes = [System.IO.File]::ReadAllBytes($f.FullName)
    foreach ($b in $bytes) {
        if ($b -gt 127) { $bad += "$($f.FullName): non-ASCII byte $b"; break }
    }
}
if ($bad.Count -gt 0) { throw ("PowerShell files failed the syntax check:`n" + ($bad -join "`n")) }
Write-Host ("syntax ok: {0} PowerShell files" -f $files.Count)
