#!/usr/bin/env bash
# Installs every Debian package listed in deps/debian-packages.txt (idempotent),
# then makes V8 (libnode) available (deps/get-libnode.sh).
#   deps/install.sh           build + test dependencies
#   deps/install.sh --bench   also the benchmark tools
#   deps/install.sh --package also the packaging tools (scripts/package.sh, scripts/install-test.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
want_bench=0
want_package=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    --package) want_package=1 ;;
    *) echo "usage: deps/install.sh [--bench] [--package]" >&2; exit 2 ;;
  esac
done

packages=()
backports=()
section=main
while IFS= read -r line; do
  line="${line%%#*}"; line="${line//[[:space:]]/}"
  [[ -z "$line" ]] && continue
  case "$line" in
    "[backports]") section=backports; continue ;;
    "[bench]") section=bench; continue ;;
    "[package]") section=package; continue ;;
  esac
  case "$section" in
    main) packages+=("$line") ;;
    backports) backports+=("$line") ;;
    bench) if [[ $want_bench == 1 ]]; then packages+=("$line"); fi ;;
    package) if [[ $want_package == 1 ]]; then packages+=("$line"); fi ;;
  esac
done < "$here/debian-packages.txt"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
missing_backports=()
for p in "${backports[@]}"; do installed "$p" || missing_backports+=("$p"); done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# bookworm-backports is a Debian suite like bookworm-updates; it is only added on bookworm, and
# apt installs from it only what is asked for with -t (its packages are pinned low by default).
backports_suite=""
if (( ${#missing_backports[@]} )); then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [[ "$codename" == bookworm ]]; then
    backports_suite=bookworm-backports
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deps: adding the Debian suite bookworm-backports"
      printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" \
        "Suites: bookworm-backports" "Components: main" \
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
        $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
    fi
  else
    echo "deps: not on bookworm; skipping backports (${missing_backports[*]}): the Go examples" \
         "and their tests will skip unless a Go >= 1.21 is on PATH"
  fi
fi

if (( ${#missing[@]} )) || [[ -n "$backports_suite" ]]; then
  echo "deps: installing ${#missing[@]} package(s): ${missing[*]}"
  [[ -n "$backports_suite" ]] && echo "deps: from $backports_suite: ${missing_backports[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps package postinst scripts from starting services (nginx, postgresql)
  # on machines without an init system; tests start their own throw-away servers.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    remove_policy=1
  fi
  if (( ${#missing[@]} )); then
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if [[ -n "$backports_suite" ]]; then
    $SUDO apt-get install -y -qq --no-install-recommends -t "$backports_suite" \
      "${missing_backports[@]}"
  fi
  if [[ "${remove_policy:-0}" == 1 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
else
  echo "deps: all $(( ${#packages[@]} + ${#backports[@]} )) Debian packages present"
fi

"$here/get-libnode.sh"
