#!/usr/bin/env bash
# The README's main job: install what is missing, build, and run the end-to-end flow on the
# embedded defaults, narrating each step. (Filled in as the components land; see README.)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash deps/install.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc)"
exec bash scripts/e2e-flow.sh build/release
