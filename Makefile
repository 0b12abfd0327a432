# compile-lineage: osquery extension, packs, correlator and Windows VM test bed.
GO      ?= go
BUILD   ?= build
GOFLAGS ?=
EXT     := compile_lineage.ext

.PHONY: all build test bench lint demo fleet-demo packs fuzz clean

all: build

## build: the extension for Linux, macOS and Windows, the correlator, and the Windows VM checker (vmassert.exe)
build:
	mkdir -p $(BUILD)
	GOOS=linux   GOARCH=amd64 $(GO) build -o $(BUILD)/$(EXT) ./extension
	GOOS=darwin  GOARCH=arm64 $(GO) build -o $(BUILD)/darwin/$(EXT) ./extension
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BUILD)/$(EXT).exe ./extension
	GOOS=linux   GOARCH=amd64 $(GO) build -o $(BUILD)/correlator ./correlator
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BUILD)/correlator.exe ./correlator
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BUILD)/vmassert.exe ./windows-vm/cmd/vmassert

## test: every test under the race detector (unit, Thrift end to end, real recordings in
## ../shared/datasets, packs, VM static checks); with CI set, missing recordings fail the run
test: lint
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

## bench: compile_lineage generate against the naive SQL join, harness, packs and correlator throughput
bench:
	mkdir -p $(BUILD)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./tables/... ./extension/... | tee $(BUILD)/bench.txt
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -benchtime 1x -timeout 30m ./packs/... | tee -a $(BUILD)/bench.txt
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./correlator/... | tee -a $(BUILD)/bench.txt

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

$(BUILD)/staticcheck:
	mkdir -p $(BUILD)
	GOBIN=$(abspath $(BUILD)) GOOS= GOARCH= $(GO) install $(STATICCHECK)

## lint: formatting, go.mod tidy, vet for Linux, Windows and macOS, staticcheck, generated packs up to date
lint: $(BUILD)/staticcheck
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(BUILD)/staticcheck ./...
	GOOS=windows $(BUILD)/staticcheck ./...
	$(GO) run ./packs/cmd/genpacks -check

## demo: replay the example telemetry shipped in examples/, score it with the correlator and write the HTML report
demo:
	mkdir -p $(BUILD)
	$(GO) run ./extension demo --results-log $(BUILD)/demo-results.log
	$(GO) run ./correlator score --roles extension/examples/roles.csv $(BUILD)/demo-results.log
	$(GO) run ./correlator report --roles extension/examples/roles.csv --html $(BUILD)/demo-report.html $(BUILD)/demo-results.log
	@echo "report: $(abspath $(BUILD)/demo-report.html)"

## fleet-demo: three correlators in one Kafka consumer group (in-process kfake), one killed with SIGKILL, one joining later, checked against a batch score
fleet-demo:
	mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/correlator ./correlator
	$(GO) run ./correlator/cmd/fleetdemo --bin $(BUILD)/correlator

## packs: regenerate the osquery packs and Fleet YAML from packs/queries, packs/labels and packs/policies
packs:
	$(GO) run ./packs/cmd/genpacks

## fuzz: run each fuzz target for a short while
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 15s $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BUILD)

-include windows-vm/vm.mk
