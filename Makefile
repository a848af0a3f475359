# supabridge — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO         ?= go
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags "-s -w"
FUNCTIONS  := exchange refresh
GOARCH_LAMBDA ?= arm64

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## serve every function at http://127.0.0.1:8787/functions/v1/<name> (dev issuer when no provider is set)
	$(GO) run ./cmd/supabridge serve

.PHONY: test
test: lint test-go test-js ## everything CI runs: lint, all Go tests with -race, the JS client's tests

.PHONY: dex
dex: ## build the Dex binary the integration tests run (once per machine, cached outside the repo; DEX_BIN overrides)
	@bash scripts/dex-build.sh >/dev/null

.PHONY: test-go
test-go: dex ## Go tests with the race detector
	$(GO) test -race -count=1 ./...

.PHONY: test-js
test-js: ## JS client: unit, type and integration tests against the real functions and Dex (Node 20+)
	cd clients/js && npm ci --no-audit --no-fund && npm test

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (pinned in go.mod)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/dex/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: bench
bench: ## benchmarks: bare crypto floor beside the exchange path (benchstat-readable)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./shared/... | tee bench.txt

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

.PHONY: events
events: ## regenerate events/*.json (SAM local events, signed with the TEST-ONLY key in events/)
	$(GO) run ./events/gen

.PHONY: clean
clean: ## remove build outputs
	rm -rf bin dist .aws-sam bench.txt
