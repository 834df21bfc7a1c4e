#!/usr/bin/env bash
# Hand-run benchmark (not in CI): drawbridge vs nginx serving the same bytes over the same TLS
# (same certificate, key and protocol versions), measured with wrk in one run.
#   1. metadata GETs/s: GET of a tag entry (small JSON, the keep's first request)
#   2. tag-list GETs/s: GET of the repository's tag list (small JSON)
#   3. small-file GETs/s: GET of a 1 KiB file node
#   4. large-blob download throughput: GET of a 64 MiB file node
# Needs: a built drawbridge (BUILD_DIR, default build-drawbridge), wrk, nginx-light, openssl,
# curl, python3 (deps/install.sh --bench installs wrk and nginx-light).
#   [BUILD_DIR=build/...] [ROUNDS=3] bench/drawbridge/run.sh [duration_seconds]
# BASE_BIN=<another drawbridge binary> adds it as a third server ("base", e.g. the previous
# commit's build) to every round, so a change is measured against its baseline and nginx at once.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-drawbridge}
BIN=${DRAWBRIDGE_BIN:-$BUILD_DIR/apps/drawbridge/drawbridge}
DUR=${1:-10}
BLOB_MB=${BLOB_MB:-64}
for t in wrk nginx openssl curl python3; do
  command -v $t >/dev/null || { echo "missing $t (deps/install.sh --bench)"; exit 2; }
done
[ -x "$BIN" ] || { echo "build drawbridge first: $BIN"; exit 2; }

W=$(mktemp -d /tmp/drawbridge-bench.XXXXXX)
chmod 0755 "$W"   # nginx workers (www-data) must reach $W/www; the data dir stays 0700
cleanup() { [ -n "${DB_PID:-}" ] && kill $DB_PID 2>/dev/null || true
            [ -n "${BASE_PID:-}" ] && kill $BASE_PID 2>/dev/null || true
            [ -f "$W/nginx.pid" ] && kill "$(cat $W/nginx.pid)" 2>/dev/null || true
            rm -rf "$W"; }
trap cleanup EXIT
DB_PORT=$((20000 + RANDOM % 10000)); NG_PORT=$((DB_PORT + 1)); BASE_PORT=$((DB_PORT + 2))

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null

# serve BINARY DATA_DIR PORT: one drawbridge instance, ready when /healthz answers.
serve() {
  "$1" serve --data-dir "$2" --address 127.0.0.1 --port $3 --cert "$W/cert.pem" --key "$W/key.pem" \
    --lookup-rate 0 --log-level warn --workers ${WORKERS:-4} --io-threads ${IO_THREADS:-2} \
    --max-blob-size $(( (BLOB_MB + 1) << 20 )) >"$2.log" 2>&1 &
  for i in $(seq 100); do curl -sf --cacert "$W/cert.pem" https://localhost:$3/healthz >/dev/null && break; sleep 0.1; done
}
serve "$BIN" "$W/data" $DB_PORT; DB_PID=$!
TOKEN=$("$BIN" token --data-dir "$W/data" --subject alice)

# Publish one tag (Drawbridge client order: tag, root directory, files) and mirror the bytes
# under the same paths for nginx.
cat >"$W/publish.py" <<'PY'
import base64, hashlib, json, os, random, ssl, sys, urllib.request
w, port, token, mb, mirror = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
ctx = ssl.create_default_context(cafile=f"{w}/cert.pem")
base = f"https://localhost:{port}/api/v0.1.0"
def digest(b):
    return ",".join(f"{n}=:{base64.b64encode(hashlib.new(a, b).digest()).decode()}:"
                    for n, a in (("sha-224","sha224"),("sha-256","sha256"),("sha-384","sha384"),("sha-512","sha512")))
def dj(b):
    return {n: base64.b64encode(hashlib.new(a, b).digest()).decode()
            for n, a in (("sha-224","sha224"),("sha-256","sha256"),("sha-384","sha384"),("sha-512","sha512"))}
def entry(b, t):
    return '{"digest":' + json.dumps(dj(b), separators=(",",":")) + f',"length":{len(b)},"type":' + json.dumps(t) + "}"
def put(path, body, ctype):
    req = urllib.request.Request(base + path, data=body, method="PUT", headers={
        "Content-Type": ctype, "Content-Digest": digest(body), "Authorization": "Bearer " + token})
    urllib.request.urlopen(req, context=ctx).read()
put("/alice", b'{"subject":"alice"}', "application/json")
put("/alice/bench", b'{"public":true}', "application/json")
blob = random.Random(42).randbytes(mb << 20)  # the same bytes for every server
small = b"args = []\n"
kib = random.Random(7).randbytes(1024)
files = {"Enarx.toml": (small, "application/toml"), "main.wasm": (blob, "application/wasm"),
         "page.bin": (kib, "application/octet-stream")}
root = ("{" + ",".join(json.dumps(k) + ":" + entry(v[0], v[1]) for k, v in sorted(files.items())) + "}").encode()
tag = entry(root, "application/vnd.drawbridge.directory.v1+json").encode()
put("/alice/bench/_tag/1.0.0", tag, "application/vnd.drawbridge.entry.v1+json")
put("/alice/bench/_tag/1.0.0/tree", root, "application/vnd.drawbridge.directory.v1+json")
for k, (b, t) in files.items():
    put("/alice/bench/_tag/1.0.0/tree/" + k, b, t)
if not mirror: sys.exit(0)
d = f"{w}/www/api/v0.1.0/alice/bench/_tag/1.0.0"
os.makedirs(d + "/tree", exist_ok=True)
open(d + ".json", "wb").write(tag)           # the tag entry
open(d + "/tree/main.wasm", "wb").write(blob)
open(d + "/tree/page.bin", "wb").write(kib)
open(f"{w}/www/api/v0.1.0/alice/bench/_tag.json", "wb").write(b'["1.0.0"]')  # the tag list
PY
python3 "$W/publish.py" "$W" "$DB_PORT" "$TOKEN" "$BLOB_MB" 1
if [ -n "${BASE_BIN:-}" ]; then
  serve "$BASE_BIN" "$W/base" $BASE_PORT; BASE_PID=$!
  python3 "$W/publish.py" "$W" "$BASE_PORT" "$("$BASE_BIN" token --data-dir "$W/base" --subject alice)" "$BLOB_MB" 0
fi

mkdir -p "$W/nginx"
cat >"$W/nginx.conf" <<NG
worker_processes ${NGINX_WORKERS:-2};
pid $W/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path $W/nginx; proxy_temp_path $W/nginx; fastcgi_temp_path $W/nginx;
  uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
  server {
    listen 127.0.0.1:$NG_PORT ssl;
    ssl_certificate $W/cert.pem;
    ssl_certificate_key $W/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $W/www;
    location = /api/v0.1.0/alice/bench/_tag/1.0.0 {
      default_type application/vnd.drawbridge.entry.v1+json;
      try_files /api/v0.1.0/alice/bench/_tag/1.0.0.json =404;
    }
    location = /api/v0.1.0/alice/bench/_tag {
      default_type application/json;
      try_files /api/v0.1.0/alice/bench/_tag.json =404;
    }
    location = /api/v0.1.0/alice/bench/_tag/1.0.0/tree/page.bin { default_type application/octet-stream; }
    location / { default_type application/wasm; }
  }
}
NG
nginx -p "$W" -c "$W/nginx.conf" -g 'daemon on;' 2>"$W/nginx/start.log" || { cat "$W/nginx/start.log"; exit 1; }
sleep 0.5

TAG=/api/v0.1.0/alice/bench/_tag/1.0.0
BLOB=$TAG/tree/main.wasm
LIST=/api/v0.1.0/alice/bench/_tag
SMALL=$TAG/tree/page.bin
curl -s --cacert "$W/cert.pem" -o "$W/db.out" https://localhost:$DB_PORT$BLOB
curl -s --cacert "$W/cert.pem" -o "$W/ng.out" https://localhost:$NG_PORT$BLOB
cmp -s "$W/db.out" "$W/ng.out" || { echo "drawbridge and nginx serve different bytes"; ls -l "$W"/*.out; sha256sum "$W"/*.out "$W"/data/blobs/sha256/*/*; [ -n "${KEEP:-}" ] && sleep 600; exit 1; }
for p in $LIST $SMALL $TAG; do
  curl -s --cacert "$W/cert.pem" -o "$W/db.out" https://localhost:$DB_PORT$p
  curl -s --cacert "$W/cert.pem" -o "$W/ng.out" https://localhost:$NG_PORT$p
  cmp -s "$W/db.out" "$W/ng.out" || { echo "drawbridge and nginx serve different bytes for $p"; exit 1; }
done
rm -f "$W/db.out" "$W/ng.out"

# wrk's own numbers: requests/s and bytes/s (Transfer/sec, so partial 64 MiB transfers count).
# Also the server's CPU time per request (user + system, all its processes and threads, from
# /proc): unlike throughput it does not depend on how much of the 2 cores wrk and other jobs take.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
server_pids() { case $1 in ng) echo "$(cat "$W/nginx.pid") $(pgrep -P "$(cat "$W/nginx.pid")" | tr '\n' ' ')";;
                           db) echo $DB_PID;; base) echo $BASE_PID;; esac; }
measure() {  # url connections who -> "req/s transfer/s cpu-us-per-request"
  local pids before out
  pids=$(server_pids $3); before=$(ticks $pids)
  out=$(wrk -t2 -c$2 -d${DUR}s "$1")
  echo "$out" | awk -v used=$(( $(ticks $pids) - before )) -v hz=$(getconf CLK_TCK) \
    '/requests in/ {n=$1} /Requests\/sec/ {r=$2} /Transfer\/sec/ {t=$2} END {printf "%s %s %.1f\n", r, t, (n > 0 ? used * 1e6 / hz / n : 0)}'
}
ROUNDS=${ROUNDS:-3}
echo "# drawbridge vs nginx, same TLS cert/key, wrk ${DUR}s x ${ROUNDS} rounds (alternating order, median), $(nproc) cores, blob ${BLOB_MB} MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$W/results"
for r in $(seq "$ROUNDS"); do
  order="db ng"; [ $((r % 2)) -eq 0 ] && order="ng db"
  [ -n "${BASE_BIN:-}" ] && { order="db base ng"; [ $((r % 2)) -eq 0 ] && order="ng base db"; }
  for who in $order; do
    port=$DB_PORT; [ $who = ng ] && port=$NG_PORT; [ $who = base ] && port=$BASE_PORT
    echo "$r $who tag $(measure https://127.0.0.1:$port$TAG 32 $who)" >>"$W/results"
    echo "$r $who list $(measure https://127.0.0.1:$port$LIST 32 $who)" >>"$W/results"
    echo "$r $who small $(measure https://127.0.0.1:$port$SMALL 32 $who)" >>"$W/results"
    echo "$r $who blob $(measure https://127.0.0.1:$port$BLOB 4 $who)" >>"$W/results"
  done
done
python3 - "$W/results" "$BLOB_MB" <<'PY'
import statistics, sys
units = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
def bps(t):
    for u in ("GB", "MB", "KB", "B"):
        if t.endswith(u): return float(t[:-len(u)]) * units[u]
    return float(t)
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
res = {}
for rnd, who, test, rps, tr, cpu in rows:
    res.setdefault((test, who), {})[rnd] = (float(rps), bps(tr) / (1 << 20), float(cpu))
def med(test, who, i): return statistics.median(v[i] for v in res[(test, who)].values())
def ratio(test, i, who="db"): return statistics.median(res[(test, who)][r][i] / res[(test, "ng")][r][i] for r in res[(test, who)])
base = ("tag", "base") in res
print("| test | drawbridge | nginx | drawbridge/nginx (median of per-round ratios) | server CPU µs per request: drawbridge vs nginx (nginx/drawbridge) |" + (" base | base/nginx |" if base else ""))
print("|---|---|---|---|---|" + ("---|---|" if base else ""))
for test, label, i in (("tag", "tag GET (req/s, 32 conns)", 0), ("list", "tag-list GET (req/s, 32 conns)", 0),
                       ("small", "1 KiB file GET (req/s, 32 conns)", 0), ("blob", f"{sys.argv[2]} MiB blob GET (MiB/s, 4 conns)", 1)):
    extra = f" {med(test,'base',i):.0f} | {ratio(test,i,'base'):.2f} |" if base else ""
    cpu = f" {med(test,'db',2):.1f} vs {med(test,'ng',2):.1f} ({1 / ratio(test,2):.2f}) |" if test != "blob" else " — |"
    print(f"| {label} | {med(test,'db',i):.0f} | {med(test,'ng',i):.0f} | {ratio(test,i):.2f} |" + cpu + extra)
print("per round (req/s, MiB/s):", " ".join(f"{r}:{w}:{t}={v[0]:.0f}/{v[1]:.0f}" for (t, w), d in sorted(res.items()) for r, v in sorted(d.items())))
PY
