Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Checks one scenario that already ran against its expected.json, inside the VM:
#  - compile_lineage and compile_telemetry through the running daemon (osqueryi --connect);
#  - the pack queries' rows in osqueryd.results.log (waits for the scheduled queries to fire);
# then writes lineage.json, telemetry.json and verdict.json to C:\lineage\vm\out\<scenario>\, which the
# host reads (windows-vm/out/) to re-check the rows with the Go rules and run the correlator per role.
# Usage: Assert-Scenario.ps1 <scenario name> (arguments through $args, see Invoke-Scenario.ps1).
. (Join-Path $PSScriptRoot '..\lib\common.ps1')
if ($args.Count -ne 1) { throw 'usage: Assert-Scenario.ps1 <scenario name>' }
$Name = [string]$args[0]
if ($Name -notmatch '^(attack|benign)_[a-z0-9_]+$') { throw "bad scenario name $Name" }
$PackWaitSeconds = 240

$expected = Get-Content -LiteralPath (Join-Path $ClabVm "scenarios\$Name\expected.json") -Raw | ConvertFrom-Json
$run = Get-Content -LiteralPath (Join-Path $ClabWork "out\$Name\run.json") -Raw | ConvertFrom-Json
$from = [int64]$run.start - 10
$to = [int64]$run.end + 60
$outDir = Join-Path $ClabVm "out\$Name"
New-Item -ItemType Directory -Force -Path $outDir | Out-Null
$failures = New-Object System.Collections.Generic.List[string]

function Get-Mismatches {
    # The rules of windows-vm/internal/expect Row.Mismatches, in PowerShell.
    param($Want, $Row)
    $m = New-Object System.Collections.Generic.List[string]
    foreach ($col in @('compiler_name', 'parent_name', 'parent_class', 'stage', 'connection_origin')) {
        if ([string]$Row.$col -cne [string]$Want.$col) { $m.Add(('{0}="{1}" want "{2}"' -f $col, $Row.$col, $Want.$col)) }
    }
    if ([string]$Row.suspicious -ne [string]$Want.suspicious) { $m.Add(('suspicious="{0}" want "{1}"' -f $Row.suspicious, $Want.suspicious)) }
    if ($Want.output_path_pattern -eq '') {
        if ($Row.output_path) { $m.Add(('output_path="{0}" want none' -f $Row.output_path)) }
    } elseif (-not [regex]::IsMatch([string]$Row.output_path, $Want.output_path_pattern)) {
        $m.Add(('output_path="{0}" does not match {1}' -f $Row.output_path, $Want.output_path_pattern))
    }
    foreach ($pair in @(@('executions', $Want.min_executions), @('connections', $Want.min_connections))) {
        $n = 0
        if (-not [int]::TryParse([string]$Row.($pair[0]), [ref]$n) -or $n -lt [int]$pair[1]) {
            $m.Add(('{0}="{1}" want >= {2}' -f $pair[0], $Row.($pair[0]), $pair[1]))
        }
    }
    $reasons = @(([string]$Row.reasons).Split(';') | Where-Object { $_ })
    foreach ($r in @($Want.required_reasons)) { if ($r -and $reasons -notcontains $r) { $m.Add("reason $r missing") } }
    foreach ($r in @($Want.forbidden_reasons)) { if ($r -and $reasons -contains $r) { $m.Add("reason $r present") } }
    return , $m
}

function Test-Removed {
    param($Line)
    return ($Line.PSObject.Properties.Name -contains 'action') -and ($Line.action -eq 'removed')
}

function Test-PackMatch {
    param($Query, $Line)
    if ($Line.name -ne $Query.name) { return $false }
    if ($Line.PSObject.Properties.Name -notcontains 'columns') { return $false }
    foreach ($p in $Query.match.PSObject.Properties) {
        if ($Line.columns.PSObject.Properties.Name -notcontains $p.Name) { return $false }
        $got = [string]$Line.columns.($p.Name)
        $want = [string]$p.Value
        if ($want.StartsWith('~')) {
            if (-not [regex]::IsMatch($got, $want.Substring(1))) { return $false }
        } elseif ($got -ne $want) {
            return $false
        }
    }
    return $true
}

# 1. compile_lineage rows of this scenario's time window.
$rows = @(Invoke-Osquery -Sql "SELECT * FROM compile_lineage WHERE time >= $from AND time <= $to;")
Write-Utf8NoBom -Path (Join-Path $outDir 'lineage.json') -Text (ConvertTo-Json -InputObject $rows -Depth 5)
$i = 0
foreach ($want in @($expected.lineage)) {
    $best = $null
    foreach ($row in $rows) {
        $mm = Get-Mismatches -Want $want -Row $row
        if ($mm.Count -eq 0) { $best = $null; break }
        if ($null -eq $best -or $mm.Count -lt $best.Count) { $best = $mm }
    }
    $matched = @($rows | Where-Object { (Get-Mismatches -Want $want -Row $_).Count -eq 0 }).Count -gt 0
    if (-not $matched) {
        $why = 'no compile_lineage rows'
        if ($null -ne $best) { $why = $best -join '; ' }
        $failures.Add(('lineage[{0}] {1}<-{2} stage={3}: no matching row: {4}' -f $i, $want.compiler_name, $want.parent_name, $want.stage, $why))
    }
    $i++
}

# 2. compile_telemetry: every expected signal has a used source that works.
$telemetry = @(Invoke-Osquery -Sql 'SELECT signal, source_table, table_exists, publisher_active, events, status, used FROM compile_telemetry;')
Write-Utf8NoBom -Path (Join-Path $outDir 'telemetry.json') -Text (ConvertTo-Json -InputObject $telemetry -Depth 5)
foreach ($sig in @($expected.telemetry_signals)) {
    $ok = @($telemetry | Where-Object { $_.signal -eq $sig -and $_.used -eq '1' -and ($_.status -eq 'ok' -or $_.status -eq 'empty') })
    if ($ok.Count -eq 0) { $failures.Add("compile_telemetry: no used source with status ok/empty for signal $sig") }
}

# 3. Pack rows in the result log (the scheduled queries fire every <= 60 s in this VM, see 30-osquery.ps1).
$script:packLines = @()
$script:missing = @($expected.pack_queries)
try {
    Wait-Until -Description "pack rows of $Name in $OsqueryResultsLog" -TimeoutSeconds $PackWaitSeconds -IntervalMilliseconds 5000 -Condition {
        $lines = @(Read-ResultLog -Path $OsqueryResultsLog | Where-Object { $_.PSObject.Properties.Name -contains 'name' })
        $script:packLines = $lines
        $script:missing = @($expected.pack_queries | Where-Object {
                $q = $_
                @($lines | Where-Object { (Test-PackMatch -Query $q -Line $_) -and -not (Test-Removed -Line $_) }).Count -eq 0
            })
        $script:missing.Count -eq 0
    }
} catch {
    foreach ($q in $script:missing) { $failures.Add(('pack query {0} logged no row matching {1}' -f $q.name, ($q.match | ConvertTo-Json -Compress))) }
}
foreach ($q in @($expected.forbidden_pack_queries)) {
    $hit = @($script:packLines | Where-Object { (Test-PackMatch -Query $q -Line $_) -and -not (Test-Removed -Line $_) })
    if ($hit.Count -gt 0) { $failures.Add(('pack query {0} logged a row matching {1}' -f $q.name, ($q.match | ConvertTo-Json -Compress))) }
}

# Known failures (expected.json known_failures) are reported, not counted; stale ones fail.
$known = @()
$unexpected = @()
foreach ($f in $failures) {
    $k = @($expected.known_failures | Where-Object { $f.Contains($_.match) }) | Select-Object -First 1
    if ($k) { $known += "$f [known: $($k.reason)]" } else { $unexpected += $f }
}
foreach ($k in @($expected.known_failures)) {
    if (-not (@($failures) | Where-Object { $_.Contains($k.match) })) {
        # Correlator known failures are judged on the host; only VM-side ones can be stale here.
        if (-not $k.match.Contains('alert')) { $unexpected += "known failure '$($k.match)' no longer happens" }
    }
}
$verdict = [ordered]@{
    scenario   = $Name
    passed     = ($unexpected.Count -eq 0)
    rows       = @($rows | ForEach-Object { '{0}<-{1} stage={2} out={3} exec={4} conn={5} origin={6} suspicious={7} reasons={8}' -f $_.compiler_name, $_.parent_name, $_.stage, $_.output_path, $_.executions, $_.connections, $_.connection_origin, $_.suspicious, $_.reasons })
    failures   = $unexpected
    known      = $known
    window     = @($from, $to)
}
Write-Utf8NoBom -Path (Join-Path $outDir 'verdict.json') -Text ($verdict | ConvertTo-Json -Depth 5)
Copy-Item -LiteralPath (Join-Path $ClabWork "out\$Name\run.json") -Destination (Join-Path $outDir 'run.json') -Force
if ($verdict.passed) { Write-Host "PASS $Name ($($rows.Count) rows)" } else { Write-Host "FAIL $Name"; $unexpected | ForEach-Object { Write-Host "  $_" } }
