#!/usr/bin/env python3
"""Connects to a keep with Python's ssl module in strict X.509 mode and parses its chain with
the `cryptography` package.

  x509check.py <host> <port> <steward-ca.pem>

ssl: VERIFY_X509_STRICT (what Python 3.13 turns on by default) and the steward CA as the only
trust anchor; no host name check (a keep is named by URIs, not DNS names). cryptography: every
extension of every certificate is decoded (its Rust DER parser refuses what RFC 5280 forbids).
Debian 12's python3-cryptography is 38.0.4, which predates the path verifier
(cryptography.x509.verification, added in 42); where it exists it is used as well.
"""
import socket
import ssl
import sys

from cryptography import x509

host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
with socket.create_connection((host, port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        leaf_der = tls.getpeercert(binary_form=True)
leaf = x509.load_der_x509_certificate(leaf_der)
names = []
for ext in leaf.extensions:  # decodes every extension
    if isinstance(ext.value, x509.SubjectAlternativeName):
        names = [n.value for n in ext.value]
        assert ext.critical or leaf.subject.rdns, "an empty subject needs a critical SAN"
assert names, "no subjectAltName"
verifier = "ssl VERIFY_X509_STRICT"
try:
    from cryptography.x509 import verification  # cryptography >= 42
    with open(ca, "rb") as f:
        store = verification.Store(x509.load_pem_x509_certificates(f.read()))
    verification.PolicyBuilder().store(store).build_client_verifier().verify(leaf, [])
    verifier += " + cryptography.x509.verification"
except ImportError:
    pass
print(f"python ssl ({ssl.OPENSSL_VERSION}) {verifier}: verified; cryptography parsed "
      f"{len(leaf.extensions)} extensions; SAN: {' '.join(map(str, names))}")
