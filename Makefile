# supabridge — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO         ?= go
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags "-s -w"
FUNCTIONS  := exchange refresh
GOARCH_LAMBDA ?= arm64

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z0-9_-]+:.*## /{printf "  %-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# make run's port: PORT=9999 make run. The address stays loopback: the development issuer
# refuses any other (run `supabridge serve --addr` with your own provider for that).
PORT ?= 8787

.PHONY: run
run: ## serve every function at http://127.0.0.1:$PORT/functions/v1/<name> (PORT default 8787) with the development issuer
	@$(GO) run ./cmd/supabridge serve --dev-issuer --addr 127.0.0.1:$(PORT)

.PHONY: test
test: lint test-go fuzz-short test-js deploy-test ## everything CI runs: lint, Go tests with -race, every fuzz target briefly, the JS client's tests, the deploy/ validation

.PHONY: dex
dex: ## build the Dex binary the integration tests run (once per machine, cached outside the repo; DEX_BIN overrides)
	@bash scripts/dex-build.sh >/dev/null

.PHONY: test-go
test-go: dex ## Go tests with the race detector
	$(GO) test -race -count=1 ./...

.PHONY: test-js test-js-node22 test-js-node20
test-js: test-js-node22 test-js-node20 ## JS client on both supported set-ups (Node 22 + newest supabase-js, Node 20 + the newest that supports it)

test-js-node22: dex ## JS client: every test on Node 22 (npm registry's node, cached outside the repo) with clients/js/package-lock.json
	bash clients/js/scripts/test.sh node22

test-js-node20: dex ## JS client: every test on Node 20 with clients/js/compat/node20/package-lock.json (supabase-js 2.109, ws)
	bash clients/js/scripts/test.sh node20

.PHONY: deploy-test
deploy-test: ## deploy/validate (its own module): kustomize build of every overlay, strict k8s/Knative decoding and validation, CRD schemas, Traefik routes; vet and staticcheck too
	$(GO) build -o bin/staticcheck honnef.co/go/tools/cmd/staticcheck
	cd deploy/validate && $(GO) vet ./... && ../../bin/staticcheck ./... && $(GO) test -count=1 ./...

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (pinned in go.mod)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/dex/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: bench
bench: ## benchmarks in one run (both floors, verifier, mint, mint and exchange signing HS256 vs ES256, exchange RS256/ES256/EdDSA x 1/3 providers, Lambda v2) into bench.txt, then the handler/floor ratios and the signing side by side
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count 1 ./shared/... ./bench/... | tee bench.txt
	@awk '/^BenchmarkExchangeFloorRatio/ { for (i = 2; i < NF; i++) { if ($$(i+1) == "handler/floor") r = $$i; if ($$(i+1) == "handler/stdfloor") s = $$i } } END { if (r == "" || s == "") { print "no handler/floor or handler/stdfloor ratio in bench.txt"; exit 1 } print "handler/floor ratio: " r " (bare crypto; docs/performance.md)"; print "handler/stdfloor ratio: " s " (standard-library exchange; target 1.25)" }' bench.txt
	@awk '/^Benchmark(MintSigning|ExchangeSigning)\/sign=(HS256|ES256)/ { sub(/-[0-9]+$$/, "", $$1); printf "%-36s %12s ns/op\n", $$1, $$3 } /^BenchmarkSigningRatio/ { for (i = 2; i < NF; i++) if ($$(i+1) == "es256/hs256") r = $$i } END { if (r == "") { print "no es256/hs256 ratio in bench.txt"; exit 1 } print "exchange es256/hs256 (interleaved): " r }' bench.txt

.PHONY: bench-rls
bench-rls: ## RLS at a million rows in a real PostgreSQL, per-row vs initplan policies, EXPLAIN logged (about 70 s, not in CI) into bench-rls.txt
	set -o pipefail; $(GO) test -v -run '^$$' -bench RLSMillion -benchtime 2s -timeout 30m ./e2e/rls | tee bench-rls.txt

.PHONY: load
load: ## loopback load test (go run ./bench/load, about 2.5 min): exchange binary vs both floor servers (vegeta, taskset-pinned), CPU per request, rotation, sizes, cold start
	$(GO) run ./bench/load

FUZZTIME       ?= 2m
FUZZTIME_SHORT ?= 3s

.PHONY: fuzz fuzz-short
fuzz: ## every fuzz target for FUZZTIME each (default 2m); a failing input lands in <package>/testdata/fuzz/
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

fuzz-short: ## every fuzz target for a few seconds (part of make test)
	FUZZTIME=$(FUZZTIME_SHORT) bash scripts/fuzz.sh

.PHONY: soak
soak: ## the load tool's soak mode (go run ./bench/load soak; its flags in SOAKFLAGS): 60 s of valid and hostile requests at 500 req/s against the built exchange binary, every answer judged, JWKS outage mid-run (not in CI)
	$(GO) run ./bench/load soak $(SOAKFLAGS)

.PHONY: build
build: ## static linux binaries: bin/exchange, bin/refresh (Lambda bootstrap-ready) and bin/supabridge
	@mkdir -p bin
	@for f in $(FUNCTIONS); do \
	  [ -d functions/$$f ] || continue; \
	  CGO_ENABLED=0 GOOS=linux $(GO) build $(GOFLAGS_LAMBDA) -o bin/$$f ./functions/$$f || exit 1; \
	done
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/supabridge ./cmd/supabridge

# SAM (BuildMethod: makefile) calls these with ARTIFACTS_DIR set.
.PHONY: build-ExchangeFunction build-RefreshFunction
build-ExchangeFunction: ## SAM: bootstrap for the exchange function into $(ARTIFACTS_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/exchange
build-RefreshFunction: ## SAM: bootstrap for the refresh function into $(ARTIFACTS_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/refresh

# --- container images: tools/ocimage, no Docker engine, no registry ---
IMAGE_VERSION  ?= 0.1.0
IMAGE_REPO     ?= dev.local/supabridge
IMAGE_ARCHS    ?= amd64 arm64
IMAGE_FUNCS    ?= exchange refresh
IMAGE_EPOCH    ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_REV      ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE_SOURCE   ?= $(shell git config --get remote.origin.url 2>/dev/null | grep -E "^https://")
IMAGE_LICENSES ?= Apache-2.0
CA_BUNDLE      ?= /etc/ssl/certs/ca-certificates.crt
WATCHDOG_DIR   ?=

# image-build FLAVOUR,TAGSUFFIX,EXTRA: the binaries for every IMAGE_ARCHS, then
# one OCI archive per function holding an index of all of them.
define image-build
	@mkdir -p dist/bin dist/images
	$(GO) build -o dist/bin/ocimage ./tools/ocimage
	@set -e; for fn in $(IMAGE_FUNCS); do bins=; \
	  for arch in $(IMAGE_ARCHS); do \
	    CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(GOFLAGS_LAMBDA) -o dist/bin/linux-$$arch/$$fn ./functions/$$fn; \
	    bins="$$bins -binary $$arch=dist/bin/linux-$$arch/$$fn$(3)"; \
	  done; \
	  dist/bin/ocimage -name $$fn $$bins -tag $(IMAGE_REPO)/$$fn:$(IMAGE_VERSION)$(2) \
	    -ca "$(CA_BUNDLE)" -licenses "$(IMAGE_LICENSES)" -source "$(IMAGE_SOURCE)" \
	    -revision "$(IMAGE_REV)" -epoch $(IMAGE_EPOCH) -out dist/images/$$fn$(1).oci.tar; \
	done
endef

.PHONY: image image-openfaas
image: ## one OCI archive per function, dist/images/<fn>.oci.tar: an image index for IMAGE_ARCHS (amd64 arm64), for k3s ctr images import (CA_BUNDLE, IMAGE_SOURCE)
	$(call image-build,,,)

image-openfaas: ## the same behind of-watchdog, dist/images/<fn>-openfaas.oci.tar: WATCHDOG_DIR=<dir with fwatchdog-amd64/-arm64>
	@test -n "$(WATCHDOG_DIR)" || { echo "image-openfaas: set WATCHDOG_DIR to a directory holding fwatchdog-<arch> from an of-watchdog release" >&2; exit 2; }
	$(call image-build,-openfaas,-openfaas, -watchdog $$arch=$(WATCHDOG_DIR)/fwatchdog-$$arch)

.PHONY: events
events: ## regenerate events/*.json (SAM local events, signed with the TEST-ONLY key in events/)
	$(GO) run ./events/gen

.PHONY: clean
clean: ## remove build outputs
	rm -rf bin dist .aws-sam bench.txt bench-rls.txt
