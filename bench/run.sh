#!/usr/bin/env bash
# First throughput measurement: `mlnetpol serve --threads 1` against the nginx baseline, through
# ../shared/perf/compare.sh. Builds nothing: run `make build` (or scripts/build.sh) first.
# Usage: bench/run.sh [compare.sh arguments, e.g. --rounds 5 --seconds 10]
# Env: MLNETPOL (binary, default build/mlnetpol), MLNETPOL_SHARED_DIR (default ../shared),
#      LOG_LEVEL (default info: one decision line per request, as in production).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${MLNETPOL:-$root/build/mlnetpol}
shared=${MLNETPOL_SHARED_DIR:-$root/../shared}
[ -x "$binary" ] || { echo "bench: $binary not built; run 'make build' first" >&2; exit 2; }
[ -x "$shared/perf/compare.sh" ] || { echo "bench: $shared/perf/compare.sh not found" >&2; exit 2; }

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$binary" certs --dev --out "$work/certs" >/dev/null
# A free port: bind port 0 and let it go (the window before the server takes it is harmless here).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --threads 1 --port "$port" --bind-address 127.0.0.1 --metrics-bind-address 0 \
  --tls-cert-file "$work/certs/tls.crt" --tls-key-file "$work/certs/tls.key" \
  --log-format json --log-level "${LOG_LEVEL:-info}" >"$work/serve.log" 2>&1 &
pid=$!
ready=""
for _ in $(seq 1 50); do
  curl -sf --cacert "$work/certs/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && { ready=1; break; }
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ready" ] || { echo "bench: the server did not become ready" >&2; cat "$work/serve.log" >&2; exit 1; }

echo "mlnetpol serve --threads 1 on port $port ($(nproc) cores; body: pod-create-training.json)"
"$shared/perf/compare.sh" --url "https://127.0.0.1:$port/validate" "$@"
