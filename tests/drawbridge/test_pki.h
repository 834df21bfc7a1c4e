// Test PKI: a steward-like CA issuing keep client certificates (URI SAN slug), a server CA and
// a localhost server certificate. Everything generated in memory.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/der.h"
#include "core/x509.h"
#include "attest/enarx/oids.h"
#include "support/pki.h"

namespace enarx::drawbridge::pkitest {

using support::Issued;

inline Issued make_ca(const std::string& cn) {
  return support::issue(cn, nullptr, {.ca = true, .key_usage = {"keyCertSign", "cRLSign", "digitalSignature"}});
}

// A leaf with digitalSignature, `eku` and `sans`, valid from now + `from` to now + `to`; no
// basicConstraints.
inline Issued issue(const Issued& ca, const std::string& cn, const SubjectAltNames& sans,
                    std::vector<std::string> eku, std::chrono::hours from = std::chrono::hours(-1),
                    std::chrono::hours to = std::chrono::hours(12), std::vector<Extension> extra = {}) {
  return support::issue(cn, &ca,
                        {.ca = std::nullopt, .eku = std::move(eku), .sans = sans, .not_before = from, .not_after = to,
                         .extensions = std::move(extra)});
}

// What steward attests in a keep certificate (docs/oids.md): the claims extension, and the
// insecure marker when there was no hardware root of trust.
struct Attested {
  std::string platform = "snp";
  std::string measurement = std::string(96, 'e');
  bool insecure = false;
  bool simulated = false;
  bool claims = true;  // false: a certificate from the CA without steward's claims
};

inline std::vector<Extension> keep_extensions(const Attested& a) {
  std::vector<Extension> out;
  if (!a.claims) return out;
  nlohmann::json claims = {{"version", 1}, {"platform", a.platform}, {"measurement", a.measurement},
                           {"insecure", a.insecure || a.simulated}, {"evidence", {{"simulated", a.simulated}}}};
  if (a.insecure || a.simulated) claims["insecure_reason"] = a.simulated ? "snp: simulated root of trust" : "kvm: no hardware attestation";
  out.push_back({std::string(oids::kAttestedClaims), false, der::Writer().add_utf8_string(claims.dump()).take()});
  if (a.insecure || a.simulated)
    out.push_back({std::string(oids::kInsecureAttestation), false,
                   der::Writer().add_utf8_string(claims["insecure_reason"].get<std::string>()).take()});
  return out;
}

inline Issued keep_cert(const Issued& ca, const std::string& slug_uri, bool expired = false, const Attested& a = {}) {
  SubjectAltNames sans;
  sans.uris = {slug_uri};
  if (expired)
    return issue(ca, "keep", sans, {"clientAuth", "serverAuth"}, std::chrono::hours(-48), std::chrono::hours(-24),
                 keep_extensions(a));
  return issue(ca, "keep", sans, {"clientAuth", "serverAuth"}, std::chrono::hours(-1), std::chrono::hours(12),
               keep_extensions(a));
}

inline Issued server_cert(const Issued& ca) {
  SubjectAltNames sans;
  sans.dns = {"localhost"};
  sans.ips = {"127.0.0.1"};
  return issue(ca, "localhost", sans, {"serverAuth"});
}

}  // namespace enarx::drawbridge::pkitest
