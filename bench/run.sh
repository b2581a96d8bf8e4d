#!/usr/bin/env bash
# `make bench`: mlnetpol serve against the nginx baseline (bench/nginx.conf.in), side by side in one
# run, per thread count, endpoint and body. wrk (1 thread, 64 connections) warms both up, then
# alternates nginx and mlnetpol for several rounds; per pair: requests/s, ratio, p50/p99 and their
# ratio, CPU µs per request (process CPU time from /proc/<pid>/stat over the run / requests) and
# their ratio, how busy each server was; then mlnetpol's RSS. Medians, checked against issue 27's
# targets, at the end (bench/README.md).
# Builds nothing (the Makefile builds build-release first). Not a test: CI does not run it.
# Usage: bench/run.sh [--rounds N] [--seconds S] [--warmup S] [--conns C] [--threads "1 2"]
#                     [--endpoints "validate mutate"] [--bodies "pod namespace deployment"]
# Env: MLNETPOL (binary, default build-release/mlnetpol), LOG_LEVEL (default: the Deployment's, info).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${MLNETPOL:-$root/build-release/mlnetpol}
rounds=3 seconds=5 warmup=2 conns=64 threads="1 2" endpoints="validate mutate" bodies="pod namespace deployment"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;; --seconds) seconds=$2; shift 2 ;; --conns) conns=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;; --endpoints) endpoints=$2; shift 2 ;;
    --bodies) bodies=$2; shift 2 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v nginx >/dev/null || { echo "bench: skipped, nginx is not installed (apt-get install nginx-light)"; exit 0; }
command -v wrk >/dev/null || { echo "bench: skipped, wrk is not installed (apt-get install wrk)"; exit 0; }
[ -x "$binary" ] || { echo "bench: $binary not built; run 'make bench' or scripts/build.sh Release build-release" >&2; exit 2; }

declare -A body_file=([pod]=pod-create-training.json [namespace]=namespace-create.json
  [deployment]=deployment-create-30k.json)
work=$(mktemp -d)
mlnetpol_pid="" nginx_master=""
cleanup() {
  [ -n "$mlnetpol_pid" ] && kill "$mlnetpol_pid" 2>/dev/null && wait "$mlnetpol_pid" 2>/dev/null || true
  [ -n "$nginx_master" ] && kill "$nginx_master" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$binary" certs --dev --out "$work/certs" >/dev/null

# Process CPU time in clock ticks: mlnetpol's pid, or nginx's master and workers.
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
nginx_pids() { echo "$nginx_master" $(pgrep -P "$nginx_master"); }
hz=$(getconf CLK_TCK)
# wrk's latency column in ms.
to_ms() { awk '{v = $1; if (v ~ /us$/) printf "%.2f", v / 1000; else if (v ~ /ms$/) printf "%.2f", v + 0; else if (v ~ /s$/) printf "%.2f", v * 1000; else print "?"}'; }

# With 2 cores or more and --threads 1, the server under test (nginx's worker, or mlnetpol) runs on
# the last core and wrk on the others: the two never take turns on one core, and the ratio compares
# the servers, not how the scheduler placed three busy processes (see README: the two harnesses).
ncores=$(nproc)
server_cpu=$((ncores - 1)) client_cpus="0-$((ncores > 2 ? ncores - 2 : 0))"
pin_client() { if [ "$ncores" -ge 2 ] && [ "$1" = 1 ]; then echo "taskset -c $client_cpus"; fi; }
pin_server() { if [ "$ncores" -ge 2 ] && [ "$1" = 1 ]; then echo "taskset -c $server_cpu"; fi; }

# One wrk run against url with the body; prints "rps p50 p99 cpu_us_per_request non2xx busy"
# (busy: the server's CPU time over the run's wall time, in % of one core; well under 100 % per
# thread means wrk, not the server, set the pace, and the requests/s ratio is not the limit).
measure() {
  local url=$1 lua=$2; shift 2
  local before after out start end
  before=$(ticks "$@")
  start=$(date +%s.%N)
  out=$($wrk_pin wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$lua" "$url" 2>&1)
  end=$(date +%s.%N)
  after=$(ticks "$@")
  local rps requests p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}' | to_ms)
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}' | to_ms)
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  local cpu busy
  cpu=$(awk -v a="$before" -v b="$after" -v n="${requests:-0}" -v hz="$hz" \
    'BEGIN {if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "?"}')
  busy=$(awk -v a="$before" -v b="$after" -v s="$start" -v e="$end" -v hz="$hz" \
    'BEGIN {printf "%.0f", (b - a) / hz / (e - s) * 100}')
  echo "${rps:-0} $p50 $p99 $cpu ${non2xx:-0} $busy"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "?"}'; }

# --version prints several lines (version, commit, build); the header takes the first two.
version=$("$binary" --version 2>/dev/null | head -2 | paste -sd' ' || true)
echo "mlnetpol ${version:-($binary)} vs nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t1 -c$conns -d${seconds}s after a ${warmup}s warm-up of each, $rounds rounds alternating nginx / mlnetpol (odd rounds nginx first, even rounds mlnetpol first); serve flags as manifests/base/deployment.yaml (--log-format=json, log level ${LOG_LEVEL:-info}, --log-denies)"
[ "$ncores" -ge 2 ] && echo "--threads 1: the server on core $server_cpu, wrk on cores $client_cpus (taskset)"
# The targets of issue 27: requests/s ratio per body (both endpoints, both thread counts), and p99
# at most 1.5 times nginx's.
declare -A target=([pod]=0.85 [namespace]=0.90 [deployment]=0.75)
p99_target=1.5
summary=() missed=0 checked=0
for t in $threads; do
  wrk_pin=$(pin_client "$t")
  nginx_port=$(free_port)
  mkdir -p "$work/nginx"
  sed -e "s|@WORKERS@|$t|; s|@DIR@|$work/nginx|g; s|@PORT@|$nginx_port|; s|@CERT@|$work/certs/tls.crt|; s|@KEY@|$work/certs/tls.key|" \
    "$root/bench/nginx.conf.in" > "$work/nginx/nginx.conf"
  $(pin_server "$t") nginx -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" || { cat "$work/nginx/error.log" >&2; exit 1; }
  for _ in $(seq 1 50); do [ -s "$work/nginx/nginx.pid" ] && break; sleep 0.1; done
  nginx_master=$(cat "$work/nginx/nginx.pid")

  port=$(free_port)
  # A session of its own, as nginx's daemon has: with the kernel's autogroup scheduling a process
  # shares the CPU time of its session's group, and in wrk's session mlnetpol's threads took turns
  # with wrk where nginx's workers did not (bench/README.md: the harnesses).
  $(pin_server "$t") setsid "$binary" serve --threads "$t" --port "$port" --bind-address 127.0.0.1 --metrics-bind-address 0 \
    --tls-cert-file "$work/certs/tls.crt" --tls-key-file "$work/certs/tls.key" \
    --log-format=json --log-level "${LOG_LEVEL:-info}" >"$work/serve.log" 2>&1 &
  mlnetpol_pid=$!
  ready=""
  for _ in $(seq 1 100); do
    curl -sf --cacert "$work/certs/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "$mlnetpol_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "bench: mlnetpol did not become ready" >&2; cat "$work/serve.log" >&2; exit 1; }

  echo
  echo "== --threads $t vs nginx worker_processes $t"
  printf '%-9s %-10s %5s | %9s %9s %6s | %12s %12s %5s | %8s %8s %6s | %9s\n' endpoint body round \
    "nginx/s" "mlnetpol/s" ratio "nginx p50/99" "mlnp p50/99" "p99 x" "nginx µs" "mlnp µs" "µs x" "busy n/m"
  for endpoint in $endpoints; do
    for b in $bodies; do
      file="$root/bench/bodies/${body_file[$b]}"
      lua="$work/$b.lua"
      printf 'local f = io.open("%s", "rb"); local b = f:read("*all"); f:close()\nwrk.method = "POST"; wrk.body = b; wrk.headers["Content-Type"] = "application/json"\n' "$file" > "$lua"
      nginx_url="https://127.0.0.1:$nginx_port/$endpoint?timeout=10s"
      mlnetpol_url="https://127.0.0.1:$port/$endpoint?timeout=10s"
      # Warm-up (connections, caches, the allocator's pools), not counted.
      $wrk_pin wrk -t1 -c"$conns" -d"${warmup}s" -s "$lua" "$nginx_url" >/dev/null 2>&1
      $wrk_pin wrk -t1 -c"$conns" -d"${warmup}s" -s "$lua" "$mlnetpol_url" >/dev/null 2>&1
      ratios=() p99s=() cpus=()
      for r in $(seq 1 "$rounds"); do
        # Alternate which goes first, so a drift in the machine's load favours neither.
        if [ $((r % 2)) = 1 ]; then
          read -r nr n50 n99 ncpu _ nbusy < <(measure "$nginx_url" "$lua" $(nginx_pids))
          read -r mr m50 m99 mcpu mbad mbusy < <(measure "$mlnetpol_url" "$lua" "$mlnetpol_pid")
        else
          read -r mr m50 m99 mcpu mbad mbusy < <(measure "$mlnetpol_url" "$lua" "$mlnetpol_pid")
          read -r nr n50 n99 ncpu _ nbusy < <(measure "$nginx_url" "$lua" $(nginx_pids))
        fi
        ratio=$(awk -v a="$mr" -v b="$nr" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
        p99ratio=$(awk -v a="$m99" -v b="$n99" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
        # CPU per request, nginx's over mlnetpol's: the ratio of the limits even when wrk set the pace.
        cpuratio=$(awk -v a="$mcpu" -v b="$ncpu" 'BEGIN {printf "%.3f", (a > 0 ? b / a : 0)}')
        ratios+=("$ratio") p99s+=("$p99ratio") cpus+=("$cpuratio")
        printf '%-9s %-10s %5s | %9.0f %9.0f %6s | %5s/%-6s %5s/%-6s %5s | %8s %8s %6s | %4s/%-4s%s\n' "$endpoint" "$b" "$r" \
          "$nr" "$mr" "$ratio" "$n50" "$n99" "$m50" "$m99" "$p99ratio" "$ncpu" "$mcpu" "$cpuratio" \
          "$nbusy" "$mbusy" "$([ "$mbad" != 0 ] && echo "  non-2xx $mbad")"
      done
      mratio=$(printf '%s\n' "${ratios[@]}" | median)
      mp99=$(printf '%s\n' "${p99s[@]}" | median)
      verdict=$(awk -v r="$mratio" -v p="$mp99" -v t="${target[$b]}" -v pt="$p99_target" \
        'BEGIN {v = ""; if (r < t) v = v " ratio<" t; if (p > pt) v = v " p99>" pt "x"; print (v == "" ? "meets" : "MISSES" v)}')
      checked=$((checked + 1))
      case "$verdict" in MISSES*) missed=$((missed + 1)) ;; esac
      summary+=("$(printf '%-9s %-10s threads %s: median ratio %s, p99 ratio %s, CPU ratio %s: %s' "$endpoint" "$b" "$t" \
        "$mratio" "$mp99" "$(printf '%s\n' "${cpus[@]}" | median)" "$verdict")")
    done
  done
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$mlnetpol_pid/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$mlnetpol_pid/status")
  echo "mlnetpol --threads $t: RSS $((rss / 1024)) MiB, peak $((hwm / 1024)) MiB"
  summary+=("threads $t: mlnetpol RSS $((rss / 1024)) MiB, peak $((hwm / 1024)) MiB")
  kill "$mlnetpol_pid"; wait "$mlnetpol_pid" 2>/dev/null || true; mlnetpol_pid=""
  kill "$nginx_master"; nginx_master=""; sleep 0.3
done
echo
echo "== summary (medians; targets: ratio pod >= ${target[pod]}, namespace >= ${target[namespace]}, deployment >= ${target[deployment]}, p99 ratio <= $p99_target)"
printf '%s\n' "${summary[@]}"
echo "targets met: $((checked - missed)) of $checked"
