#!/usr/bin/env bash
# OCI images of steward, drawbridge and enarx, built from the .debs without any registry or
# container daemon, then smoke-tested. Called by scripts/package.sh; run as root.
#   scripts/images.sh [packages-dir]     default build/pkg/packages; images in <dir>/../images
#   ENARX_APT_CACHE=dir                  the .deb cache shared with scripts/install-test.sh
#
# Each image: a Debian 12 root made by mmdebstrap (variant "essential": no apt, dpkg's docs and
# manuals left out) with the one .deb and what it depends on from the Debian archive, plus curl
# for the health check; one layer, added with umoci (an OCI image layout directory,
# <images>/<name>, tag = the package version). Its config: a numeric non-root user (the package's
# system user; enarx: nobody), the state directory as a VOLUME, nothing written outside it (runs
# with a read-only root filesystem), the listening port, and the health check command in the
# label org.enarx.healthcheck (the OCI image config has no health check field; Docker-format
# HEALTHCHECK is not part of OCI — deploy/compose.yaml and deploy/k8s/ state it as probes).
#
# Smoke test (no podman/docker engine here): `umoci unpack` to a runtime bundle, run with
# bubblewrap (crun refuses this machine's hybrid cgroup layout) with the root filesystem
# read-only, the state volume a fresh directory owned by the image user, /tmp a tmpfs, the
# host's network; curl then GETs /healthz. The enarx image (a CLI, nothing to serve) runs `enarx run` of the hello
# example instead.
#
# Use elsewhere:  skopeo copy oci:<images>/steward:<version> docker-daemon:steward:<version>
#                 podman run oci:<images>/steward:<version>
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
pkgs="$(cd "${1:-$repo/build/pkg/packages}" && pwd)"
out="$(dirname "$pkgs")/images"
cache="${ENARX_APT_CACHE:-/var/tmp/enarx-apt-cache}"
mkdir -p "$out" "$cache"
start=$SECONDS
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

build_image() {  # name user state-dir port entrypoint...
  local name="$1" user="$2" state="$3" port="$4"; shift 4
  local deb version tag work rootfs uid gid
  deb="$(compgen -G "$pkgs/${name}_*.deb" | head -1)"
  version="$(dpkg-deb -f "$deb" Version)"; tag="${version//\~/_}"
  work="$(mktemp -d /var/tmp/enarx-image.XXXXXX)"; rootfs="$work/rootfs.tar"
  cp "$deb" "$work/"; chmod -R a+rX "$work"
  mmdebstrap --variant=essential --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    --skip=download/empty --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $cache /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $cache" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --include=ca-certificates,curl --include="$work/$(basename "$deb")" \
    --customize-hook="chroot \"\$1\" getent passwd $user >$work/passwd" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages' \
    bookworm "$rootfs" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >"$work/mmdebstrap.log" 2>&1 \
    || { tail -20 "$work/mmdebstrap.log"; exit 1; }
  rm -f "$cache"/{steward,drawbridge,enarx}_*.deb
  uid="$(cut -d: -f3 "$work/passwd")"; gid="$(cut -d: -f4 "$work/passwd")"
  [[ -n "$uid" && "$uid" != 0 ]] || { echo "image $name: no user $user"; exit 1; }

  rm -rf "${out:?}/$name"
  umoci init --layout "$out/$name"
  umoci new --image "$out/$name:$tag"
  umoci raw add-layer --image "$out/$name:$tag" "$rootfs"
  local cfg=(--config.user "$uid:$gid" --config.workingdir /
             --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin
             --config.label "org.opencontainers.image.title=$name"
             --config.label "org.opencontainers.image.version=$version"
             --config.label "org.opencontainers.image.source=enarx-cpp (scripts/images.sh)"
             --author "enarx-cpp" --os linux --architecture amd64)
  [[ -n "$state" ]] && cfg+=(--config.volume "$state")
  [[ "$port" != 0 ]] && cfg+=(--config.exposedports "$port/tcp"
             --config.label "org.enarx.healthcheck=curl -fsSk https://127.0.0.1:$port/healthz")
  local a first=1
  for a in "$@"; do
    if [[ $first == 1 ]]; then cfg+=(--config.entrypoint "$a"); first=0; else cfg+=(--config.cmd "$a"); fi
  done
  case "$name" in
    steward) cfg+=(--config.env STEWARD_ADDR=0.0.0.0 --config.env STEWARD_STATE_DIR=/var/lib/steward) ;;
    drawbridge) cfg+=(--config.env DRAWBRIDGE_ADDRESS=0.0.0.0 --config.env DRAWBRIDGE_DATA_DIR=/var/lib/drawbridge) ;;
  esac
  umoci config --image "$out/$name:$tag" "${cfg[@]}"
  umoci gc --layout "$out/$name"
  local digest size
  digest="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$out/$name/index.json")"
  size="$(du -sh "$out/$name" | cut -f1)"
  echo "image $name:$tag  manifest $digest  ($size compressed, user $user=$uid:$gid)"
  echo "$name:$tag $digest" >>"$out/digests.txt"
  rm -rf "$work"
}

# smoke <name> <port> <health-url-or-empty> <args override...>
# crun refuses this machine's hybrid cgroup v1/v2 layout ("cgroups in hybrid mode not supported"),
# with any --cgroup-manager; so the bundle that `umoci unpack` makes is run with bubblewrap:
# its rootfs read-only, its process (args, env, cwd, numeric user) from its config.json, the
# image's volumes as fresh host directories owned by that user, /tmp a tmpfs, own PID/IPC/UTS
# namespaces, the host's network.
smoke() {
  local name="$1" port="$2" url="$3"; shift 3
  local tag bundle
  tag="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' "$out/$name/index.json")"
  bundle="$(mktemp -d /var/tmp/enarx-bundle.XXXXXX)"; rmdir "$bundle"
  umoci unpack --image "$out/$name:$tag" "$bundle" >/dev/null
  mapfile -d '' cmd < <(python3 - "$bundle" "$port" "$@" <<'PY2'
import json, os, sys
bundle, port, args = sys.argv[1], sys.argv[2], sys.argv[3:]
c = json.load(open(f"{bundle}/config.json"))
proc = c["process"]
uid, gid = proc["user"]["uid"], proc["user"]["gid"]
argv = ["bwrap", "--ro-bind", f"{bundle}/rootfs", "/", "--proc", "/proc", "--dev", "/dev",
        "--tmpfs", "/tmp", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
        "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf", "--chdir", proc.get("cwd", "/")]
# umoci turns each image VOLUME into a tmpfs mount: give it as a fresh directory owned by the
# image user instead (what an engine's named volume is)
standard = {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}
for i, m in enumerate(c["mounts"]):
    if m["type"] == "tmpfs" and m["destination"] not in standard:
        src = f"{bundle}/volume-{i}"
        os.makedirs(src, exist_ok=True)
        os.chown(src, uid, gid); os.chmod(src, 0o700)
        argv += ["--bind", src, m["destination"]]
        print(f"volume {m['destination']}", file=sys.stderr)
extra = os.environ.get("SMOKE_BIND")
if extra:
    src, dst = extra.split(":"); argv += ["--ro-bind", src, dst]
env = [e for e in proc["env"] if not e.startswith(("STEWARD_ADDR=", "DRAWBRIDGE_ADDRESS="))]
env += [f"STEWARD_PORT={port}", f"DRAWBRIDGE_PORT={port}", "STEWARD_ADDR=127.0.0.1",
        "DRAWBRIDGE_ADDRESS=127.0.0.1"]
argv += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "env", "-i"]
argv += env + (args or proc["args"])
sys.stdout.write("\0".join(argv) + "\0")
print(f"user {uid}:{gid}, read-only root", file=open(f"{bundle}.who", "w"))
PY2
)
  if [[ -z "$url" ]]; then
    "${cmd[@]}" >"$bundle.log" 2>&1 || { cat "$bundle.log"; echo "smoke $name: FAILED"; exit 1; }
    echo "smoke $name ($(cat "$bundle.who")): $(tr '\n' ' ' <"$bundle.log" | cut -c1-160)"
  else
    "${cmd[@]}" >"$bundle.log" 2>&1 &
    local pid=$! okay=0
    for _ in $(seq 1 150); do
      if curl -fsSk "$url" -o "$bundle.health" 2>/dev/null; then okay=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    [[ $okay == 1 ]] || { tail -20 "$bundle.log"; echo "smoke $name: /healthz FAILED"; exit 1; }
    echo "smoke $name ($(cat "$bundle.who")): GET $url -> $(head -c 120 "$bundle.health")"
  fi
  rm -rf "$bundle" "$bundle.log" "$bundle.health" "$bundle.who"
}

echo "== OCI images (mmdebstrap + umoci) in $out"
[[ "${ENARX_IMAGES_SMOKE_ONLY:-0}" == 1 ]] || : >"$out/digests.txt"
if [[ "${ENARX_IMAGES_SMOKE_ONLY:-0}" != 1 ]]; then
build_image steward steward /var/lib/steward 3000 /usr/bin/steward --config /etc/steward/steward.toml
build_image drawbridge drawbridge /var/lib/drawbridge 8443 /usr/bin/drawbridge serve --config /etc/drawbridge/drawbridge.toml
build_image enarx nobody "" 0 /usr/bin/enarx --help
fi

echo "== smoke tests (umoci unpack, run with bubblewrap: crun refuses this machine's hybrid cgroups)"
port=$(free_port)
smoke steward "$port" "https://127.0.0.1:$port/healthz"
port=$(free_port)
# drawbridge's shipped configuration names TLS files an operator mounts; the smoke test uses a
# self-signed development certificate in the state volume instead.
smoke drawbridge "$port" "https://127.0.0.1:$port/healthz" \
  /usr/bin/drawbridge serve --data-dir /var/lib/drawbridge --self-signed-tls --address 127.0.0.1 --port "$port"
# enarx: the V8 plugin loads and runs the hello example (bind-mounted read-only) as nobody.
hello_dir="$(mktemp -d /var/tmp/enarx-hello.XXXXXX)"
cp "$(dirname "$pkgs")/examples/hello.wasm" "$hello_dir/"; chmod -R a+rX "$hello_dir"
SMOKE_BIND="$hello_dir:/tmp/work" smoke enarx 0 "" /usr/bin/enarx run /tmp/work/hello.wasm
rm -rf "$hello_dir"
echo "== images done in $((SECONDS - start))s; digests in $out/digests.txt"
