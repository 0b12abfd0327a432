# Windows VM test bed (windows-vm/README.md). Included by the root Makefile; paths are relative to the
# repository root. vm-up, vm-test and vm-destroy need Vagrant with VirtualBox or Hyper-V; vm-check needs
# only Go and ruby (apt-get install -y ruby) and is what CI runs.
VAGRANT      ?= vagrant
VM_DIR       ?= windows-vm
# VM_PROVIDER=hyperv to force Hyper-V (empty: Vagrant's default, normally virtualbox).
VM_PROVIDER  ?=
# VM_SCENARIOS=attack_wscript_csc,benign_developer_build to run a subset (empty: all).
VM_SCENARIOS ?=

.PHONY: vm-up vm-provision vm-test vm-report vm-destroy vm-check

## vm-up: build the extension, then create and provision the Windows VM (first run: 30-60 min)
vm-up: build
	cd $(VM_DIR) && $(VAGRANT) up $(if $(VM_PROVIDER),--provider $(VM_PROVIDER)) --provision

## vm-provision: rebuild and re-provision a running VM (new extension binary, packs, flags)
vm-provision: build
	cd $(VM_DIR) && $(VAGRANT) provision

## vm-test: run every scenario in the VM, check them there with vmassert, then re-check on the host and score per role
vm-test: build
	rm -rf $(VM_DIR)/out
	mkdir -p $(VM_DIR)/out
	cd $(VM_DIR) && $(VAGRANT) winrm -s powershell -c 'powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\lineage\vm\assert\Invoke-AllScenarios.ps1 $(VM_SCENARIOS)'; \
	  echo $$? > out/vm-exit-code
	$(MAKE) vm-report
	@test "$$(cat $(VM_DIR)/out/vm-exit-code)" = 0 || { echo "vm-test: the VM reported failures ($(VM_DIR)/out/report.txt)"; exit 1; }

## vm-report: the host-side report over windows-vm/out (rows re-checked, correlator run per role)
vm-report:
	mkdir -p $(BUILD)/host
	$(GO) build -o $(BUILD)/host/correlator ./correlator
	$(GO) run ./$(VM_DIR)/cmd/vmreport --out $(VM_DIR)/out --scenarios $(VM_DIR)/scenarios --correlator $(BUILD)/host/correlator \
	  > $(VM_DIR)/out/host-report.txt; rc=$$?; cat $(VM_DIR)/out/host-report.txt; exit $$rc

## vm-destroy: delete the VM
vm-destroy:
	cd $(VM_DIR) && $(VAGRANT) destroy -f

## vm-check: what can be checked without a VM (Vagrantfile, script structure, Sysmon config, flags, fixture replay, vmassert and vmreport against the replay harness)
vm-check:
	ruby -c $(VM_DIR)/Vagrantfile
	ruby $(VM_DIR)/test/vagrantfile_check.rb $(VM_DIR)/Vagrantfile
	$(GO) test -count=1 ./$(VM_DIR)/...
