#!/usr/bin/env bash
# Installs every Debian package listed in deps/debian-packages.txt (idempotent),
# then makes V8 (libnode) available (deps/get-libnode.sh).
#   deps/install.sh           build + test dependencies
#   deps/install.sh --bench   also the benchmark tools
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
want_bench=0
[[ "${1:-}" == "--bench" ]] && want_bench=1

packages=()
section=main
while IFS= read -r line; do
  line="${line%%#*}"; line="${line//[[:space:]]/}"
  [[ -z "$line" ]] && continue
  if [[ "$line" == "[bench]" ]]; then section=bench; continue; fi
  if [[ "$section" == main || $want_bench == 1 ]]; then packages+=("$line"); fi
done < "$here/debian-packages.txt"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if (( ${#missing[@]} )); then
  echo "deps: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps package postinst scripts from starting services (nginx, postgresql)
  # on machines without an init system; tests start their own throw-away servers.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    remove_policy=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ "${remove_policy:-0}" == 1 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
else
  echo "deps: all ${#packages[@]} Debian packages present"
fi

"$here/get-libnode.sh"
