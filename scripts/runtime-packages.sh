#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries BINARY loads (ldd + dpkg -S), one per
# line, sorted: the runtime stage of the Dockerfile installs exactly these.
# Usage: scripts/runtime-packages.sh BINARY    (exit 1 when a library is missing or unowned)
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY" >&2
  exit 2
fi
bin=$1
if [ ! -x "$bin" ] || [ -d "$bin" ]; then
  echo "runtime-packages.sh: '$bin' is not an executable file" >&2
  exit 1
fi
if [ "$(head -c 4 "$bin" | od -An -c | tr -d ' ')" != '177ELF' ]; then
  echo "runtime-packages.sh: '$bin' is not an ELF binary" >&2
  exit 1
fi
if ! out=$(LC_ALL=C ldd "$bin" 2>&1); then
  # A static binary needs no shared-library packages.
  if grep -q "not a dynamic executable" <<<"$out"; then exit 0; fi
  echo "runtime-packages.sh: ldd $bin failed: $out" >&2
  exit 1
fi

# The package owning a library file. Debian 12 merged /lib into /usr/lib, but dpkg records the
# path each package shipped, so try the path as ldd printed it, its resolved form, and the other
# side of the merge.
owner() {
  local path=$1 candidate alt
  for candidate in "$path" "$(readlink -f "$path")"; do
    for alt in "$candidate" "${candidate#/usr}" "/usr$candidate"; do
      if found=$(dpkg-query -S "$alt" 2>/dev/null | grep -v '^diversion by'); then
        # "libssl3:amd64: /usr/lib/..."; a path shared by several packages lists them with ", ".
        sed -E 's/: \/.*$//; s/, /\n/g' <<<"$found" | sed -E 's/:[a-z0-9_-]+$//'
        return 0
      fi
    done
  done
  return 1
}

status=0
packages=()
while IFS= read -r line; do
  # "libfoo.so.1 => /path (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)"
  if [[ $line =~ "=> not found" ]]; then
    echo "runtime-packages.sh: $bin needs a library that is not installed: ${line%% =>*}" >&2
    status=1
    continue
  fi
  path=$(sed -nE 's/^[^/]*(\/[^ ]+) \(0x[0-9a-f]+\)$/\1/p' <<<"$line")
  [ -n "$path" ] || continue  # the vDSO lives in the kernel, not in a file
  if ! pkgs=$(owner "$path"); then
    echo "runtime-packages.sh: no Debian package owns $path" >&2
    status=1
    continue
  fi
  while IFS= read -r p; do packages+=("$p"); done <<<"$pkgs"
done <<<"$out"
[ "$status" -eq 0 ] || exit "$status"
printf '%s\n' "${packages[@]}" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' | sort -u
