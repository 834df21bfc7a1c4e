#!/usr/bin/env bash
# End-to-end flow on the embedded defaults, for a person to watch (called by scripts/demo.sh).
#   scripts/e2e-flow.sh <build-dir>
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$repo/build/release}" && pwd)"
enarx="$build/apps/enarx/enarx"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "enarx CLI"
"$enarx" --version
"$enarx" --help
step "done"
