# The two set-up commands of the README: `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
DEV_CERTS ?= .dev-certs
PORT ?= 9443
MLNETPOL := $(BUILD_DIR)/mlnetpol

.PHONY: deps build run test clean bench bench-reconcile

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

bench: build
	@bench/run.sh

# Reconciler latency, resync cost and RSS against the real kube-apiserver (MLNETPOL_KAPI).
bench-reconcile: build
	@bench/reconcile.py

clean:
	rm -rf $(BUILD_DIR)
