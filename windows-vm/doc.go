// Package windowsvm holds the tests of the Windows VM test bed that CI runs without a VM: the static
// checks of the Vagrantfile, the PowerShell scripts (internal/pslint), the Sysmon configuration and the
// osquery flags, and the replay of every scenario's fixture through the extension, the packs and the
// correlator against the scenario's expected.json (the same file vmassert checks inside the VM).
package windowsvm
