#!/bin/sh
# Hand-run runtime benchmark (not part of CTest). Usage: bench/runtime/run.sh [build-dir]
# Prints one run of: a SHA-256-of-64-MiB kernel (whole process, and the kernel alone as the
# program times itself: CLOCK_MONOTONIC and CLOCK_PROCESS_CPUTIME_ID) natively (gcc -O2), as wasm
# in `enarx run` (V8 10.2: a first run tiered — the default — or `--compile eager`, and a run
# from the code cache, which is always TurboFan code), and as wasm under node's node:wasi; then
# the kernels alone (sha256, matmul.c, sort.c) in interleaved rounds against native and node; then
# start-up (`enarx --version` and `enarx run hello.wasm` tiered / eager / from the cache, against
# /bin/true, alternating rounds) and single runs of hello, rust-hello and go-hello when built.
# Measure a Release-type build (RelWithDebInfo); the header records the build type and the
# machine's load.
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
  t0=$(now); "$@" > "$out/last.txt" 2> "$out/last.err"; t1=$(now)
  t=$(echo "$t1 - $t0" | bc -l)
  k=$(sed -n 's/^kernel_s=//p' "$out/last.err")
  c=$(sed -n 's/^kernel_cpu_s=//p' "$out/last.err")
  printf '%-34s %8.3f s   %s%s\n' "$label" "$t" "$(head -c 16 "$out/last.txt")" \
         "${k:+   kernel $k s wall, $c s cpu}"
  f=$(printf %s "$label" | tr -c 'a-z0-9' _)
  echo "$t" > "$out/$f.t"
  [ -n "$k" ] && echo "$k" > "$out/$f.k" && echo "$c" > "$out/$f.c"
  return 0
}

echo "== sha256 of 64 MiB (whole process, one run)"
time_it native "$out/sha256-native"
time_it enarx "$enarx" run --no-code-cache "$out/sha256.wasm"
time_it enarx-eager "$enarx" run --no-code-cache --compile eager "$out/sha256.wasm"
time_it enarx-cached "$enarx" run --code-cache "$out/cache" "$out/sha256.wasm" >/dev/null
time_it enarx-cached "$enarx" run --code-cache "$out/cache" "$out/sha256.wasm"
if command -v node >/dev/null; then
  time_it node-wasi node --no-warnings "$here/node-wasi.mjs" "$out/sha256.wasm"
fi
n=$(cat "$out/native.t")
nk=$(cat "$out/native.k"); nc=$(cat "$out/native.c")
echo "ratio to native: whole process (wall) | kernel only, wall | kernel only, process CPU"
for l in enarx enarx_eager enarx_cached node_wasi; do
  [ -f "$out/$l.t" ] || continue
  printf '%-14s %.2fx | %.2fx | %.2fx\n' "$l" "$(echo "$(cat "$out/$l.t") / $n" | bc -l)" \
         "$(echo "$(cat "$out/$l.k") / $nk" | bc -l)" "$(echo "$(cat "$out/$l.c") / $nc" | bc -l)"
done

# The kernels alone (sha256, matmul: a 512x512 double matrix multiply, sort: a quicksort whose
# comparator is an indirect call), KERNEL_RUNS (default 5) interleaved rounds per kernel of
# native / enarx from the code cache (the steady state: TurboFan code, guard-page trap handler) /
# the same with --no-trap-handler (explicit bounds checks) / node 20's default (its own tiering)
# / for sha256 also a first run tiered (the default) and a first run with --compile eager: min
# and median of the in-process CPU time, ratios to native and to node of the same round set
# (the minimum is the figure least disturbed by other load on the machine).
runs=${KERNEL_RUNS:-5}
stat() {  # file -> "min median"
  sort -n "$1" | awk '{v[NR]=$1} END {if (NR) printf "%s %s", v[1], v[int((NR+1)/2)]}'
}
cpu_of() { sed -n 's/^kernel_cpu_s=//p'; }
for kernel in ${KERNELS:-sha256 matmul sort}; do
  if [ "$kernel" != sha256 ]; then
    gcc -O2 -o "$out/$kernel-native" "$here/$kernel.c"
    clang --target=wasm32-wasi -O2 -o "$out/$kernel.wasm" "$here/$kernel.c"
  fi
  w=$out/$kernel.wasm
  echo "== $kernel kernel only, process CPU time, $runs interleaved rounds (min / median)"
  kinds="enarx enarx-no-trap-handler node"
  [ "$kernel" = sha256 ] && kinds="$kinds enarx-first-tiered enarx-first-eager"
  : > "$out/k.native"
  for l in $kinds; do : > "$out/k.$l"; done
  # Fill both caches: the second run finds the TurboFan code the first stored.
  for c in "" --no-trap-handler; do
    for j in 1 2; do
      "$enarx" run --code-cache "$out/kc$c" $c "$w" > /dev/null 2>&1
    done
  done
  i=0
  while [ "$i" -lt "$runs" ]; do
    "$out/$kernel-native" 2>&1 >/dev/null | cpu_of >> "$out/k.native"
    "$enarx" run --code-cache "$out/kc" "$w" 2>&1 >/dev/null | cpu_of >> "$out/k.enarx"
    "$enarx" run --code-cache "$out/kc--no-trap-handler" --no-trap-handler "$w" 2>&1 >/dev/null |
      cpu_of >> "$out/k.enarx-no-trap-handler"
    if command -v node >/dev/null; then
      node --no-warnings "$here/node-wasi.mjs" "$w" 2>&1 >/dev/null | cpu_of >> "$out/k.node"
    fi
    if [ "$kernel" = sha256 ]; then
      "$enarx" run --no-code-cache "$w" 2>&1 >/dev/null | cpu_of >> "$out/k.enarx-first-tiered"
      "$enarx" run --no-code-cache --compile eager "$w" 2>&1 >/dev/null |
        cpu_of >> "$out/k.enarx-first-eager"
    fi
    i=$((i + 1))
  done
  set -- $(stat "$out/k.native"); nmin=$1; nmed=$2
  nodemed=
  [ -s "$out/k.node" ] && { set -- $(stat "$out/k.node"); nodemed=$2; }
  printf '%-22s min %.3f s  median %.3f s\n' native "$nmin" "$nmed"
  for l in $kinds; do
    [ -s "$out/k.$l" ] || continue
    set -- $(stat "$out/k.$l")
    printf '%-22s min %.3f s  median %.3f s   vs native: min %.2fx  median %.2fx' "$l" "$1" "$2" \
           "$(echo "$1 / $nmin" | bc -l)" "$(echo "$2 / $nmed" | bc -l)"
    [ -n "$nodemed" ] && printf '   vs node (median) %.2fx' "$(echo "$2 / $nodemed" | bc -l)"
    echo
  done
done

# Start-up: STARTUP_RUNS (default 11) alternating rounds of /bin/true (process-creation
# baseline), `enarx --version` (no wasm: must not load the V8 engine plugin), `enarx run
# hello.wasm` cold (tiered, the default: hello ends long before its background compile, so it
# never stores a cache entry and every run is this one), cold with --compile eager, and eager
# from a warm code cache; medians of the wall clock.
sruns=${STARTUP_RUNS:-11}
echo "== start-up, $sruns alternating rounds (wall clock, min / median)"
"$enarx" run --compile eager --code-cache "$out/sc" "$hello" > /dev/null 2>&1
: > "$out/s.true"; : > "$out/s.version"; : > "$out/s.cold"; : > "$out/s.eager"; : > "$out/s.warm"
wall() {  # file, command... : appends the command's wall-clock seconds to file
  f=$1; shift
  t0=$(now); "$@" > /dev/null 2>&1; t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$f"
}
i=0
while [ "$i" -lt "$sruns" ]; do
  wall "$out/s.true" /bin/true
  wall "$out/s.version" "$enarx" --version
  wall "$out/s.cold" "$enarx" run --no-code-cache "$hello"
  wall "$out/s.eager" "$enarx" run --no-code-cache --compile eager "$hello"
  wall "$out/s.warm" "$enarx" run --compile eager --code-cache "$out/sc" "$hello"
  i=$((i + 1))
done
for l in true version cold eager warm; do
  set -- $(stat "$out/s.$l")
  printf '%-22s min %.3f s  median %.3f s\n' "$l" "$1" "$2"
done

echo "== enarx run hello.wasm (whole process)"
for i in 1 2 3 4 5; do time_it "hello run $i" "$enarx" run --no-code-cache "$hello"; done
"$enarx" run --compile eager --code-cache "$out/hc" "$hello" > /dev/null
for i in 1 2 3; do
  time_it "hello eager, cached $i" "$enarx" run --compile eager --code-cache "$out/hc" "$hello"
done
rust=$build/examples/rust-hello.wasm
if [ -f "$rust" ]; then
  echo "== enarx run rust-hello.wasm (whole process)"
  for i in 1 2 3; do time_it "rust-hello run $i" "$enarx" run --no-code-cache "$rust"; done
  "$enarx" run --compile eager --code-cache "$out/rc" "$rust" > /dev/null
  for i in 1 2 3; do
    time_it "rust-hello eager, cached $i" "$enarx" run --compile eager --code-cache "$out/rc" "$rust"
  done
fi
go=$build/examples/go-hello.wasm
if [ -f "$go" ]; then
  echo "== enarx run go-hello.wasm (whole process; a 3 MB module)"
  for i in 1 2 3; do time_it "go-hello run $i" "$enarx" run --no-code-cache "$go"; done
  time_it "go-hello eager" "$enarx" run --no-code-cache --compile eager "$go"
  "$enarx" run --compile eager --code-cache "$out/gc" "$go" > /dev/null
  for i in 1 2 3; do
    time_it "go-hello eager, cached $i" "$enarx" run --compile eager --code-cache "$out/gc" "$go"
  done
fi
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
