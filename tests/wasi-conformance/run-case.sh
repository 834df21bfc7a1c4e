#!/usr/bin/env bash
# One WASI conformance case under one runtime; passes when the exit status and the program's
# own summary line are as expected.
#   run-case.sh enarx <enarx-binary> <case.wasm> <expected-exit> <expected-line-regex>
#   run-case.sh node  <node-binary>  <case.wasm> <expected-exit> <expected-line-regex>
# Skips (exit 77) under node when node is missing or has no node:wasi.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runtime="$1" bin="$2" wasm="$3" want_exit="$4" want_line="$5"
assets="$here/assets"
args=(alpha "beta gamma")
env=(GREETING=hello EMPTY=)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

case "$runtime" in
  enarx)
    {
      printf 'args = ["%s", "%s"]\n\n[env]\n' "${args[@]}"
      for kv in "${env[@]}"; do printf '%s = "%s"\n' "${kv%%=*}" "${kv#*=}"; done
      printf '\n[[files]]\nkind = "stdin"\n\n[[files]]\nkind = "stdout"\n\n[[files]]\nkind = "stderr"\n'
    } >"$work/Enarx.toml"
    cmd=("$bin" run --wasmcfgfile "$work/Enarx.toml" --assets "$assets" "$wasm")
    ;;
  node)
    if [[ ! -x "$bin" ]] || ! "$bin" -e "require('node:wasi')" 2>/dev/null; then
      echo "SKIP: no node with node:wasi ($bin)"; exit 77
    fi
    node_env=()
    for kv in "${env[@]}"; do node_env+=(--env "$kv"); done
    cmd=("$bin" --no-warnings "$here/node-runner.mjs" "$wasm" "$assets" "${node_env[@]}" -- "${args[@]}")
    ;;
  *) echo "unknown runtime $runtime"; exit 2 ;;
esac

"${cmd[@]}" <"$here/stdin.txt" >"$work/out" 2>"$work/err"
got_exit=$?
cat "$work/out"
sed 's/^/stderr: /' "$work/err"
if [[ "$got_exit" != "$want_exit" ]]; then
  echo "FAILED: exit status $got_exit, want $want_exit"; exit 1
fi
if ! grep -qE -- "^${want_line}\$" "$work/out"; then
  echo "FAILED: no line '$want_line' on stdout"; exit 1
fi
echo "PASSED ($runtime)"
