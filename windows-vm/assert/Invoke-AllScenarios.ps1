Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Runs every scenario (or the ones named), then asserts each, copies the result log out for the host's
# correlator run, and writes C:\lineage\vm\out\report.txt. Exits 1 when any scenario failed.
# Usage: Invoke-AllScenarios.ps1 [name[,name...]] (arguments through $args, see Invoke-Scenario.ps1).
. (Join-Path $PSScriptRoot '..\lib\common.ps1')
$Names = @($args | ForEach-Object { [string]$_ })

$Names = @($Names | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
$all = @(Get-ChildItem -LiteralPath (Join-Path $ClabVm 'scenarios') -Directory | Sort-Object Name | ForEach-Object { $_.Name })
if ($Names.Count -gt 0) { $all = @($all | Where-Object { $Names -contains $_ }) }
if ($all.Count -eq 0) { throw 'no scenarios to run' }
$outRoot = Join-Path $ClabVm 'out'
New-Item -ItemType Directory -Force -Path $outRoot | Out-Null

$ran = @()
foreach ($n in $all) {
    Write-Host "== run $n"
    try {
        & (Join-Path $PSScriptRoot 'Invoke-Scenario.ps1') $n | Out-Null
        $ran += $n
    } catch {
        $dir = Join-Path $outRoot $n
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        $v = [ordered]@{ scenario = $n; passed = $false; rows = @(); failures = @("run failed: $($_.Exception.Message)"); known = @() }
        Write-Utf8NoBom -Path (Join-Path $dir 'verdict.json') -Text ($v | ConvertTo-Json -Depth 5)
        Write-Host "FAIL $n run: $($_.Exception.Message)"
    }
}
foreach ($n in $ran) {
    Write-Host "== assert $n"
    & (Join-Path $PSScriptRoot 'Assert-Scenario.ps1') $n
}
Copy-Item -LiteralPath $OsqueryResultsLog -Destination (Join-Path $outRoot 'osqueryd.results.log') -Force

$report = New-Object System.Collections.Generic.List[string]
$failed = 0
foreach ($n in $all) {
    $v = Get-Content -LiteralPath (Join-Path $outRoot "$n\verdict.json") -Raw | ConvertFrom-Json
    $state = 'PASS'
    if (-not $v.passed) { $state = 'FAIL'; $failed++ }
    $report.Add(('{0} {1} ({2} rows)' -f $state, $n, @($v.rows).Count))
    foreach ($r in @($v.rows)) { if ($r) { $report.Add("    row   $r") } }
    foreach ($f in @($v.failures)) { if ($f) { $report.Add("    fail  $f") } }
    foreach ($k in @($v.known)) { if ($k) { $report.Add("    known $k") } }
}
$report.Add(('{0} passed, {1} failed' -f ($all.Count - $failed), $failed))
Write-Utf8NoBom -Path (Join-Path $outRoot 'report.txt') -Text (($report -join "`r`n") + "`r`n")
$report | ForEach-Object { Write-Host $_ }
if ($failed -gt 0) { exit 1 }
