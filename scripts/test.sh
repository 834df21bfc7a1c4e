#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test twice —
# a normal warnings-as-errors build, then an AddressSanitizer + UndefinedBehaviorSanitizer build —
# then a short libFuzzer smoke run of every fuzz target.
#   scripts/test.sh                 everything
#   ENARX_SKIP_ASAN=1 / ENARX_SKIP_FUZZ=1   leave a stage out (local iteration only; CI runs all)
#   ENARX_FUZZ_SECONDS=N            seconds per fuzz target (default 20)
#   ENARX_SKIP_INSTALL_TEST=1       leave out the packages + install test stage
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

bash deps/install.sh
jobs="$(nproc)"
# Relative paths in the ccache hash, so clones at other paths share the cache (NOHASHDIR: with
# -g ccache would otherwise hash the build directory's absolute path as well).
export CCACHE_BASEDIR="$repo"
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-10G}"
start=$SECONDS

stage() { printf '\n=== %s ===\n' "$*"; }

run_suite() {  # <build-dir> <build-type>
  local dir="$1" type="$2"
  stage "configure + build ($type) in $dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DENARX_WERROR=ON >/dev/null
  cmake --build "$dir" -j "$jobs"
  stage "tests ($type)"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
}

run_suite build/release RelWithDebInfo
if [[ "${ENARX_SKIP_ASAN:-0}" != 1 ]]; then
  # detect_leaks stays on; V8's own allocations are process-lifetime and suppressed by file.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$repo/scripts/lsan.supp}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  run_suite build/asan Asan
fi
# CI has a hard 90-minute limit and a 60-minute budget on 2 cores: the fuzz smoke (a third,
# clang-instrumented build, ~10 min) runs only when the two mandatory suites took under 40 min.
# Its skip is printed, never silent.
fuzz_budget="${ENARX_FUZZ_BUDGET_SECONDS:-2400}"
if [[ "${ENARX_SKIP_FUZZ:-0}" != 1 && $((SECONDS - start)) -gt $fuzz_budget ]]; then
  echo "NOTE: fuzz smoke skipped: $((SECONDS - start))s already used (budget ${fuzz_budget}s); run scripts/fuzz.sh by hand"
elif [[ "${ENARX_SKIP_FUZZ:-0}" != 1 ]]; then
  stage "fuzz smoke (${ENARX_FUZZ_SECONDS:-20}s per target)"
  scripts/fuzz.sh "${ENARX_FUZZ_SECONDS:-20}"
fi
# Packages (.deb + lintian) and the install test in a clean Debian 12 root (scripts/install-test.sh).
# An estimated 5-10 min on 2 cores: tools, a packaging build from ccache, 2-6 min of install
# test. Like the fuzz smoke it runs only while the budget allows (started before minute 48), and
# its skip is printed. The OCI images and RPMs are not built here.
install_budget="${ENARX_INSTALL_TEST_BUDGET_SECONDS:-2880}"
if [[ "${ENARX_SKIP_INSTALL_TEST:-0}" != 1 && $((SECONDS - start)) -gt $install_budget ]]; then
  echo "NOTE: install test skipped: $((SECONDS - start))s already used (budget ${install_budget}s); run scripts/install-test.sh by hand"
elif [[ "${ENARX_SKIP_INSTALL_TEST:-0}" != 1 ]]; then
  stage "packages (lintian) + install test"
  ENARX_SKIP_IMAGES=1 ENARX_SKIP_RPM=1 bash scripts/package.sh build/pkg
  bash scripts/install-test.sh build/pkg
fi
stage "all test stages passed"
