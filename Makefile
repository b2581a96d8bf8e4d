# The two set-up commands of the README: `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
DEV_CERTS ?= .dev-certs
PORT ?= 9443
MLNETPOL := $(BUILD_DIR)/mlnetpol

FUZZ_SECONDS ?= 60
ASAN_BUILD_DIR ?= build-asan

.PHONY: deps build run test test-asan fuzz clean bench bench-reconcile

deps:
	@scripts/setup-deps.sh

build: deps
	@scripts/build.sh $(BUILD_TYPE) $(BUILD_DIR)

run: build
	@test -s $(DEV_CERTS)/tls.crt || $(MLNETPOL) certs --dev --service mlnetpol --namespace mlnetpol-system --out $(DEV_CERTS)
	@echo "CA certificate: $(abspath $(DEV_CERTS))/ca.crt"
	@echo "Try it (from another shell):"
	@echo "  curl --cacert $(abspath $(DEV_CERTS))/ca.crt -H 'Content-Type: application/json' --data @examples/pod-create-training-namespace.json https://127.0.0.1:$(PORT)/mutate"
	@exec $(MLNETPOL) serve --port $(PORT) --bind-address 127.0.0.1 \
	  --tls-cert-file $(DEV_CERTS)/tls.crt --tls-key-file $(DEV_CERTS)/tls.key --log-format text

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build folder (the
# suites that start the binary start the sanitized one from there).
test-asan: deps
	@scripts/build.sh Debug $(ASAN_BUILD_DIR) -DMLNETPOL_SANITIZE=ON
	@cd $(ASAN_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure --timeout 900

# Each libFuzzer target for FUZZ_SECONDS seconds (clang-14; build-fuzz).
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# The benchmark against nginx (bench/README.md): a Release build of its own, then bench/run.sh.
bench: deps
	@scripts/build.sh Release build-release
	@bench/run.sh

# Issue 21's reconciler targets against the real kube-apiserver (MLNETPOL_KAPI): start-up at
# 10,000 namespaces, no-change pass, 500 at once, RSS, API-server restart (bench/README.md).
bench-reconcile: build
	@bench/reconcile.py

clean:
	rm -rf $(BUILD_DIR)
