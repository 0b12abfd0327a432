Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Checks the finished VM end to end before any scenario runs: services, publishers, packs, extension tables.
. 'C:\lineage\vm\lib\common.ps1'

$failures = @()
foreach ($svc in @('osqueryd', 'Sysmon64')) {
    $s = Get-Service -Name $svc -ErrorAction SilentlyContinue
    if (-not $s -or $s.Status -ne 'Running') { $failures += "service $svc not running" }
}

# Publishers and subscribers as osquery reports them; compile_telemetry below is the hard check.
$events = Invoke-Osquery -Sql 'SELECT name, publisher, type, active, events FROM osquery_events;'
foreach ($e in $events) {
    Write-Host ('osquery_events {0,-10} {1,-28} publisher={2} active={3} events={4}' -f $e.type, $e.name, $e.publisher, $e.active, $e.events)
}
foreach ($want in @('windows_events', 'process_etw_events', 'ntfs_journal_events')) {
    $row = @($events | Where-Object { $_.name -eq $want -and $_.type -eq 'subscriber' })
    if ($row.Count -eq 0 -or $row[0].active -ne '1') { Write-Warning "event subscriber $want is not listed as active in osquery_events" }
}

$packs = Invoke-Osquery -Sql 'SELECT name, active FROM osquery_packs;'
foreach ($want in @('compile_after_delivery', 'compile_after_delivery_fallback')) {
    if (-not ($packs | Where-Object { $_.name -eq $want })) { $failures += "pack $want not loaded" }
}

$telemetry = Invoke-Osquery -Sql 'SELECT signal, source_table, status, used FROM compile_telemetry;'
foreach ($row in $telemetry) {
    Write-Host ('telemetry {0,-8} {1,-22} status={2} used={3}' -f $row.signal, $row.source_table, $row.status, $row.used)
}
foreach ($signal in @('process', 'file', 'network')) {
    if (-not ($telemetry | Where-Object { $_.signal -eq $signal -and $_.used -eq '1' })) {
        $failures += "compile_telemetry: no source used for $signal"
    }
}

if ($failures.Count -gt 0) { throw ("post checks failed:`n" + ($failures -join "`n")) }
Write-Host 'post checks passed'
