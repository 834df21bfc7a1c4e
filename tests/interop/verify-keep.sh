#!/usr/bin/env bash
# Verifies a running keep's TLS certificate chain with four independent X.509 stacks: Go
# crypto/x509, GnuTLS, OpenSSL in strict mode, and Python (ssl strict + cryptography). Each
# connects on its own (the keep serves one TLS connection per check).
#   tests/interop/verify-keep.sh <host> <port> <steward-ca.pem> <scratch-dir>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
host="$1" port="$2" ca="$3" work="$4"
mkdir -p "$work"
fail() { echo "verify-keep: $*" >&2; exit 1; }

go_bin="$(command -v go || true)"
for g in /usr/lib/go-1.23/bin/go /usr/lib/go-1.22/bin/go /usr/lib/go-1.21/bin/go; do
  [[ -z "$go_bin" && -x "$g" ]] && go_bin="$g"
done
[[ -n "$go_bin" ]] || fail "Go is not installed (deps/install.sh installs golang-1.23-go)"
command -v gnutls-cli >/dev/null && command -v certtool >/dev/null || fail "gnutls-bin is not installed"

# Go: build once per scratch dir (stdlib only, no network).
if [[ ! -x "$work/x509check" ]]; then
  GOCACHE="$work/gocache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GO111MODULE=off \
    "$go_bin" build -o "$work/x509check" "$here/x509check.go" "$here/version.go" || fail "go build"
fi
"$work/x509check" "$host:$port" "$ca" || fail "Go refused the keep"

# GnuTLS: gnutls-cli parses the chain during the handshake; certtool verifies it.
gnutls-cli --insecure --print-cert --no-ca-verification -p "$port" "$host" </dev/null \
  >"$work/gnutls.out" 2>&1 || { cat "$work/gnutls.out" >&2; fail "gnutls-cli could not connect"; }
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$work/gnutls.out" >"$work/gnutls-chain.pem"
[[ -s "$work/gnutls-chain.pem" ]] || { cat "$work/gnutls.out" >&2; fail "gnutls-cli printed no certificate"; }
certtool --verify --load-ca-certificate "$ca" --infile "$work/gnutls-chain.pem" \
  --verify-purpose=1.3.6.1.5.5.7.3.1 >"$work/certtool.out" 2>&1 \
  || { cat "$work/certtool.out" >&2; fail "GnuTLS certtool refused the chain"; }
echo "gnutls $(gnutls-cli --version | head -1 | awk '{print $NF}'): $(grep -m1 'Chain verification output' "$work/certtool.out" | sed 's/^ *//')"

# OpenSSL, strict RFC 5280 checks.
echo | openssl s_client -connect "$host:$port" -showcerts >"$work/openssl.out" 2>&1 || true
awk -v dir="$work" '/BEGIN CERTIFICATE/{n++; inside=1} inside{print > (dir "/cert" n ".pem")} /END CERTIFICATE/{inside=0}' "$work/openssl.out"
[[ -s "$work/cert1.pem" ]] || { cat "$work/openssl.out" >&2; fail "openssl s_client got no certificate"; }
cat "$work"/cert[2-9].pem >"$work/untrusted.pem" 2>/dev/null || : >"$work/untrusted.pem"
openssl verify -x509_strict -purpose sslserver -CAfile "$ca" -untrusted "$work/untrusted.pem" \
  "$work/cert1.pem" >"$work/openssl-verify.out" 2>&1 \
  || { cat "$work/openssl-verify.out" >&2; fail "openssl verify -x509_strict refused the chain"; }
echo "$(openssl version | awk '{print $1, $2}') verify -x509_strict -purpose sslserver: OK"

python3 "$here/x509check.py" "$host" "$port" "$ca" || fail "Python refused the keep"
