// Test PKI generated in-process: a CA, a server certificate for 127.0.0.1 / localhost and a
// client certificate (via an intermediate, so handlers see a 3-element chain).
#pragma once

#include <chrono>

#include "core/crypto.h"
#include "core/x509.h"
#include "net/http_server.h"
#include "support/pki.h"

namespace enarx::net::testing {

using support::Issued;

// CN=`cn` issued by `issuer` (self-signed when null); leaves carry digitalSignature, CAs
// keyCertSign + cRLSign.
inline Issued issue(const std::string& cn, const Issued* issuer, bool ca,
                    const SubjectAltNames& sans = {}, std::vector<std::string> eku = {}) {
  return support::issue(cn, issuer, {.ca = ca, .eku = std::move(eku), .sans = sans});
}

struct TestPki {
  Issued ca, server, client_ca, client_intermediate, client;

  static TestPki make() {
    TestPki p;
    p.ca = issue("Test Server CA", nullptr, true);
    SubjectAltNames server_sans;
    server_sans.dns = {"localhost"};
    server_sans.ips = {"127.0.0.1"};
    p.server = issue("localhost", &p.ca, false, server_sans, {"serverAuth"});
    p.client_ca = issue("Test Client CA", nullptr, true);
    p.client_intermediate = issue("Test Client Intermediate", &p.client_ca, true);
    SubjectAltNames client_sans;
    client_sans.dns = {"keep.example.com"};
    p.client = issue("keep", &p.client_intermediate, false, client_sans, {"clientAuth"});
    return p;
  }
  std::string client_chain_pem() const {
    return client.cert.to_pem() + client_intermediate.cert.to_pem();
  }
  // One PKI per test process: RSA/EC key generation is the slow part of these tests.
  static const TestPki& shared() {
    static const TestPki p = make();
    return p;
  }
};

// A TLS server on the shared PKI's "localhost" certificate, two worker threads.
inline ServerConfig tls_server_config(bool chain_with_ca = true) {
  const TestPki& pki = TestPki::shared();
  TlsServerConfig t;
  t.cert_chain_pem = pki.server.cert.to_pem() + (chain_with_ca ? pki.ca.cert.to_pem() : "");
  t.key_pem = pki.server.key.to_pem_pkcs8();
  ServerConfig c;
  c.tls = t;
  c.worker_threads = 2;
  return c;
}

}  // namespace enarx::net::testing
