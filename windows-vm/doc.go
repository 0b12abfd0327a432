// Package windowsvm holds the Go side of the Windows VM test bed: the static checks of the Vagrantfile,
// provisioning scripts, Sysmon configuration and osquery flags that CI runs without a VM, and the replay of
// every scenario's fixture through the extension, the packs and the correlator against the scenario's
// expected.json (the same file the VM assertions read).
package windowsvm
