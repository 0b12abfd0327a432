Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Base settings for the lab VM: folders, Defender exclusions, clock.
. 'C:\lineage\vm\lib\common.ps1'

# Every folder the scenarios write to, and every root of osquery.conf file_paths, exists before osqueryd
# starts: the NTFS journal publisher resolves file_paths when it starts, and a root that does not exist
# then is watched by nothing.
foreach ($d in @($ClabWork, "$ClabWork\downloads", "$ClabWork\logs", "$ClabVm\out", 'C:\src',
        'C:\Users\Public\clab', "$env:SystemRoot\Temp\clab", 'C:\Users\vagrant\AppData\Local\Temp\clab')) {
    New-Item -ItemType Directory -Force -Path $d | Out-Null
}

# The scenarios compile and run small test programs from temp folders on purpose. This is a throw-away
# lab VM: exclude the lab folders from Defender scanning so the behaviour under test is not quarantined.
$exclusions = @($ClabRoot, $ClabWork, 'C:\src', "$env:SystemRoot\Temp\clab", 'C:\Users\vagrant\AppData\Local\Temp\clab', 'C:\Users\Public\clab')
if (Get-Command -Name Add-MpPreference -ErrorAction SilentlyContinue) {
    foreach ($e in $exclusions) { Add-MpPreference -ExclusionPath $e }
    Set-MpPreference -DisableRealtimeMonitoring $true -SubmitSamplesConsent 2 -MAPSReporting 0
    Write-Host 'defender: lab exclusions added, real-time monitoring off'
} else {
    Write-Host 'defender: not installed'
}

# Sysmon UtcTime and osquery unixTime are UTC; keep the guest clock on UTC so logs line up. A failed
# resync (no time source reachable yet) is reported, not fatal: the checks never compare clocks.
Set-TimeZone -Id 'UTC'
$w32tm = Start-Process -FilePath 'w32tm.exe' -ArgumentList @('/resync', '/force') -Wait -PassThru -NoNewWindow
Write-Host ('w32tm /resync exited {0}; clock {1:o}' -f $w32tm.ExitCode, (Get-Date).ToUniversalTime())
