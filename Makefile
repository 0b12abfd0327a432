# compile-lineage: osquery extension, packs, correlator and Windows VM test bed.
GO      ?= go
BUILD   ?= build
GOFLAGS ?=
EXT     := compile_lineage.ext

.PHONY: all build test bench lint demo packs fuzz clean

all: build

## build: the extension for Linux, macOS and Windows, and the correlator
build:
	mkdir -p $(BUILD)
	GOOS=linux   GOARCH=amd64 $(GO) build -o $(BUILD)/$(EXT) ./extension
	GOOS=darwin  GOARCH=arm64 $(GO) build -o $(BUILD)/darwin/$(EXT) ./extension
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BUILD)/$(EXT).exe ./extension
	GOOS=linux   GOARCH=amd64 $(GO) build -o $(BUILD)/correlator ./correlator
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BUILD)/correlator.exe ./correlator

## test: every test (unit, Thrift end to end, real recordings in ../shared/datasets, packs, VM static checks)
test: lint
	$(GO) test -count=1 ./...

## bench: generate speed and memory of compile_lineage against the naive SQL join, packs and correlator throughput
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./extension/... ./tables/... ./packs/... ./correlator/... | tee $(BUILD)/bench.txt

## lint: formatting and vet for Linux and Windows
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...

## demo: replay the example telemetry shipped in examples/ and score it with the correlator
demo:
	mkdir -p $(BUILD)
	$(GO) run ./extension demo --results-log $(BUILD)/demo-results.log
	$(GO) run ./correlator score --roles extension/examples/roles.csv $(BUILD)/demo-results.log

## packs: regenerate the osquery packs and Fleet YAML from packs/queries/*.sql
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
