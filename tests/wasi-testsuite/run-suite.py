#!/usr/bin/env python3
"""Runs the official WASI preview1 test suite under `enarx run` (CTest: wasi.testsuite).

Copies the suite to a temporary directory (its runner writes into the directories it
preopens; the shared copy is read-only), runs its Python runner with adapter-enarx.py, prints
per-suite results, and fails when fewer than --min-pass tests pass. Tests listed in
expectations.json cannot pass by design (the reason is printed); they still count as failed.
When `node` is on PATH, the same suite runs under node's own WASI (the suite's adapter-node.py)
as a reference, printed but never failing the test. Exit 77 (CTest: skipped) when the suite is
not there.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ["tests/c/wasm32-wasip1", "tests/rust/wasm32-wasip1", "tests/assemblyscript/wasm32-wasip1"]


def run(suite_dir, adapter, env, label):
    out = os.path.join(suite_dir, f"results-{label}.json")
    cmd = [sys.executable, "test-runner/wasi_test_runner.py", "-t", *SUITES, "-r", adapter,
           "--json-output-location", out]
    proc = subprocess.run(cmd, cwd=suite_dir, env=env, capture_output=True, text=True, timeout=600)
    if not os.path.exists(out):
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
        raise SystemExit(f"error: the suite runner wrote no results for {label} (exit {proc.returncode})")
    with open(out) as f:
        results = json.load(f)["results"]
    passed = total = 0
    failed = []
    for s in results:
        n = s["passed"] + s["failed"]
        print(f"  {label:6} {s['name']:45} {s['passed']:3} / {n}")
        passed += s["passed"]
        total += n
        for t in s["tests"]:
            if t.get("failures"):
                failed.append((s["name"], t["name"], t["failures"][0]))
    print(f"  {label:6} {'total':45} {passed:3} / {total}")
    return passed, total, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--enarx", required=True)
    ap.add_argument("--suite-default", required=True)
    ap.add_argument("--min-pass", type=int, default=71)
    a = ap.parse_args()

    shared = os.environ.get("ENARX_SHARED_DIR")
    src = os.path.join(shared, "wasi-testsuite") if shared else a.suite_default
    if not os.path.isfile(os.path.join(src, "test-runner", "wasi_test_runner.py")):
        print(f"SKIP: the WASI test suite is not at {src} (set ENARX_SHARED_DIR)")
        return 77
    try:
        import colorama  # noqa: F401  (the runner's dependencies)
        import requests  # noqa: F401
    except ImportError as e:
        print(f"error: the suite runner needs python3-colorama and python3-requests "
              f"(deps/debian-packages.txt; bash deps/install.sh): {e}")
        return 1
    with open(os.path.join(HERE, "expectations.json")) as f:
        expected = json.load(f)["expected_failures"]

    with tempfile.TemporaryDirectory(prefix="wasi-testsuite-") as tmp:
        suite = os.path.join(tmp, "suite")
        shutil.copytree(src, suite)
        for root, dirs, files in os.walk(suite):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
        env = dict(os.environ, ENARX=a.enarx,
                   # Each test compiles once; a shared code cache would only add writes.
                   ENARX_ARGS="--no-code-cache")
        print(f"WASI test suite ({src}):")
        passed, total, failed = run(suite, os.path.join(HERE, "adapter-enarx.py"), env, "enarx")
        for suite_name, test, why in failed:
            reason = expected.get(test)
            tag = f"expected: {reason}" if reason else "UNEXPECTED"
            print(f"  FAIL {suite_name} / {test} ({tag})\n    " +
                  why.strip().replace("\n", "\n    ")[:2000])
        if shutil.which("node"):
            shutil.rmtree(suite)
            shutil.copytree(src, suite)
            for root, dirs, files in os.walk(suite):
                for n in dirs + files:
                    os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
            print("reference: node's own WASI (adapter-node.py):")
            run(suite, os.path.join(suite, "adapter-node.py"), dict(os.environ), "node")
        else:
            print("reference: node is not on PATH; node's numbers are not measured")
    if passed < a.min_pass:
        print(f"FAILED: enarx passes {passed} of {total}, fewer than {a.min_pass}")
        return 1
    print(f"OK: enarx passes {passed} of {total} (at least {a.min_pass} required)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
