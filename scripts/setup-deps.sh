#!/usr/bin/env bash
# Installs the Debian 12 packages mlnetpol needs to build and test; uses sudo when not root.
# One list for `make run`, `make test`, CI and the Dockerfile build stage.
set -euo pipefail
build_pkgs=(g++ make cmake ninja-build pkg-config libboost1.81-dev libssl-dev rapidjson-dev libsimdjson-dev libspdlog-dev
  libfmt-dev libyaml-cpp-dev doctest-dev openssl ca-certificates ccache)
# prometheus brings promtool (tests/monitoring); its own service is not used by anything here.
# clang-14 + libclang-rt-14-dev: the libFuzzer targets (make fuzz); etcd-server: the real API server
# of the e2e suites (kapi).
test_pkgs=(nlohmann-json3-dev python3 python3-jsonschema python3-yaml curl wrk nginx-light graphviz
  prometheus clang-14 libclang-rt-14-dev etcd-server)
pkgs=("${build_pkgs[@]}")
[ "${1:-}" = "--build-only" ] || pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl is not a Debian package (the machines have it); where it is absent the manifests test reports skipped.
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
