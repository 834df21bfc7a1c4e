// Test PKI: a steward-like CA issuing keep client certificates (URI SAN slug), a server CA and
// a localhost server certificate. Everything generated in memory.
#pragma once

#include <chrono>
#include <string>

#include "core/crypto.h"
#include "core/x509.h"

namespace enarx::drawbridge::pkitest {

struct Issued {
  PrivateKey key;
  Certificate cert;
};

inline Issued make_ca(const std::string& cn) {
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto now = std::chrono::system_clock::now();
  auto cert = CertificateBuilder()
                  .subject({{"CN", cn}})
                  .public_key(key.public_key())
                  .validity(now - std::chrono::hours(1), now + std::chrono::hours(24))
                  .ca(true)
                  .key_usage({"keyCertSign", "cRLSign", "digitalSignature"})
                  .sign(key);
  return {key, cert};
}

inline Issued issue(const Issued& ca, const std::string& cn, const SubjectAltNames& sans,
                    std::vector<std::string> eku, std::chrono::hours from = std::chrono::hours(-1),
                    std::chrono::hours to = std::chrono::hours(12)) {
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto now = std::chrono::system_clock::now();
  auto cert = CertificateBuilder()
                  .subject({{"CN", cn}})
                  .public_key(key.public_key())
                  .validity(now + from, now + to)
                  .key_usage({"digitalSignature"})
                  .extended_key_usage(std::move(eku))
                  .subject_alt_names(sans)
                  .sign(ca.key, &ca.cert);
  return {key, cert};
}

inline Issued keep_cert(const Issued& ca, const std::string& slug_uri, bool expired = false) {
  SubjectAltNames sans;
  sans.uris = {slug_uri};
  sans.dns = {"keep.example"};
  if (expired) return issue(ca, "keep", sans, {"clientAuth", "serverAuth"}, std::chrono::hours(-48), std::chrono::hours(-24));
  return issue(ca, "keep", sans, {"clientAuth", "serverAuth"});
}

inline Issued server_cert(const Issued& ca) {
  SubjectAltNames sans;
  sans.dns = {"localhost"};
  sans.ips = {"127.0.0.1"};
  return issue(ca, "localhost", sans, {"serverAuth"});
}

}  // namespace enarx::drawbridge::pkitest
