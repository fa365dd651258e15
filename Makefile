# Every target uses Go 1.27.3 (PocketBase v0.40.4 needs it); the go command
# fetches that toolchain from the module proxy on first use.
export GOTOOLCHAIN := go1.27.3

BINARY := pbkeys
HTTP   ?= 127.0.0.1:8090

.PHONY: run build test generate lint bench wrk load soak fuzz

## run: build and serve on $(HTTP) with data in ./pb_data (and pb_hooks, pb_migrations, pb_public beside it, as PocketBase does)
run: build
	./$(BINARY) serve --http=$(HTTP) --dir=./pb_data

## build: a single static binary ./pbkeys (pure Go SQLite, no cgo)
build:
	CGO_ENABLED=0 go build -trimpath -o $(BINARY) .

## test: every test (browser tests skip with a message when Chromium is missing, unless CI=true)
test:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "$$PBKEYS_CHROMIUM" ]; then \
		echo "note: Chromium not found, so the browser tests (internal/e2e) will be skipped."; \
		echo "      Install it with 'sudo apt-get install chromium' to run them (CI=true makes them required)."; \
	fi
	@if [ ! -d internal/sdktest/js/node_modules ]; then \
		if command -v npm >/dev/null 2>&1; then npm ci --prefix internal/sdktest/js --no-audit --no-fund --silent; \
		else echo "note: npm not found, so the JS SDK test (internal/sdktest) will be skipped (CI=true makes it required)."; fi; \
	fi
	go test -count=1 ./...
	cd examples/hostapp && go test -count=1 ./...
	@ls test-artifacts/*.png 2>/dev/null | sed 's|^|browser test screenshot: |' || true

## generate: regenerate templ components (generated files are committed)
generate:
	go tool templ generate

## lint: gofmt, go vet, and generated code up to date
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	cd examples/hostapp && go vet ./...
	go tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ code is stale: run 'make generate' and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- '*_templ.go'); if [ -n "$$untracked" ]; then echo "uncommitted generated files: $$untracked"; exit 1; fi

## bench: in-process benchmarks — record view with JWT, warm key, key without cache, /api/health, and their ratios; 100,000 keys vs one; each stage of a key request beside PocketBase's JWT stages (CPU and allocations); the verifier's parts (docs/performance.md)
bench:
	go test -run='^$$' -bench='^(BenchmarkAuth|BenchmarkManyKeys)$$' ./internal/bench
	go test -run='^$$' -bench='^BenchmarkStage' -benchmem ./internal/... ./hooks
	go test -run='^$$' -bench=. -benchmem ./internal/verifier

## wrk: the built binary under wrk (Debian's wrk), JWT vs key on the owner's own record and a plain collection record, 5 interleaved rounds of 6 s each; the median key/JWT and its range (about 2.5 min)
wrk: build
	go run ./cmd/loadtest -binary ./$(BINARY) -only-wrk

## load: `make wrk`'s comparison, then what wrk cannot do, with a Go client: a 20 s flood of wrong secrets, realtime fan-out to 500 SSE clients with a JWT and a key, then after restarts a herd of 200 keys, 200 keys vs one, a key id under attack (about 7 min, stops by itself)
load: build
	go run ./cmd/loadtest -binary ./$(BINARY) -phase 5s -rounds 5 -flood 20s -rt-clients 500 -rt-events 100

## soak: the built binary under a steady mix (JWT, warm keys, new keys, wrong secrets, realtime) for 4 min, RSS sampled; prints the growth after warm-up
soak: build
	go run ./cmd/loadtest -binary ./$(BINARY) -soak 4m -soak-warmup 1m

## fuzz: fuzz the Authorization-header parser and the key policy through the router (FUZZTIME=20s each by default)
FUZZTIME ?= 20s
# An input of FuzzKeyPolicy takes tens of milliseconds (a realtime round trip), so the default
# minimization of each new input (up to 60 s of reruns) left it fuzzing ~15 inputs in 20 s.
fuzz:
	go test -run='^$$' -fuzz='^FuzzFromAuthorization$$' -fuzztime=$(FUZZTIME) ./internal/apikey
	go test -run='^$$' -fuzz='^FuzzKeyPolicy$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x ./hooks
