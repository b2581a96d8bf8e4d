#!/usr/bin/env bash
# mlnetpol's memory under load: `serve --threads 1`, the 3.5 KB pod review on /validate over 64
# connections; prints RSS and peak RSS (VmHWM) after each million requests, up to --millions
# (default 10). The targets: peak <= 32 MiB after the first million, no growth from the second on.
# Usage: bench/rss.sh [--millions N] [--endpoint validate|mutate] [--step REQUESTS]
# (--step: requests per step instead of a million, to check the script quickly).
# Env: MLNETPOL (binary, default build-release/mlnetpol).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${MLNETPOL:-$root/build-release/mlnetpol}
millions=10 endpoint=validate step=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --millions) millions=$2; shift 2 ;; --endpoint) endpoint=$2; shift 2 ;;
    --step) step=$2; shift 2 ;;
    *) echo "rss: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "rss: skipped, wrk is not installed (apt-get install wrk)"; exit 0; }
[ -x "$binary" ] || { echo "rss: $binary not built" >&2; exit 2; }
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$binary" certs --dev --out "$work/certs" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --threads 1 --port "$port" --bind-address 127.0.0.1 --metrics-bind-address 0 \
  --tls-cert-file "$work/certs/tls.crt" --tls-key-file "$work/certs/tls.key" --log-format=json \
  >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -sf --cacert "$work/certs/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
# Exits after one step's responses, a million by default (one wrk thread, so one counter; wrk.thread:stop() would
# leave wrk sleeping out its -d).
cat > "$work/million.lua" <<LUA
local f = io.open("$root/bench/bodies/pod-create-training.json", "rb"); local b = f:read("*all"); f:close()
wrk.method = "POST"; wrk.body = b; wrk.headers["Content-Type"] = "application/json"
local n = 0
function response(status)
  n = n + 1
  if n >= $step then os.exit(0) end
end
LUA
kib() { awk -v k="$1" '/^'"$1"':/ {print $2}' "/proc/$pid/status"; }
echo "mlnetpol serve --threads 1, /$endpoint, pod review, 64 connections; RSS after each $step requests"
echo "at start: RSS $(kib VmRSS) KiB"
for m in $(seq 1 "$millions"); do
  wrk -t1 -c64 -d3600s -s "$work/million.lua" "https://127.0.0.1:$port/$endpoint" >/dev/null 2>&1
  echo "after $((m * step)) requests: RSS $(kib VmRSS) KiB, peak $(kib VmHWM) KiB"
done
