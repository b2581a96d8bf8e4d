#!/usr/bin/env bash
# The one build script: CI (`make test`), `make run` and the Dockerfile build stage all call it.
# Usage: scripts/build.sh [BUILD_TYPE] [BUILD_DIR] [CMAKE ARGS...]  (defaults: RelWithDebInfo, build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_type=${1:-RelWithDebInfo}
build_dir=${2:-build}
launcher=()
# Paths relative to the checkout, so a fresh clone (CI) reuses what another checkout compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}" CCACHE_NOHASHDIR=1
# ccache (when installed) makes rebuilds in several checkouts cheap; the build does not need it.
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "${launcher[@]}" "${@:3}" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
