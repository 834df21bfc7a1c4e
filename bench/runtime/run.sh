#!/bin/sh
# Hand-run runtime benchmark (not part of CTest). Usage: bench/runtime/run.sh [build-dir]
# Prints one run of: a SHA-256-of-64-MiB kernel natively (gcc -O2), as wasm in `enarx run`
# (V8 10.2 TurboFan), and as wasm under node's node:wasi; then `enarx run hello.wasm` startup
# (and rust-hello.wasm, when the build had a Rust toolchain). Measure a Release-type build
# (RelWithDebInfo); the header records the build type and the machine's load.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
enarx=$build/apps/enarx/enarx
hello=$build/examples/hello.wasm
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

gcc -O2 -o "$out/sha256-native" "$here/sha256.c"
clang --target=wasm32-wasi -O2 -o "$out/sha256.wasm" "$here/sha256.c"

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
echo "== $(date -u +%Y-%m-%dT%H:%MZ) build=$build (${build_type:-unknown type})" \
     "cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
time_it() {  # label, command...
  label=$1; shift
  t0=$(now); "$@" > "$out/last.txt"; t1=$(now)
  t=$(echo "$t1 - $t0" | bc -l)
  printf '%-34s %8.3f s   %s\n' "$label" "$t" "$(head -c 16 "$out/last.txt")"
  echo "$t" > "$out/$(printf %s "$label" | tr -c 'a-z0-9' _).t"
}

echo "== sha256 of 64 MiB (whole process, one run)"
time_it native "$out/sha256-native"
time_it enarx "$enarx" run "$out/sha256.wasm"
time_it enarx-cached "$enarx" run --code-cache "$out/cache" "$out/sha256.wasm" >/dev/null
time_it enarx-cached "$enarx" run --code-cache "$out/cache" "$out/sha256.wasm"
if command -v node >/dev/null; then
  time_it node-wasi node --no-warnings "$here/node-wasi.mjs" "$out/sha256.wasm"
fi
n=$(cat "$out/native.t")
for l in enarx enarx_cached node_wasi; do
  [ -f "$out/$l.t" ] && printf '%-14s %.2fx native\n' "$l" "$(echo "$(cat "$out/$l.t") / $n" | bc -l)"
done

echo "== enarx run hello.wasm (whole process)"
for i in 1 2 3 4 5; do time_it "hello run $i" "$enarx" run "$hello"; done
"$enarx" run --code-cache "$out/hc" "$hello" > /dev/null
for i in 1 2 3; do time_it "hello cached $i" "$enarx" run --code-cache "$out/hc" "$hello"; done
rust=$build/examples/rust-hello.wasm
if [ -f "$rust" ]; then
  echo "== enarx run rust-hello.wasm (whole process)"
  for i in 1 2 3; do time_it "rust-hello run $i" "$enarx" run "$rust"; done
  "$enarx" run --code-cache "$out/rc" "$rust" > /dev/null
  for i in 1 2 3; do time_it "rust-hello cached $i" "$enarx" run --code-cache "$out/rc" "$rust"; done
fi
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
