#!/usr/bin/env bash
# The end-to-end flow on the embedded defaults, narrated for a person to watch, with every
# expectation checked (exits non-zero on the first surprise). Called by scripts/demo.sh.
#   scripts/e2e-flow.sh [build-dir]
#
#  1. a simulated SEV-SNP platform (test root of trust) is initialised
#  2. steward (attestation CA) starts on loopback, trusting only that simulated root
#  3. drawbridge (registry) starts on loopback, trusting steward's CA for keep certificates
#  4. a publisher registers, creates a PRIVATE repository, and publishes + signs the TLS example;
#     4b: shares it with another user (read), who reads it, then revokes the grant
#  5. `enarx deploy` (no --steward: drawbridge names its default steward) attests (sim-snp ->
#     steward), fetches over mutual TLS, runs the workload
#  6. a relying party checks the workload's TLS endpoint: `enarx verify` and `openssl s_client`
#     and the C++ relying-party example (examples/relying-party); 5b/6b: the same on sim-tdx;
#     5c: a second repository names its own steward (B), which checks tag, digest and signer
#     with drawbridge before certifying its keep (and refuses an unsigned tag)
#  7. the failure cases: wrong digest pin, unsigned tag with --signer, untrusted steward (its TLS
#     and, separately, its certificates), a runtime steward does not know (no identity), an
#     insecure keep certificate at a registry without the development opt-in, a keep certificate
#     posing as steward, tampered blob in the store — each must fail at its own step
#  8. revocation: steward revokes a keep certificate; OCSP, the CRL and enarx verify agree
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$repo/build/release}" && pwd)"
enarx="$build/apps/enarx/enarx"
steward="$build/apps/steward/steward"
drawbridge="$build/apps/drawbridge/drawbridge"
tls_server="$build/examples/tls-server.wasm"
relying_party="$build/examples/relying-party/relying-party"

work="$(mktemp -d /tmp/enarx-e2e.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ "${KEEP_E2E_DIR:-0}" == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ok() { printf '    \033[32mok\033[0m %s\n' "$*"; }
die() { printf '\033[31mFAILED: %s\033[0m\n' "$*" >&2; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # port seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
expect_exit() {  # expected-code description command...
  local want="$1" what="$2"; shift 2
  set +e; "$@" >"$work/last.out" 2>&1; local got=$?; set -e
  [[ "$got" == "$want" ]] || { cat "$work/last.out"; die "$what: exit $got, expected $want"; }
  ok "$what (exit $got): $(grep -E 'failed|error|refusing' "$work/last.out" | head -1)"
}

SP=$(free_port); DP=$(free_port); WP=$(free_port); SBP=$(free_port)
host="localhost:$DP"

step "1. simulated SEV-SNP and TDX platforms (local test roots of trust; never accepted by production defaults)"
"$enarx" platform sim init "$work/sim" >"$work/sim-init.out"
ok "test ARK/ASK/VCEK in $work/sim/snp, test Intel-style DCAP root/PCK/TCB signer in $work/sim/dcap"
snp_measurement="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["measurement"])' "$work/sim/snp/config.json")"
tdx_mrtd="$(sed -n 's/.*\[tdx\] mrtd = \["\([0-9a-f]*\)"\].*/\1/p' "$work/sim-init.out")"
[[ -n "$snp_measurement" && -n "$tdx_mrtd" ]] || die "cannot read the simulated measurements"

step "2. steward on https://localhost:$SP (CA generated in its state dir; trusts the simulated root only by explicit opt-in)"
cat >"$work/steward.toml" <<TOML
[issuance]
allow_insecure = true          # needed to certify simulated evidence; marked in every certificate
certificate_lifetime = "1h"
[simulated]
roots = ["$work/sim/snp/cert_chain.pem", "$work/sim/dcap/root.pem"]
# Only a known, measured runtime gets workload names (slug, digest, signer) in its certificate:
# these are the simulated runtimes' launch measurements. Without them steward would certify the
# keeps but refuse to name their workloads (steward.identity.unknown_runtime).
[snp]
hash = ["$snp_measurement"]
[tdx]
mrtd = ["$tdx_mrtd"]
TOML
# --public-url: every certificate names steward's CRL (<url>/crl) and OCSP responder (<url>/ocsp).
"$steward" --state-dir "$work/steward" --addr 127.0.0.1 --port "$SP" --host localhost \
  --public-url "https://localhost:$SP" \
  --policy "$work/steward.toml" --audit-log "$work/steward-audit.jsonl" >"$work/steward.log" 2>&1 &
pids+=($!)
wait_port "$SP" 20 || die "steward did not start"
ok "steward knows the simulated runtimes by measurement: $(grep -E '^(hash|mrtd) =' "$work/steward.toml" | tr '\n' ' ')"
ok "steward keep CA: $(openssl x509 -in "$work/steward/ca.crt" -noout -subject -fingerprint -sha256 | tr '\n' ' ')"
ok "steward HTTPS CA (separate; never signs keeps): $(openssl x509 -in "$work/steward/tls/ca.crt" -noout -subject | tr '\n' ' ')"
# A second steward (B), with its own keep CA, for a repository that names it (step 5c).
start_steward_b() {  # extra flags...
  "$steward" --state-dir "$work/steward-b" --addr 127.0.0.1 --port "$SBP" --host localhost \
    "$@" >>"$work/steward-b.log" 2>&1 &
  steward_b_pid=$!; pids+=($steward_b_pid)
  wait_port "$SBP" 20 || die "steward B did not start"
}
start_steward_b --policy "$work/steward.toml"
ok "steward B on https://localhost:$SBP (keep CA $(openssl x509 -in "$work/steward-b/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2 | cut -c1-23)…)"

step "3. drawbridge on https://$host (SQLite + blob store; keep client certs verified against the stewards' CAs; default steward named)"
cat "$work/steward/ca.crt" "$work/steward-b/ca.crt" >"$work/stewards-ca.pem"
cat "$work/steward/tls/ca.crt" "$work/steward-b/tls/ca.crt" >"$work/stewards-https-ca.pem"
# Each steward's CRL: a revoked keep certificate grants nothing (step 8).
start_drawbridge() {  # extra flags...
  "$drawbridge" serve --data-dir "$work/drawbridge" --self-signed-tls --address 127.0.0.1 --port "$DP" \
    --client-ca "$work/stewards-ca.pem" --public-host "$host" --default-steward "https://localhost:$SP" \
    --keep-crl-url "https://localhost:$SP/crl,https://localhost:$SBP/crl" \
    --keep-crl-ca-file "$work/stewards-https-ca.pem" \
    "$@" >>"$work/drawbridge.log" 2>&1 &
  drawbridge_pid=$!; pids+=($drawbridge_pid)
  wait_port "$DP" 20 || die "drawbridge did not start"
}
# Simulated keeps are insecure keeps: a registry lets them read private repositories only in
# development mode (--accept-insecure-keeps; step 7 shows the default refusing them).
start_drawbridge --accept-insecure-keeps
ok "development mode: keep certificates from simulated platforms may read (drawbridge logs a warning)"
registry_ca="$work/drawbridge/tls/self-signed.pem"
export ENARX_CA_BUNDLE="$registry_ca"
export ENARX_TOKEN="$("$drawbridge" token --data-dir "$work/drawbridge" --subject alice)"
ok "local token issued for subject 'alice'"

step "4. publish: signing key, user, private repository, signed tag"
"$enarx" key generate --out "$work/publisher.key" | sed 's/^/    /'
signer="$("$enarx" key fingerprint "$work/publisher.key")"
"$enarx" user register "$host/alice" | sed 's/^/    /'
"$enarx" repo register "$host/alice/web" --private | sed 's/^/    /'
pkg="$work/package"; mkdir -p "$pkg/static"
cp "$tls_server" "$pkg/main.wasm"
echo "served from inside an attested keep" >"$pkg/static/motd.txt"
cat >"$pkg/Enarx.toml" <<TOML
args = ["9"]                   # serve nine connections (the relying parties below), then exit 0
[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = "tls"
name = "ingest"
addr = "127.0.0.1"
port = $WP
TOML
"$enarx" package publish "$pkg" "$host/alice/web:1.0.0" --sign-key "$work/publisher.key" 2>&1 | sed 's/^/    /'
digest="$("$enarx" package info "$host/alice/web:1.0.0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')"
ok "published $host/alice/web:1.0.0 = $digest, signed by $signer"
info="$("$enarx" package info "$host/alice/web:1.0.0")"
app_digest="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["app_digest"])' "$info")"
config_digest="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["config_digest"])' "$info")"
[[ "$app_digest" == "sha-256:$(sha256sum "$pkg/main.wasm" | cut -c1-64)" ]] || die "app_digest is not sha256sum main.wasm"
ok "application $app_digest, configuration $config_digest (docs/oids.md)"
# Which steward, asked before attesting: anyone gets the registry's default for a private name,
# exactly as for a name that does not exist.
ask_steward() { curl -sS --cacert "$registry_ca" -D - "https://$host/api/v0.1.0/$1/_steward" | grep -viE '^(date|x-request-id):'; }
[[ "$(ask_steward alice/web/_tag/1.0.0)" == "$(ask_steward alice/ghost/_tag/1.0.0)" ]] \
  || die "the _steward answer tells a private repository from a missing one"
ok "anonymous GET …/alice/web/_tag/1.0.0/_steward = the answer for a missing name: $(ask_steward alice/web/_tag/1.0.0 | tail -1)"

step "4b. share the private repository with bob (read), then revoke"
bob_token="$("$drawbridge" token --data-dir "$work/drawbridge" --subject bob)"
"$enarx" user register "$host/bob" --token "$bob_token" | sed 's/^/    /'
expect_exit 7 "bob cannot read alice's private repository" "$enarx" package info "$host/alice/web:1.0.0" --token "$bob_token"
"$enarx" repo share "$host/alice/web" --user bob --access read | sed 's/^/    /'
"$enarx" package info "$host/alice/web:1.0.0" --token "$bob_token" >/dev/null || die "the reader was refused"
ok "bob reads alice/web:1.0.0 with his own token"
"$enarx" repo grants "$host/alice/web" | sed 's/^/    /'
"$enarx" repo unshare "$host/alice/web" --user bob | sed 's/^/    /'
expect_exit 7 "revoked: refused on the next request" "$enarx" package info "$host/alice/web:1.0.0" --token "$bob_token"
# The owner's token reads the private tag's metadata; the tree itself is fetched by the keep
# with its attested certificate only (drawbridge checks the slug in the certificate).

deploy_and_verify() {  # platform step-numbers
  local platform="$1" n="$2" m="$3"
  step "$n. deploy: attest on $platform, get a steward certificate, fetch over mutual TLS, run"
  # No --steward: drawbridge names its default steward (the repository and tag name none).
  "$enarx" deploy "$host/alice/web:1.0.0@$digest" --signer "$work/publisher.key" \
    --steward-ca "$work/steward/tls/ca.crt" \
    --steward-identity-ca "$work/steward/ca.crt" \
    --platform "$platform" --sim-dir "$work/sim" >"$work/deploy-$platform.log" 2>&1 &
  local deploy_pid=$!; pids+=($deploy_pid)
  wait_port "$WP" 60 || die "the workload did not start listening"
  sed 's/^/    /' "$work/deploy-$platform.log"
  grep -q "steward https://localhost:$SP (from the registry's default)" "$work/deploy-$platform.log" \
    || die "deploy did not take the steward drawbridge named"

  step "$m. relying party: verify the workload's TLS endpoint ($platform)"
  "$enarx" verify "localhost:$WP" --ca "$work/steward/ca.crt" --allow-simulated \
    --revocation-ca "$work/steward/tls/ca.crt" \
    --expect-slug "$host/alice/web:1.0.0" --expect-digest "$digest" --expect-signer "$signer" \
    --expect-app-digest "$app_digest" --expect-config-digest "$config_digest" \
    >"$work/verify-$platform.out" || { cat "$work/verify-$platform.out"; die "enarx verify"; }
  sed 's/^/    /' "$work/verify-$platform.out"
  grep -Eq "steward: +https://localhost:$SP\$" "$work/verify-$platform.out" || die "the certificate does not name the steward used"
  grep -Eiq "revocation: +good" "$work/verify-$platform.out" || die "enarx verify did not check the keep's revocation status"
  expect_exit 5 "enarx verify refuses another application (policy: an expectation not met)" \
    "$enarx" verify "localhost:$WP" --ca "$work/steward/ca.crt" --allow-simulated \
    --revocation-ca "$work/steward/tls/ca.crt" --expect-app-digest "sha-256:$(printf '0%.0s' {1..64})"
  grep -Eq "platform: +${platform#sim-} \(SIMULATED\)" "$work/verify-$platform.out" || die "enarx verify: platform is not ${platform#sim-}"
  echo | openssl s_client -connect "127.0.0.1:$WP" -verify_return_error -CAfile "$work/steward/ca.crt" \
    -showcerts >"$work/s_client-$platform.log" 2>&1 || die "openssl s_client"
  grep -q "Verify return code: 0 (ok)" "$work/s_client-$platform.log" || die "openssl s_client did not verify"
  ok "openssl s_client -verify_return_error -CAfile steward-ca.pem: Verify return code: 0 (ok)"
  # Four independent X.509 stacks parse and verify the keep's certificate (docs/oids.md).
  bash "$repo/tests/interop/verify-keep.sh" 127.0.0.1 "$WP" "$work/steward/ca.crt" "$work/interop-$platform" \
    >"$work/interop-$platform.out" 2>&1 || { cat "$work/interop-$platform.out"; die "a TLS stack refused the keep"; }
  while read -r line; do ok "$line"; done <"$work/interop-$platform.out"
  # Offline: the certificate chain alone, its evidence re-verified under the steward policy.
  sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$work/s_client-$platform.log" >"$work/chain-$platform.pem"
  "$enarx" verify "$work/chain-$platform.pem" --ca "$work/steward/ca.crt" --allow-simulated \
    --revocation-ca "$work/steward/tls/ca.crt" \
    --offline --policy "$work/steward.toml" >"$work/offline-$platform.out" 2>&1 \
    || { cat "$work/offline-$platform.out"; die "enarx verify --offline"; }
  ok "enarx verify --offline: $(grep 'offline replay' "$work/offline-$platform.out" | sed 's/ \+/ /g')"
  expect_exit 4 "enarx verify --offline under the default policy (simulated root not trusted)" \
    "$enarx" verify "$work/chain-$platform.pem" --ca "$work/steward/ca.crt" --allow-simulated --offline \
    --revocation-ca "$work/steward/tls/ca.crt"
  "$relying_party" "localhost:$WP" --ca "$work/steward/ca.crt" --allow-simulated \
    --revocation-ca "$work/steward/tls/ca.crt" --expect-slug "$host/alice/web:1.0.0" --expect-digest "$digest" --expect-signer "$signer" \
    --expect-app-digest "$app_digest" >"$work/relying-party-$platform.out" 2>&1 || { cat "$work/relying-party-$platform.out"; die "relying-party example"; }
  grep -q "Hello from an Enarx workload over TLS" "$work/relying-party-$platform.out" || die "relying-party: no reply"
  ok "examples/relying-party (the C++ library API): verified, then on the same connection: $(grep -m1 Hello "$work/relying-party-$platform.out")"
  expect_exit 4 "examples/relying-party refuses a keep running another digest" \
    "$relying_party" "localhost:$WP" --ca "$work/steward/ca.crt" --allow-simulated \
    --revocation-ca "$work/steward/tls/ca.crt" --expect-digest "sha-256:$(printf '0%.0s' {1..64})"
  wait "$deploy_pid" || die "the workload exited non-zero"
  ok "workload served eight connections and exited 0"
}
deploy_and_verify sim-snp 5 6
deploy_and_verify sim-tdx 5b 6b

step "5c. a second repository names its own steward (B): its keep is certified by B, with no --steward"
# B checks the names with drawbridge before it certifies them (docs/steward.md "Registry check").
cp "$work/steward.toml" "$work/steward-b.toml"
cat >>"$work/steward-b.toml" <<TOML
[registry]
ca_file = "$registry_ca"
[[registry.check]]
platform = "snp"
allowed_signers = ["$signer"]
TOML
kill "$steward_b_pid"; wait "$steward_b_pid" 2>/dev/null || true
start_steward_b --policy "$work/steward-b.toml"
ok "steward B restarted with the registry check for snp (allowed signer $signer)"
"$enarx" repo register "$host/alice/api" --steward "https://localhost:$SBP" | sed 's/^/    /'
"$enarx" package publish "$pkg" "$host/alice/api:1.0.0" --sign-key "$work/publisher.key" >/dev/null 2>&1 \
  || die "publishing alice/api"
ok "anonymous GET …/alice/api/_steward: $(ask_steward alice/api | tail -1)"
"$enarx" deploy "$host/alice/api:1.0.0" --signer "$work/publisher.key" \
  --steward-ca "$work/steward-b/tls/ca.crt" --steward-identity-ca "$work/steward-b/ca.crt" \
  --platform sim-snp --sim-dir "$work/sim" >"$work/deploy-b.log" 2>&1 &
deploy_b=$!; pids+=($deploy_b)
wait_port "$WP" 60 || { cat "$work/deploy-b.log"; die "the workload (alice/api) did not start listening"; }
sed 's/^/    /' "$work/deploy-b.log"
grep -q "steward https://localhost:$SBP (from the repository)" "$work/deploy-b.log" \
  || die "deploy did not take the repository's steward"
"$enarx" verify "localhost:$WP" --ca "$work/steward-b/ca.crt" --allow-simulated \
  --expect-slug "$host/alice/api:1.0.0" --expect-signer "$signer" >"$work/verify-b.out" \
  || { cat "$work/verify-b.out"; die "enarx verify (steward B)"; }
grep -q "registry check:  tag, digest and signer confirmed by https://$host" "$work/verify-b.out" \
  || { cat "$work/verify-b.out"; die "steward B did not record its registry check"; }
ok "enarx verify: alice/api's keep chains to steward B's keep CA; $(grep 'registry check' "$work/verify-b.out" | sed 's/  */ /g')"
expect_exit 4 "the same keep under steward A's CA (it was certified by B)" \
  "$enarx" verify "localhost:$WP" --ca "$work/steward/ca.crt" --allow-simulated --revocation-ca "$work/steward/tls/ca.crt"
kill "$deploy_b" 2>/dev/null || true; wait "$deploy_b" 2>/dev/null || true
"$enarx" package publish "$pkg" "$host/alice/api:1.0.1" >/dev/null 2>&1 || die "publishing alice/api:1.0.1"
expect_exit 25 "steward B refuses an unsigned tag (registry check)" \
  "$enarx" deploy "$host/alice/api:1.0.1" --steward-ca "$work/steward-b/tls/ca.crt" \
  --platform sim-snp --sim-dir "$work/sim" --time-limit 5
grep -Eq "steward.registry.(unsigned|names_missing)" "$work/last.out" || { cat "$work/last.out"; die "not refused by the registry check"; }

step "7. failure cases, each at its own step"
"$enarx" package publish "$pkg" "$host/alice/web:1.0.1" >/dev/null 2>&1   # unsigned
common=(--steward "https://localhost:$SP" --steward-identity-ca "$work/steward/ca.crt" --platform sim-snp --sim-dir "$work/sim" --time-limit 5)
expect_exit 22 "wrong digest pin" \
  "$enarx" deploy "$host/alice/web:1.0.0@sha-256:$(printf '0%.0s' {1..64})" --steward-ca "$work/steward/tls/ca.crt" "${common[@]}"
expect_exit 23 "unsigned tag with --signer" \
  "$enarx" deploy "$host/alice/web:1.0.1" --signer "$signer" --steward-ca "$work/steward/tls/ca.crt" "${common[@]}"
expect_exit 25 "untrusted steward (TLS trust is another CA)" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward-ca "$registry_ca" "${common[@]}"
# A second steward that nobody trusts: it certifies the keep, but drawbridge (and any relying
# party holding the real steward CA) refuses that certificate.
RP=$(free_port)
"$steward" --state-dir "$work/rogue-steward" --addr 127.0.0.1 --port "$RP" --host localhost \
  --policy "$work/steward.toml" >"$work/rogue-steward.log" 2>&1 &
pids+=($!)
wait_port "$RP" 20 || die "the rogue steward did not start"
expect_exit 26 "certificate from an untrusted steward, keep CA not pinned (drawbridge refuses the keep)" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward "https://localhost:$RP" \
  --steward-ca "$work/rogue-steward/tls/ca.crt" --platform sim-snp --sim-dir "$work/sim" --time-limit 5
expect_exit 25 "certificate from an untrusted steward, keep CA pinned (the keep refuses it itself)" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward "https://localhost:$RP" \
  --steward-ca "$work/rogue-steward/tls/ca.crt" --steward-identity-ca "$work/steward/ca.crt" \
  --platform sim-snp --sim-dir "$work/sim" --time-limit 5
# A keep certificate cannot pass for steward. Trusting the keep CA for steward's HTTPS finds
# nothing (steward's HTTPS certificate has its own CA) ...
expect_exit 25 "the keep CA does not vouch for steward's HTTPS" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward-ca "$work/steward/ca.crt" "${common[@]}"
# ... and a real keep certificate (simulated evidence, certified by steward) served as if it
# were steward's is refused by the keep even when its chain verifies.
"$enarx" platform evidence --platform sim-snp --sim-dir "$work/sim" --csr "$work/imp.csr" --key "$work/imp.key" >/dev/null
curl -sS --fail --cacert "$work/steward/tls/ca.crt" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$work/imp.csr" "https://localhost:$SP/" -o "$work/imp.chain.der" || die "steward did not certify the impersonation keep"
python3 - "$work/imp.chain.der" "$work/imp.pem" <<'PY'
import subprocess, sys
der = open(sys.argv[1], "rb").read()
# DER SEQUENCE OF Certificate (root-side first): split the elements, write leaf first.
def length(b, i):
    n = b[i]; i += 1
    if n < 0x80: return n, i
    k = n & 0x7f; return int.from_bytes(b[i:i+k], "big"), i + k
_, i = length(der, 1)
certs = []
while i < len(der):
    start = i; n, j = length(der, i + 1); i = j + n; certs.append(der[start:i])
pem = b"".join(subprocess.run(["openssl", "x509", "-inform", "DER"], input=c, capture_output=True, check=True).stdout
               for c in reversed(certs))
open(sys.argv[2], "wb").write(pem)
PY
IP=$(free_port)
openssl s_server -accept "$IP" -cert "$work/imp.pem" -key "$work/imp.key" -quiet -www >"$work/imp-server.log" 2>&1 &
pids+=($!)
wait_port "$IP" 20 || die "the impersonating server did not start"
expect_exit 25 "a keep certificate posing as steward (its chain verifies under the keep CA)" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward "https://localhost:$IP" --steward-ca "$work/steward/ca.crt" \
  --platform sim-snp --sim-dir "$work/sim" --time-limit 5
grep -q "steward_certificate_refused" "$work/last.out" || { cat "$work/last.out"; die "the impersonation was not refused for the right reason"; }
# A runtime steward does not know gets no identity: the same simulated platform launching
# another measurement.
cp -r "$work/sim" "$work/sim-unknown"
python3 - "$work/sim-unknown/snp/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["measurement"] = "ab" * 48; json.dump(c, open(sys.argv[1], "w"))
PY
expect_exit 25 "a runtime with an unknown measurement (steward refuses it an identity)" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward "https://localhost:$SP" --steward-ca "$work/steward/tls/ca.crt" \
  --steward-identity-ca "$work/steward/ca.crt" --platform sim-snp --sim-dir "$work/sim-unknown" --time-limit 5
grep -q "measurement_not_allowed\|unknown_runtime" "$work/last.out" || { cat "$work/last.out"; die "not refused for its measurement"; }
# The same registry without the development opt-in: a simulated keep's certificate is
# insecure, so it reads nothing private.
kill "$drawbridge_pid"; wait "$drawbridge_pid" 2>/dev/null || true
start_drawbridge
expect_exit 26 "an insecure (simulated) keep certificate at a registry that does not accept them" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward-ca "$work/steward/tls/ca.crt" "${common[@]}"
grep -q "drawbridge.client_cert_insecure" "$work/drawbridge.log" || die "drawbridge did not log the refusal"
kill "$drawbridge_pid"; wait "$drawbridge_pid" 2>/dev/null || true
start_drawbridge --accept-insecure-keeps
wasm_blob="$work/drawbridge/blobs/sha256/$(sha256sum "$pkg/main.wasm" | cut -c1-2)/$(sha256sum "$pkg/main.wasm" | cut -d' ' -f1)"
[[ -f "$wasm_blob" ]] || die "blob $wasm_blob not found"
chmod u+w "$wasm_blob"; printf 'X' | dd of="$wasm_blob" bs=1 seek=100 conv=notrunc status=none
expect_exit 26 "tampered blob in the store" \
  "$enarx" deploy "$host/alice/web:1.0.0" --steward-ca "$work/steward/tls/ca.crt" "${common[@]}"

step "8. revocation: steward revokes the sim-snp keep's certificate; OCSP, the CRL, enarx verify and steward's index agree"
serial="$(openssl x509 -in "$work/chain-sim-snp.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')"
grep -q "URI:https://localhost:$SP/crl" <(openssl x509 -in "$work/chain-sim-snp.pem" -noout -ext crlDistributionPoints) \
  || die "the keep certificate names no CRL distribution point"
grep -q "OCSP - URI:https://localhost:$SP/ocsp" <(openssl x509 -in "$work/chain-sim-snp.pem" -noout -ext authorityInfoAccess) \
  || die "the keep certificate names no OCSP responder"
ok "the keep certificate names steward's CRL and OCSP responder (https://localhost:$SP/crl, /ocsp)"
"$enarx" verify "$work/chain-sim-snp.pem" --ca "$work/steward/ca.crt" --allow-simulated \
  --revocation-ca "$work/steward/tls/ca.crt" >"$work/verify-before-revoke.out" 2>&1 \
  || { cat "$work/verify-before-revoke.out"; die "enarx verify before the revocation"; }
ok "before: $(grep -i 'revocation' "$work/verify-before-revoke.out" | sed 's/  */ /g')"
"$steward" --state-dir "$work/steward" revoke --serial "$serial" --reason keyCompromise \
  --detail "e2e: the host was compromised" >"$work/revoke.out" || { cat "$work/revoke.out"; die "steward revoke"; }
sed 's/^/    /' "$work/revoke.out"
expect_exit 4 "enarx verify of the revoked keep certificate (OCSP: revoked, keyCompromise)" \
  "$enarx" verify "$work/chain-sim-snp.pem" --ca "$work/steward/ca.crt" --allow-simulated \
  --revocation-ca "$work/steward/tls/ca.crt"
grep -q "revocation.revoked" "$work/last.out" || { cat "$work/last.out"; die "not refused as revoked"; }
# Serving stewards pick the revocation up from the index within a second.
for _ in $(seq 1 20); do
  curl -sS --cacert "$work/steward/tls/ca.crt" "https://localhost:$SP/crl" -o "$work/steward.crl"
  openssl crl -inform DER -in "$work/steward.crl" -noout -text >"$work/steward-crl.txt"
  grep -qi "Serial Number: 0*$serial" "$work/steward-crl.txt" && break
  sleep 0.25
done
grep -qi "Serial Number: 0*$serial" "$work/steward-crl.txt" || { cat "$work/steward-crl.txt"; die "the CRL does not list the revoked keep"; }
grep -A4 -i "Serial Number: 0*$serial" "$work/steward-crl.txt" | grep -q "Key Compromise" || die "the CRL entry has no reason keyCompromise"
ok "GET /crl (CRL number $(grep -E 'X509v3 CRL Number' -A1 "$work/steward-crl.txt" | tail -1 | tr -d ' ')) lists it, reason Key Compromise"
openssl x509 -in "$work/chain-sim-snp.pem" -out "$work/revoked-leaf.pem"
openssl crl -inform DER -in "$work/steward.crl" -out "$work/steward-crl.pem"
if openssl verify -crl_check -CAfile "$work/steward/ca.crt" -CRLfile "$work/steward-crl.pem" "$work/revoked-leaf.pem" >"$work/ossl-verify.out" 2>&1; then
  die "openssl verify -crl_check accepted the revoked keep certificate"
fi
ok "openssl verify -crl_check: $(grep -m1 -o 'certificate revoked' "$work/ossl-verify.out")"
"$steward" --state-dir "$work/steward" list --all --serial "$serial" | sed 's/^/    /'
"$steward" --state-dir "$work/steward" --policy "$work/steward.toml" reevaluate --dry-run 2>/dev/null | tail -1 \
  | sed 's/^/    steward reevaluate --dry-run (its policy): /'
"$steward" --state-dir "$work/steward" reevaluate --dry-run 2>/dev/null | tail -1 \
  | sed 's/^/    steward reevaluate --dry-run (default policy: insecure issuance off): /'

step "done: the whole flow works, and each tampering is caught"
