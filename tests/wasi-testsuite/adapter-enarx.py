"""wasi-testsuite adapter for `enarx run` (WASI preview1 commands).

The runner imports this module and calls compute_argv() for each test. ENARX names the binary
(default: `enarx` on PATH); ENARX_ARGS adds options (e.g. "--no-code-cache").
"""
import os
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

ENARX = shlex.split(os.getenv("ENARX", "enarx"))
EXTRA = shlex.split(os.getenv("ENARX_ARGS", ""))


def get_name() -> str:
    return "enarx"


def get_version() -> str:
    out = subprocess.run(ENARX[0:1] + ["--version"], encoding="UTF-8", capture_output=True,
                         check=True).stdout.split()
    return out[-1] if out else "unknown"


def get_wasi_versions() -> List[str]:
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> List[str]:
    return ["wasi:cli/command"]


def compute_argv(test_path: str,
                 args_env_dirs: Tuple[List[str], Dict[str, str], List[Tuple[Path, str]]],
                 proposals: List[str], wasi_world: str, wasi_version: str) -> List[str]:
    args, env, dirs = args_env_dirs
    # FD_COUNT and FD_NAMES are Enarx's own variables; the suite checks the environment is
    # exactly what its spec gives.
    argv = ENARX + ["run", "--no-fd-env"] + EXTRA
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    for host, guest in dirs:
        argv += ["--dir", f"{host}::{guest}"]
    argv += [test_path, "--"] + args
    return argv
