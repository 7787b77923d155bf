# Heady — build, run and test.
#   make run    build everything and start Heady with the default policies (./data, :3000)
#   make test   the whole test suite (unit, end-to-end with real plugins, fuzz seeds)
#   make bench  benchmarks with same-run baselines

GO        ?= go
BIN       := $(CURDIR)/bin
PLUGINS   := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/heady-dev/heady/host/app.Version=$(VERSION)
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build heady plugins demoapp screenshots chaos run test test-short vet proto check-proto bench fuzz clean

all: build

build: heady plugins demoapp

heady:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/heady ./host/cmd/heady

demoapp:
	$(GO) build -o $(BIN)/demoapp ./examples/demoapp

plugins:
	@mkdir -p $(BIN)/plugins
	@for p in $(PLUGINS); do \
		echo "$(GO) build -o $(BIN)/plugins/heady-plugin-$$p ./plugins/$$p" ; \
		$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/plugins/heady-plugin-$$p ./plugins/$$p || exit 1 ; \
	done

run: build
	$(BIN)/heady run --policies ./policies --data ./data --listen :3000 --plugins $(BIN)/plugins

vet:
	$(GO) vet ./...

# The whole suite. End-to-end tests use the binaries built here (HEADY_BIN).
test: build vet check-proto
	HEADY_BIN=$(BIN) $(GO) test $(TESTFLAGS) ./...
	bash scripts/fuzz.sh 3s

test-short:
	$(GO) test -race -short ./...

proto:
	bash sdk/proto/generate.sh

check-proto:
	bash scripts/check-proto.sh

bench: build
	HEADY_BIN=$(BIN) bash scripts/bench.sh

fuzz:
	bash scripts/fuzz.sh 5m

# Kill -9 the host, plugins and services at random under load for DURATION
# (default 10m), then check that nothing accepted was lost.
chaos: build
	HEADY_BIN=$(BIN) bash scripts/chaos.sh $(or $(DURATION),10m)

# PNGs of every dashboard page at laptop and phone sizes, in screenshots/.
screenshots: build
	HEADY_BIN=$(BIN) bash scripts/screenshots.sh

clean:
	rm -rf $(BIN)
