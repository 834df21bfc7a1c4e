#!/usr/bin/env bash
# Makes V8 10.2 (Debian bookworm's libnode108 / libnode-dev) available to the build.
#
# On plain Debian 12, libnode-dev installs normally and lands in /usr.
# On machines whose `nodejs` comes from another apt source (e.g. nodesource), libnode-dev
# cannot be installed (node-acorn depends on nodejs:any, and both own usr/include/node), so the
# two .debs are unpacked, without dpkg, into a build-local prefix: <repo>/.deps/libnode.
# CMake looks there first (LIBNODE_ROOT), then in /usr.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="${LIBNODE_ROOT:-$repo/.deps/libnode}"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"

if [[ -f /usr/include/node/v8-wasm.h ]] && grep -q 'V8_MAJOR_VERSION 10' /usr/include/node/v8-version.h 2>/dev/null \
   && ls /usr/lib/x86_64-linux-gnu/libnode.so.108 >/dev/null 2>&1; then
  echo "libnode: system libnode-dev (V8 10) present"; exit 0
fi
# $dest/DEBIAN holds libnode108's control files (its shlibs): dpkg-shlibdeps reads the dependency
# a package on libnode.so.108 needs from there when it builds .debs (cmake/Packaging.cmake).
if [[ -f "$dest/usr/include/node/v8-wasm.h" && -e "$dest/usr/lib/x86_64-linux-gnu/libnode.so.108" \
      && -f "$dest/DEBIAN/shlibs" ]]; then
  echo "libnode: unpacked copy present in $dest"; exit 0
fi

nodejs_origin=$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null || true)
if [[ -z "$nodejs_origin" || "$nodejs_origin" == *deb12* || "$nodejs_origin" == *dfsg* ]]; then
  # Debian's own nodejs (or none): the normal install works.
  if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libnode-dev; then
    echo "libnode: installed libnode-dev from Debian"; exit 0
  fi
fi

echo "libnode: nodejs ${nodejs_origin} is not Debian's; unpacking libnode108 + libnode-dev into $dest"
apt-cache show libnode108 >/dev/null 2>&1 || $SUDO apt-get update -qq
tmp=$(mktemp -d); chmod 777 "$tmp"   # apt's _apt sandbox user writes the .debs here
(cd "$tmp" && apt-get download libnode108 libnode-dev)
mkdir -p "$dest"
for f in "$tmp"/*.deb; do dpkg-deb -x "$f" "$dest"; done
rm -rf "$dest/DEBIAN"; dpkg-deb -e "$tmp"/libnode108_*.deb "$dest/DEBIAN"
rm -rf "$tmp"
echo "libnode: unpacked into $dest"
