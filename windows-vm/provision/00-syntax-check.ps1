Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Parses every PowerShell file synced into the guest with PowerShell's own parser and fails listing every
# file with errors. PowerShell parses a whole file before running it, so a script cannot check its own
# syntax; this script checks all the others before any of them runs. The Linux host runs the structural
# checks of windows-vm/internal/pslint (make vm-check); only this step uses the real parser.
$root = 'C:\lineage\vm'
$files = @(Get-ChildItem -LiteralPath $root -Recurse -File -Filter '*.ps1')
if ($files.Count -eq 0) { throw "no PowerShell files under ${root}: is the windows-vm folder synced?" }
$bad = New-Object System.Collections.Generic.List[string]
foreach ($f in $files) {
    $tokens = $null
    $errors = $null
    [void][System.Management.Automation.Language.Parser]::ParseFile($f.FullName, [ref]$tokens, [ref]$errors)
    foreach ($e in $errors) { $bad.Add(('{0}:{1}: {2}' -f $f.FullName, $e.Extent.StartLineNumber, $e.Message)) }
}
if ($bad.Count -gt 0) { throw ("PowerShell files failed the syntax check:`n" + ($bad -join "`n")) }
Write-Host ("syntax ok: {0} PowerShell files" -f $files.Count)
