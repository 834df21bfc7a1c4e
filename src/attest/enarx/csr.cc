#include "attest/enarx/csr.h"

#include <algorithm>
#include <set>
#include <string>

#include "attest/enarx/oids.h"
#include "core/error.h"

namespace enarx::attest {

std::optional<Platform> evidence_platform(std::string_view oid) {
  if (oid == oids::kKvmEvidence) return Platform::Kvm;
  if (oid == oids::kSnpEvidence) return Platform::Snp;
  if (oid == oids::kSgxEvidence) return Platform::Sgx;
  if (oid == oids::kTdxEvidence) return Platform::Tdx;
  return std::nullopt;
}

KeepCsr read_keep_csr(ByteView der) {
  KeepCsr k;
  try {
    k.csr = CertificationRequest::from_der(der);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "steward.csr.malformed", std::string("not a DER PKCS#10 request: ") + e.what());
  }
  require(k.csr.version() == 0, ErrorKind::kInvalidInput, "steward.csr.version", "the CSR version must be v1 (0)");
  require(k.csr.verify_self_signature(), ErrorKind::kUntrusted, "steward.csr.bad_signature", "the CSR self-signature does not verify");
  for (const auto& oid : k.csr.attribute_oids())
    require(oid == oids::kExtensionRequest, ErrorKind::kInvalidInput, "steward.csr.attribute",
            "CSR attribute " + oid + " is not allowed (only extensionRequest)");
  std::set<std::string> seen;
  for (auto& ext : k.csr.extensions()) {
    require(seen.insert(ext.oid).second, ErrorKind::kInvalidInput, "steward.csr.duplicate_extension", "extension " + ext.oid + " appears twice");
    if (evidence_platform(ext.oid)) {
      k.evidence.push_back(std::move(ext));
    } else if (ext.oid == oids::kSubjectAltName) {
      k.san = std::move(ext);
    } else {
      throw Error(ErrorKind::kInvalidInput, "steward.csr.unknown_extension", "extension " + ext.oid + " is not allowed");
    }
  }
  return k;
}

const Extension& KeepCsr::single_evidence() const {
  require(!evidence.empty(), ErrorKind::kInvalidInput, "steward.csr.no_evidence", "the CSR carries no attestation evidence extension");
  require(evidence.size() == 1, ErrorKind::kInvalidInput, "steward.csr.multiple_evidence", "the CSR carries more than one evidence extension");
  require(!evidence.front().critical, ErrorKind::kInvalidInput, "steward.csr.critical_evidence",
          "the evidence extension " + evidence.front().oid + " must not be critical");
  return evidence.front();
}

void KeepCsr::check_key(std::span<const KeyType> allowed, std::string_view platform_name) const {
  const KeyType type = csr.public_key().type();
  require(std::find(allowed.begin(), allowed.end(), type) != allowed.end(), ErrorKind::kUntrusted, "steward.csr.key_algorithm",
          "a " + std::string(platform_name) + " CSR key must be " + to_string(allowed.front()) + ", not " +
              to_string(type));
}

SubjectAltNames KeepCsr::names() const {
  SubjectAltNames sans;
  if (san) sans = decode_subject_alt_names(san->value);
  require(sans.ips.empty() && sans.emails.empty(), ErrorKind::kInvalidInput, "steward.csr.san_type",
          "only URI and DNS subject alternative names are copied; remove IP/email names");
  return sans;
}

}  // namespace enarx::attest
