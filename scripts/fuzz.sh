#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/*_fuzz.cc) with clang and runs each for N seconds
# (default 60). Corpora live in build/fuzz/corpus/<target>; crashes fail the run.
#   scripts/fuzz.sh [seconds-per-target] [target-name-regex]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
seconds="${1:-60}"
filter="${2:-.}"
dir=build/fuzz
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DENARX_BUILD_FUZZ=ON \
  -DENARX_BUILD_TESTS=OFF -DENARX_BUILD_BENCH=OFF >/dev/null
targets=()
for src in fuzz/*_fuzz.cc; do
  [[ -e "$src" ]] || continue
  name="$(basename "$src" .cc)"
  [[ "$name" =~ $filter ]] && targets+=("$name")
done
if (( ${#targets[@]} == 0 )); then echo "fuzz: no targets"; exit 0; fi
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/crashes"
  seeds=()
  [[ -d "fuzz/seeds/$t" ]] && seeds+=("fuzz/seeds/$t")
  echo "fuzz: $t for ${seconds}s"
  # UBSan reports halt: a local run must fail exactly where CI (which exports halt_on_error) does.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$dir/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$dir/crashes/$t-" -print_final_stats=1 "$dir/corpus/$t" "${seeds[@]}" \
    2>"$dir/$t.log" || { tail -50 "$dir/$t.log"; echo "fuzz: $t FAILED"; exit 1; }
  grep -E 'stat::number_of_executed_units' "$dir/$t.log" | sed "s/^/fuzz: $t /" || true
done
echo "fuzz: ${#targets[@]} targets ran clean"
