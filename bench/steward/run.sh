#!/usr/bin/env bash
# Steward issuance with and without the issued-certificate index (SQLite and PostgreSQL), and
# OCSP answers per second — all ratios from one run of bench/steward_bench (docs/steward.md
# "Performance"). Starts a throw-away PostgreSQL 15 cluster with its default durability
# (fsync on, synchronous_commit on) on a unix socket, as `nobody` when run as root.
#   bench/steward/run.sh [build-dir] [extra steward_bench flags...]
# STEWARD_BENCH_SPLIT_CORES=1: PostgreSQL runs on the last core and steward_bench on the others
# (taskset), as when the database has its own host: then the wall-time ratios are steward's
# throughput, not steward's and the server's sharing the same cores.
# STEWARD_BENCH_PG_BATCH=1: PostgreSQL's processes run under SCHED_BATCH (chrt -b), as
# CPUSchedulingPolicy=batch does for a server that shares steward's host (docs/steward.md "The
# index's cost"): its wake-ups then wait for a worker's time slice instead of preempting it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$repo/build/release}"; shift || true
bench="$build/bench/steward_bench"
[[ -x "$bench" ]] || { echo "build it first: cmake --build $build --target steward_bench" >&2; exit 2; }
pgbin=/usr/lib/postgresql/15/bin
work="$(mktemp -d)"
as=()
if [[ $(id -u) == 0 ]]; then chown nobody "$work"; as=(runuser -u nobody --); fi
cleanup() { "${as[@]}" "$pgbin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
"${as[@]}" "$pgbin/initdb" -D "$work/data" -U steward --auth=trust -E UTF8 >"$work/initdb.log" 2>&1
db_cpu=() bench_cpu=()
if [[ -n "${STEWARD_BENCH_SPLIT_CORES:-}" ]]; then
  last=$(( $(nproc) - 1 ))
  (( last >= 1 )) || { echo "STEWARD_BENCH_SPLIT_CORES needs two cores" >&2; exit 2; }
  db_cpu=(taskset -c "$last") bench_cpu=(taskset -c "0-$(( last - 1 ))")
fi
batch=()
[[ -z "${STEWARD_BENCH_PG_BATCH:-}" ]] || batch=(chrt -b 0)
"${batch[@]}" "${as[@]}" "${db_cpu[@]}" "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-k $work -c listen_addresses=''" start >/dev/null
export STEWARD_BENCH_PG="postgresql://steward@/postgres?host=$work"
echo "PostgreSQL: $("$pgbin/postgres" --version), fsync on, unix socket; SQLite: WAL"
[[ ${#db_cpu[@]} -eq 0 ]] || echo "PostgreSQL on core $last, steward_bench on cores 0-$(( last - 1 ))"
[[ ${#batch[@]} -eq 0 ]] || echo "PostgreSQL under SCHED_BATCH"
"${bench_cpu[@]}" "$bench" --benchmark_min_time=1 --paired_rounds=60 "$@"
