#!/usr/bin/env bash
# Builds the Debian packages enarx, steward and drawbridge (CPack DEB; cmake/Packaging.cmake says
# why CPack), checks them with lintian, builds the RPMs of the same install rules, then the OCI
# images (scripts/images.sh) unless ENARX_SKIP_IMAGES=1.
#   scripts/package.sh [build-dir]          default build/pkg; packages in <build-dir>/packages
#   ENARX_PACKAGE_VERSION=0.0.9 scripts/package.sh build/pkg-old   an older version (upgrade test)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
build="${1:-build/pkg}"
mkdir -p "$build"; build="$(cd "$build" && pwd)"
bash deps/install.sh --package >/dev/null
export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
start=$SECONDS

# The same compiler flags as build/release (ccache hits); ENARX_PACKAGING: the installed plugin
# path and no RUNPATH. Tests and benchmarks are not part of a package.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENARX_WERROR=ON \
  -DENARX_PACKAGING=ON -DENARX_BUILD_TESTS=OFF -DENARX_BUILD_BENCH=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DENARX_SYSTEMD_UNITDIR=/lib/systemd/system >/dev/null
cmake --build "$build" -j "$(nproc)"

version_args=()
if [[ -n "${ENARX_PACKAGE_VERSION:-}" ]]; then
  version_args=(-D "CPACK_PACKAGE_VERSION=$ENARX_PACKAGE_VERSION")
fi
rm -f "$build"/packages/*.deb "$build"/packages/*.rpm
(cd "$build" && cpack -G DEB "${version_args[@]}" >/dev/null) || { cat "$build"/_CPack_Packages/*/DEB/*.log 2>/dev/null | tail -40; exit 1; }
echo "== packages ($((SECONDS - start))s)"
for deb in "$build"/packages/*.deb; do
  printf '%s\n' "$deb"
  dpkg-deb -f "$deb" Package Version Depends | sed 's/^/    /'
done

echo "== lintian"
# --fail-on warning: any warning not overridden (deploy/packaging/<package>/lintian-overrides,
# each with its reason) fails the build. Run as root here, hence --allow-root.
lintian --allow-root --fail-on warning --display-info --info "$build"/packages/*.deb \
  | tee "$build/packages/lintian.txt"
echo "lintian: $(grep -c '^[EWIPX]:' "$build/packages/lintian.txt") tags shown (warnings fail the build; overrides: deploy/packaging/*/lintian-overrides)"

if [[ "${ENARX_SKIP_RPM:-0}" != 1 ]]; then
  echo "== rpm (not installable on RPM distributions: README \"Packages, images, manifests\")"
  (cd "$build" && cpack -G RPM "${version_args[@]}" >"$build/packages/rpm.log" 2>&1) \
    || { echo "rpm: cpack -G RPM failed"; exit 1; }
  for rpm in "$build"/packages/*.rpm; do rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\n' "$rpm"; done
fi

if [[ "${ENARX_SKIP_IMAGES:-0}" != 1 ]]; then
  bash scripts/images.sh "$build/packages"
fi
echo "== done in $((SECONDS - start))s: $build/packages"
