#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan, build-fuzz) and runs each for SECONDS seconds
# on the seeds of tests/fuzz/make_seeds.py plus the corpus kept from earlier runs. Fails on any
# crash, leak, timeout (1 s) or slow input: over MLNETPOL_FUZZ_SLOW_MS (10 ms by default) of CPU
# time per started 4 KiB of input (see tests/fuzz/fuzz_support.hpp; each target re-runs a slow
# input twice and reports it when the fastest run is still over).
# Prints executions and coverage per target. Usage: scripts/fuzz.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build_dir=${2:-build-fuzz}
launcher=()
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}" CCACHE_NOHASHDIR=1
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMLNETPOL_FUZZ=ON "${launcher[@]}" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
rm -rf "$build_dir/seeds"
python3 tests/fuzz/make_seeds.py "$build_dir/seeds"
export MLNETPOL_FUZZ_SLOW_MS=${MLNETPOL_FUZZ_SLOW_MS:-10}
# Leaks fail the run; a UBSan finding aborts (-fno-sanitize-recover) and is reported as a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
mkdir -p "$build_dir/logs"
failed=()
summary=()
while read -r target; do
  [ -n "$target" ] || continue
  corpus="$build_dir/corpus/$target"
  artifacts="$build_dir/artifacts/$target/"
  log="$build_dir/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$build_dir/seeds/$target"
  echo "fuzzing $target for ${seconds}s (log: $log)"
  if ! "$build_dir/tests/fuzz/$target" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2560 \
      -max_len=131072 -dict="tests/fuzz/dict/$target.dict" -artifact_prefix="$artifacts" \
      -print_final_stats=1 "$corpus" "$build_dir/seeds/$target" >"$log" 2>&1; then
    failed+=("$target")
    echo "FAILED: $target (artifacts in $artifacts)"
    grep -E "==mlnetpol==|ERROR: |SUMMARY|Test unit written|slow input|runtime error" "$log" | head -20 || true
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  summary+=("$(printf '%-22s executions %-10s %s' "$target" "${runs:-?}" "${cov:-?}")")
done <"$build_dir/fuzzers.txt"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
