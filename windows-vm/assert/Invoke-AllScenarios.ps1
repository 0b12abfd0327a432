Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Runs every scenario (or the ones named), each on its own: a scenario that throws is recorded in its
# out\<name>\run.txt and the others still run. Then vmassert checks them all through osqueryd's
# extensions socket and writes C:\lineage\vm\out (verdicts, each scenario's rows and result lines,
# the daemon's health, report.txt, a copy of the result log). Exits with vmassert's code (1: a check failed).
# Usage: Invoke-AllScenarios.ps1 [name[,name...]] (arguments through $args).
. (Join-Path $PSScriptRoot '..\lib\common.ps1')
$names = @($args | ForEach-Object { ([string]$_) -split ',' } | Where-Object { $_ })
$all = @(Get-ChildItem -LiteralPath (Join-Path $ClabVm 'scenarios') -Directory | Sort-Object Name | ForEach-Object { $_.Name })
if ($names.Count -gt 0) { $all = @($all | Where-Object { $names -contains $_ }) }
if ($all.Count -eq 0) { throw 'no scenarios to run' }
$outRoot = Join-Path $ClabVm 'out'
New-Item -ItemType Directory -Force -Path $outRoot | Out-Null
$since = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds() - 5

try {
    foreach ($n in $all) {
        $dir = Join-Path $outRoot $n
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        Write-Host "== run $n"
        try {
            & (Join-Path $PSScriptRoot 'Invoke-Scenario.ps1') $n
            Write-Utf8NoBom -Path (Join-Path $dir 'run.txt') -Text "ok`r`n"
        } catch {
            Write-Utf8NoBom -Path (Join-Path $dir 'run.txt') -Text ($_.Exception.Message + "`r`n")
            Write-Host "FAIL $n run: $($_.Exception.Message)"
        }
    }
} finally {
    # Kept whatever happens above, for the host report.
    $log = Join-Path $OsqueryLogDir 'osqueryd.results.log'
    if (Test-Path -LiteralPath $log) { Copy-Item -LiteralPath $log -Destination (Join-Path $outRoot 'osqueryd.results.log') -Force }
}

$stdout = Join-Path $ClabWork 'logs\vmassert-check.out'
$stderr = Join-Path $ClabWork 'logs\vmassert-check.err'
$check = Start-Process -FilePath $Vmassert -ArgumentList (@('check', '--since', [string]$since) + $all) -Wait -PassThru -NoNewWindow -RedirectStandardOutput $stdout -RedirectStandardError $stderr
Get-Content -LiteralPath $stdout, $stderr | Write-Host
exit $check.ExitCode
