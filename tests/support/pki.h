// In-memory test certificates: an EC P-256 key and a certificate for it, self-signed or issued
// by another one. Area-specific PKIs (tests/net/test_pki.h, tests/drawbridge/test_pki.h) are
// built from this.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/x509.h"

namespace enarx::support {

struct Issued {
  PrivateKey key;
  Certificate cert;
};

struct CertOptions {
  // basicConstraints: nullopt leaves the extension out (some tests' leaves never had it).
  std::optional<bool> ca = false;
  // Empty: keyCertSign + cRLSign for a CA, digitalSignature otherwise.
  std::vector<std::string> key_usage = {};
  std::vector<std::string> eku = {};  // empty: no extendedKeyUsage
  SubjectAltNames sans = {};          // empty: no subjectAltName
  // Validity relative to now.
  std::chrono::hours not_before = std::chrono::hours(-1);
  std::chrono::hours not_after = std::chrono::hours(24);
  std::vector<Extension> extensions = {};
};

// CN=`cn`, signed by `issuer`, or self-signed when `issuer` is null.
Issued issue(const std::string& cn, const Issued* issuer, CertOptions options = {});

}  // namespace enarx::support
