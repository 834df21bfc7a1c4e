#!/usr/bin/env bash
# Install test, as an admin would do it, in a clean Debian 12 root (mmdebstrap; nothing of this
# machine's /usr is used). Run as root. README "Packages, images, manifests" records its
# results.
#   scripts/install-test.sh [build-dir]      default build/pkg (scripts/package.sh builds it when
#                                            its packages are missing)
#   ENARX_APT_CACHE=dir   local cache of the root's .debs (default /var/tmp/enarx-apt-cache):
#                         a rerun downloads nothing it already has
#   KEEP_INSTALL_ROOT=1   leave the root in place for inspection
#
#  1. a clean bookworm root (bookworm, -updates, -security), with systemd (for its unit files)
#  2. `systemd-analyze verify` (and `security --offline`) of every unit the packages install
#  3. the PREVIOUS version (the same build, CPack version overridden to <version>~prev) installed
#     with `apt-get install ./*.deb` (dependencies from the Debian archive)
#  4. the admin configures steward and drawbridge by editing their conffiles, starts each with
#     its installed unit's ExecStart command line, User= and Environment= (no systemd PID 1
#     here), publishes a signed package: state in /var/lib/steward and /var/lib/drawbridge
#  5. upgrade to the current version: users, state, the edited conffiles survive
#  6. the end-to-end flow with the installed binaries on a simulated SEV-SNP platform: the
#     package published before the upgrade is deployed (attested by the steward whose CA was
#     made before the upgrade, fetched from drawbridge over mutual TLS), and verified
#  7. the same root booted with systemd-nspawn (systemd as PID 1, private network): the units
#     themselves, with all their sandboxing, start, answer /healthz, issue the certificate of a
#     deployment (the flow of 6 again, through steward.service), reload; a package upgrade
#     restarts the running service; the admin enables them (ENARX_SKIP_NSPAWN=1 leaves it out)
#  8. reinstall (maintainer scripts run again: idempotent), remove (config + state kept, units
#     masked), purge (config, caches and enablement links removed, state kept:
#     deploy/packaging/*/postrm), install again
# Processes run in a bubblewrap sandbox over the root (own PID namespace; the flow also in its own
# network namespace, so its fixed ports cannot collide with anything on this machine).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
build="${1:-build/pkg}"
mkdir -p "$build"; build="$(cd "$build" && pwd)"
cache="${ENARX_APT_CACHE:-/var/tmp/enarx-apt-cache}"
start=$SECONDS
t() { printf '[%4ds] ' $((SECONDS - start)); }
step() { printf '\n\033[1m'; t; printf '%s\033[0m\n' "$*"; }

bash deps/install.sh --package >/dev/null
if ! compgen -G "$build/packages/steward_*.deb" >/dev/null; then
  ENARX_SKIP_IMAGES=1 ENARX_SKIP_RPM=1 bash scripts/package.sh "$build"
fi
version="$(dpkg-deb -f "$(compgen -G "$build/packages/steward_*.deb" | head -1)" Version)"
upstream="${version%-*}"
prev="${upstream}~prev"

step "previous version $prev-1 (the same build, CPack version overridden)"
rm -rf "$build/packages-prev"
(cd "$build" && cpack -G DEB -D "CPACK_PACKAGE_VERSION=$prev" -B "$build/packages-prev" >/dev/null)
ls "$build"/packages-prev/*.deb | sed 's/^/    /'

root="$(mktemp -d /var/tmp/enarx-install-root.XXXXXX)"
nspawn_pid=""
cleanup() {
  if [[ -n "$nspawn_pid" ]]; then kill "$nspawn_pid" 2>/dev/null || true; wait "$nspawn_pid" 2>/dev/null || true; fi
  [[ "${KEEP_INSTALL_ROOT:-0}" == 1 ]] && echo "root kept: $root" || rm -rf "$root"
}
trap cleanup EXIT

step "1. clean Debian 12 root (mmdebstrap, apt cache $cache)"
mkdir -p "$cache"
mmdebstrap --variant=apt --skip=download/empty --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $cache /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives $cache" \
  --include=ca-certificates,curl,openssl,systemd,dbus bookworm "$root" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main" >"$build/install-test-mmdebstrap.log" 2>&1 \
  || { tail -20 "$build/install-test-mmdebstrap.log"; exit 1; }
echo "    $(cat "$root/etc/debian_version"), $(du -sh "$root" | cut -f1)"
# The root keeps its downloaded .debs too, and hands them back to the cache at the end.
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/99keep"
mkdir -p "$root/var/tmp/debs/prev" "$root/var/tmp/debs/cur"
cp "$build"/packages-prev/*.deb "$root/var/tmp/debs/prev/"
cp "$build"/packages/*.deb "$root/var/tmp/debs/cur/"
cp "$build/examples/tls-server.wasm" "$root/var/tmp/"
cp "$repo/scripts/install-test-inner.sh" "$root/var/tmp/"
chmod -R a+rX "$root/var/tmp"

in_root() {  # [--net] phase
  local net=(--unshare-net)
  if [[ "$1" == --net ]]; then net=(--ro-bind /etc/resolv.conf /etc/resolv.conf); shift; fi
  bwrap --bind "$root" / --proc /proc --dev /dev --perms 1777 --tmpfs /tmp --tmpfs /run \
    --unshare-pid --unshare-ipc --die-with-parent "${net[@]}" --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin \
    --setenv DEBIAN_FRONTEND noninteractive --setenv HOME /root \
    /bin/bash /var/tmp/install-test-inner.sh "$@"
}

step "3. install the previous version ($prev-1) with apt-get install ./*.deb"
in_root --net install-prev

step "2. systemd-analyze verify / security --offline of the installed units"
units=(steward.service drawbridge.service enarx-cache-refresh.service enarx-cache-refresh.timer)
: >"$build/install-test-systemd-analyze.txt"
for u in "${units[@]}"; do
  if out="$(systemd-analyze verify --root="$root" "/lib/systemd/system/$u" 2>&1)"; then
    echo "    $u: verify OK${out:+ ($out)}" | tee -a "$build/install-test-systemd-analyze.txt"
  else
    echo "    $u: verify FAILED: $out" | tee -a "$build/install-test-systemd-analyze.txt"; exit 1
  fi
done
for u in steward.service drawbridge.service enarx-cache-refresh.service; do
  score="$(systemd-analyze security --offline=true --root="$root" "/lib/systemd/system/$u" 2>&1 | tail -1)"
  echo "    $u: security --offline: ${score#→ }" | tee -a "$build/install-test-systemd-analyze.txt"
done

step "4. configure (edit the conffiles), start by ExecStart, publish: state before the upgrade"
in_root state

step "5. upgrade to $version with apt-get install ./*.deb"
in_root --net upgrade

step "6. end-to-end flow with the installed binaries (sim-snp): deploy what was published before the upgrade"
in_root flow

if [[ "${ENARX_SKIP_NSPAWN:-0}" != 1 ]]; then
  step "7. the units under systemd: the root booted with systemd-nspawn (private network)"
  systemd-nspawn -q --register=no --keep-unit -D "$root" --boot --private-network \
    -M enarx-install-test >"$build/install-test-nspawn.log" 2>&1 &
  nspawn_pid=$!
  leader=""
  for _ in $(seq 1 300); do   # the container's PID 1: systemd, under nspawn's inner process
    leader="$( (pgrep -P "$nspawn_pid" -x systemd; for c in $(pgrep -P "$nspawn_pid"); do pgrep -P "$c" -x systemd; done) | head -1 || true)"
    [[ -n "$leader" ]] && break
    kill -0 "$nspawn_pid" 2>/dev/null || { tail -20 "$build/install-test-nspawn.log"; echo "systemd-nspawn failed"; exit 1; }
    sleep 0.1
  done
  [[ -n "$leader" ]] || { echo "no systemd in the container"; ps -eo pid,ppid,comm | grep -E "nspawn|systemd"; exit 1; }
  state=""
  for _ in $(seq 1 120); do   # until systemd answers on its bus and boot is finished
    state="$(nsenter -t "$leader" -a systemctl is-system-running --wait 2>&1 || true)"
    [[ "$state" == running || "$state" == degraded ]] && break
    sleep 0.5
  done
  echo "    booted: systemd $state$( [[ "$state" == degraded ]] && echo " (failed: $(nsenter -t "$leader" -a systemctl --failed --plain --no-legend | cut -d' ' -f1 | tr '\n' ' '))")"
  nsenter -t "$leader" -a env PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/bash /var/tmp/install-test-inner.sh systemd
  nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
  kill "$nspawn_pid" 2>/dev/null || true; wait "$nspawn_pid" 2>/dev/null || true; nspawn_pid=""
fi

step "8. reinstall, remove, purge, install again"
in_root --net lifecycle
cp -n "$root"/var/cache/apt/archives/*.deb "$cache/" 2>/dev/null || true
rm -f "$cache"/steward_* "$cache"/drawbridge_* "$cache"/enarx_*

step "install test passed in $((SECONDS - start))s"
echo "$((SECONDS - start))" >"$build/install-test-seconds.txt"
