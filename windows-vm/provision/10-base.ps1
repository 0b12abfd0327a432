Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Base settings for the lab VM: TLS, folders, Defender exclusions, clock.
. 'C:\lineage\vm\lib\common.ps1'

[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$ProgressPreference = 'SilentlyContinue'

foreach ($d in @($ClabWork, "$ClabWork\downloads", "$ClabWork\out", "$ClabWork\logs", 'C:\src')) {
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

# Sysmon UtcTime and osquery unixTime are UTC; keep the guest clock on UTC so logs line up.
Set-TimeZone -Id 'UTC'
$r = Invoke-Native -FilePath 'w32tm.exe' -Arguments @('/resync', '/force')
Write-Host ("w32tm /resync: exit {0} {1}" -f $r.ExitCode, ($r.Output -join ' '))
Write-Host ('clock: {0:o}' -f (Get-Date).ToUniversalTime())
