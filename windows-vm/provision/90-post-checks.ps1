Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Checks the finished VM before any scenario runs (vmassert post-checks, through osqueryd's extensions
# socket): services, event subscribers, both packs, a compile_telemetry source for process, file, network.
. 'C:\lineage\vm\lib\common.ps1'
Invoke-Checked -FilePath $Vmassert -ArgumentList @('post-checks') -LogName 'post-checks'
