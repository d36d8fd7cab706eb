# codeterm: make run starts a server on the built-in defaults; make test runs every test.
GO      ?= go
BIN     := bin/codeterm
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Flags for "make run", e.g. make run ARGS="--data /tmp/ct".
ARGS    ?=

.PHONY: build run test test-go fuzz bench bench-node lint clean conformance-server web bench-files deb

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/server

run: build
	./$(BIN) serve $(ARGS)

test: lint test-go fuzz

# -count=1: the Node and browser suites read files the Go test cache cannot see.
test-go:
	$(GO) test -race -count=1 -timeout 20m ./...

# A short run of each fuzz target; longer runs: make fuzz FUZZTIME=5m.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEngineIOPayload$$' -fuzztime $(FUZZTIME) ./webbridge/socketio/engineio
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSocketIOPacket$$' -fuzztime $(FUZZTIME) ./webbridge/socketio
	$(GO) test -run '^$$' -fuzz '^FuzzRoundTrip$$' -fuzztime $(FUZZTIME) ./sessions/vt
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME) ./sshd

# make bench: the Go micro-benchmarks, then bench/ puts codeterm beside the raw
# PTY, OpenSSH (needs openssh-server), node-pty + socket.io and wetty in one run
# and writes bench/RESULTS.md. make bench QUICK=1 is the short version.
# The Go benchmarks include web's BenchmarkPageOutputForms (terminal-output's
# two forms in headless Chromium, about 2 minutes; web/README.md).
bench: bench-node
ifdef QUICK
	$(GO) test -run '^$$' -bench . -benchtime 1x -benchmem -timeout 30m ./...
	$(GO) run ./bench -quick
else
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...
	$(GO) run ./bench
endif

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The Node stack codeterm is compared with (node-pty + socket.io, wetty) and
# the socket.io-client driver; node-pty compiles a native module. The
# upgrade benchmark's socket.io-client is webbridge/e2e's.
bench-node:
	cd bench/node && npm ci --no-audit --no-fund && npm rebuild node-pty --foreground-scripts
	cd webbridge/e2e && npm ci --no-audit --no-fund

# File transfer: a 256 MiB file over the socket, HTTP and scp beside
# OpenSSH's, into bench/FILES.md (only socket.io-client is needed from Node).
bench-files:
	test -d bench/node/node_modules/socket.io-client || (cd bench/node && npm ci --no-audit --no-fund --ignore-scripts)
	$(GO) run ./bench -files 256

# The server the official Engine.IO and Socket.IO protocol suites expect, on
# localhost:3000 (IPv4 and IPv6).
conformance-server:
	$(GO) run ./cmd/conformance-server

# Rebuild the web page into web/static (committed, so make run needs no Node).
# make test fails when the committed bundle is stale.
web:
	cd web && npm ci --no-audit --no-fund && npm run typecheck && npm run build

# make deb: the Debian package in $(DIST) (docs/OPERATIONS.md), built by nfpm
# from the Go module proxy. The version starts with a digit, as Debian wants.
NFPM       ?= github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DIST       ?= dist
DEB_ARCH   ?= $(shell $(GO) env GOARCH)
DEB_VERSION ?= 0~$(subst -,.,$(VERSION))

# packaging/nfpm.yaml takes the binary and the server configuration from dist/stage.
deb:
	mkdir -p dist/stage $(DIST)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o dist/stage/codeterm ./cmd/server
	sed -f packaging/server-config.sed config.example.yaml > dist/stage/config.yaml
	ARCH=$(DEB_ARCH) VERSION=$(DEB_VERSION) \
		$(GO) run $(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DIST)/

clean:
	rm -rf bin dist
