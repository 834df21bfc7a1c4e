// Encodes the certificates steward issues directly in DER (TBSCertificate built here, signed with
// the CA key). Issuance is steward's hot path: going through OpenSSL's X509 builder costs a
// public-key re-encoding through the provider encoders plus a parse of the result, about 15% of
// an SNP issuance. Here the CSR's SubjectPublicKeyInfo bytes are copied verbatim.
#pragma once

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/x509.h"

namespace enarx::steward {

struct LeafProfile {
  Bytes serial;  // big-endian magnitude, non-empty
  TimePoint not_before, not_after;
  Bytes subject_der;     // DER Name
  Bytes spki_der;        // DER SubjectPublicKeyInfo, copied verbatim
  SubjectAltNames sans;  // URI + DNS; omitted when empty
  bool sans_critical = false;
  std::vector<Extension> extra;  // appended after the standard extensions
};

// Precomputed issuer data (subject DER, key identifier, signature algorithm).
class LeafSigner {
 public:
  LeafSigner(const PrivateKey& ca_key, const Certificate& ca_cert);
  // DER Certificate: v3, keyUsage digitalSignature (critical), extKeyUsage serverAuth+clientAuth,
  // basicConstraints CA:FALSE, subject/authority key identifiers, SANs, then `extra`.
  Bytes sign(const LeafProfile& profile) const;

 private:
  PrivateKey key_;
  DigestAlgorithm digest_;
  std::string sig_oid_;
  Bytes issuer_der_;
  Bytes authority_key_id_;
};

}  // namespace enarx::steward
