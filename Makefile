# skiff — build, run and test. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
BIN := bin/skiff
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
# Debian packages the tests use: protoc, a static busybox for test images,
# runc/crun/conmon for the runtime benchmark, dig, iproute2; nft and openssl
# for the traps of test-hermetic; Chromium for the dashboard's browser test;
# QEMU for the VM tier (e2e/vm), without its recommends (firmware, audio,
# display libraries: the guests boot a kernel directly on a serial console).
APT_PACKAGES := protobuf-compiler busybox-static iproute2 bind9-dnsutils runc crun conmon nftables openssl chromium
APT_PACKAGES_NO_RECOMMENDS := qemu-system-x86

.PHONY: help build run test test-go test-race test-plain FORCE test-hermetic fuzz vm-kernel lint proto proto-check deps tools promtool bench clean

help:
	@echo "make run    build and start a single-node cluster (needs root)"
	@echo "make test   everything CI runs: lint, generated-code check, all tests (-race for the daemons), fuzz"
	@echo "make test-hermetic  the config- and host-sensitive tests under a hostile environment"
	@echo "make build  build $(BIN)"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make proto  regenerate proto/skiff/v1/*.pb.go"
	@echo "make deps   install the Debian packages and Go tools the tests need"

# The shim (the small program each container's supervisor and init run as)
# is built first and embedded into skiff, which installs it on the node;
# bin/skiff-shim beside bin/skiff serves a plain `go build` of skiff too.
SHIM := bin/skiff-shim
SHIM_EMBED := nodeagent/shim/skiff-shim
# seccomp_prebuilt: the shim loads the seccomp filters the agent builds and
# links no filter assembler (its syscall tables cost every process start).
SHIM_TAGS := seccomp_prebuilt
build:
	$(GO) build -trimpath -ldflags=-s -tags $(SHIM_TAGS) -o $(SHIM) ./cmd/skiff-shim
	cp $(SHIM) $(SHIM_EMBED)
	$(GO) build -tags skiff_shim -o $(BIN) ./cmd/skiff

# A single-node cluster: API server, registry, scheduler, DNS and an agent.
# Ctrl-C stops it; `make run` again brings the same cluster back.
run: deps build
	@if [ "$$(id -u)" = 0 ]; then ./$(BIN) up; else sudo ./$(BIN) up; fi

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	bare=""; for p in $(APT_PACKAGES_NO_RECOMMENDS); do dpkg -s $$p >/dev/null 2>&1 || bare="$$bare $$p"; done; \
	if [ -n "$$missing$$bare" ]; then \
		echo "installing:$$missing$$bare"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq || exit 1; \
		if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing || exit 1; fi; \
		if [ -n "$$bare" ]; then DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$bare || exit 1; fi; \
	fi

# The VM tier's guest kernel (Debian's cloud kernel, from apt) is fetched
# here into .cache/vm, so the tests find it on disk and reach no mirror.
vm-kernel:
	@$(GO) run ./e2e/vm/guest/fetchkernel $(CURDIR)/.cache/vm

# promtool checks every component's /metrics in the e2e tests. It is taken
# out of Debian's prometheus package without installing it, so no Prometheus
# service starts on the test machine (tests leave the host's ports alone).
PROMTOOL := $(CURDIR)/.cache/promtool/usr/bin/promtool
promtool:
	@test -x $(PROMTOOL) || ( mkdir -p .cache/promtool && cd .cache/promtool && \
		apt-get download prometheus >/dev/null 2>&1 && dpkg -x prometheus_*.deb . && rm -f prometheus_*.deb ) || \
		echo "promtool unavailable (apt-get download prometheus failed): the metrics checks will skip, and make test fails on the skip"

tools:
	@test -x $(GOBIN)/protoc-gen-go || $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@test -x $(GOBIN)/protoc-gen-go-grpc || $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

proto: tools
	PATH=$(GOBIN):$$PATH protoc -I proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/skiff/v1/*.proto

# Fails when the committed generated code differs from what `make proto`
# makes, or when `make proto` makes a file git does not track.
proto-check: deps proto
	@git diff --exit-code --stat -- proto/ || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }
	@untracked=$$(git status --porcelain --untracked-files=all -- proto/); if [ -n "$$untracked" ]; then \
		echo "generated or proto files git does not track (commit or remove them):"; echo "$$untracked"; exit 1; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Each step of `make test` is a target of its own; add a step to this list.
# Beside the plain tests (mostly e2e clusters waiting on themselves) run,
# one after the other, the fuzz targets (a fixed wall time on one core
# each) and the hermetic run (its own network namespace, HOME and
# variables, so it cannot meet the plain run's clusters); their output
# follows the plain run's. What the run's clusters share and made (skiff's
# parent cgroup, the lab subnets' lock) is removed at its end, pass or
# fail (hack/shared-leftovers.sh).
test: deps promtool vm-kernel proto-check lint
	@mkdir -p .cache; ./hack/shared-leftovers.sh save .cache/shared-leftovers; \
	if ! $(MAKE) --no-print-directory test-race; then ./hack/shared-leftovers.sh clean .cache/shared-leftovers; exit 1; fi; \
	( $(MAKE) --no-print-directory fuzz FUZZPARALLEL=1 && \
		$(MAKE) --no-print-directory test-hermetic ) >.cache/beside.log 2>&1 & beside=$$!; \
	$(MAKE) --no-print-directory test-plain; plain=$$?; \
	wait $$beside; besides=$$?; cat .cache/beside.log; \
	./hack/shared-leftovers.sh clean .cache/shared-leftovers; \
	if [ $$besides != 0 ]; then echo "make fuzz or make test-hermetic failed"; fi; \
	if [ $$((plain | besides)) != 0 ]; then exit 1; fi

# The daemons' packages run under the race detector (instead of a plain run:
# -race finds the same failures and more); the rest run plain. Both streams
# of `go test -json` go through internal/skipcheck, which prints them as
# plain go test would and fails on a skip missing from its allow-list.
# The e2e tests run in parallel, three at a time: each spends most of its
# time waiting on its own cluster.
RACE_PKGS := ./apiserver/... ./client/... ./controlplane/... ./scheduler/... ./controller/... ./dnsserver/... ./nodeagent/... ./dashboard/...
SKIP_ALLOW := internal/skipcheck/allowed.txt
test-go: test-race test-plain

test-race: .cache/skipcheck
	@set -o pipefail; SKIFF_PROMTOOL=$(PROMTOOL) $(GO) test -json -count=1 -timeout 25m -race $(RACE_PKGS) 2>&1 | \
		.cache/skipcheck -allow $(SKIP_ALLOW)

test-plain: .cache/skipcheck
	@plain=$$($(GO) list ./... | grep -v -x -F "$$($(GO) list $(RACE_PKGS))"); \
	set -o pipefail; SKIFF_PROMTOOL=$(PROMTOOL) $(GO) test -json -count=1 -timeout 25m -parallel 3 $$plain 2>&1 | \
		.cache/skipcheck -allow $(SKIP_ALLOW)

.cache/skipcheck: FORCE
	@$(GO) build -o .cache/skipcheck ./internal/skipcheck

# The packages that touch config, ports and host networking, again under a
# hostile machine: a ~/.skiff/config for a server nobody runs, junk SKIFF_*
# variables, and the `ip skiff` table, skiff0 bridge and route `skiff up`
# leaves (in a network namespace of the run's own). See hack/test-hermetic.sh.
test-hermetic: deps
	GO=$(GO) ./hack/test-hermetic.sh

# Every fuzz target (hack/fuzz.sh finds them: 9 today) runs for FUZZTIME,
# about 6 minutes in all with their builds. Each target's corpus in
# testdata/fuzz/<Name>/ (crashers found before, in `go test fuzz v1`
# format) runs in every plain `go test` too; a new crasher lands there to
# be committed with its fix. `make fuzz FUZZTIME=10m` for a longer hunt.
# See hack/fuzz.sh for the one failure it does not count.
FUZZTIME ?= 30s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZPARALLEL=$(FUZZPARALLEL) ./hack/fuzz.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bench/...

clean:
	rm -rf bin $(SHIM_EMBED)
