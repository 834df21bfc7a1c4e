#include "attest/enarx/evidence_verifier.h"

#include "attest/enarx/binding.h"
#include "attest/enarx/oids.h"
#include "core/error.h"

namespace enarx::attest {

std::vector<KeyType> EvidenceVerifier::allowed_key_types() const { return csr_key_types(platform()); }

DigestAlgorithm EvidenceVerifier::binding_digest() const { return attest::binding_digest(platform()); }

std::unique_ptr<EvidenceVerifier> make_verifier(std::string_view oid, const EvidencePolicy& policy) {
  if (oid == oids::kKvmEvidence) return make_kvm_verifier();
  if (oid == oids::kSnpEvidence) return make_snp_verifier(policy);
  if (oid == oids::kSgxEvidence) return make_sgx_verifier(policy);
  if (oid == oids::kTdxEvidence) return make_tdx_verifier(policy);
  return nullptr;
}

VerifiedEvidence verify_enarx_evidence(std::string_view oid, ByteView value, ByteView spki_der,
                                       const EvidencePolicy& policy, TimePoint at) {
  const auto verifier = make_verifier(oid, policy);
  require(verifier != nullptr, ErrorKind::kInvalidInput, "evidence.unknown_oid",
          "extension " + std::string(oid.substr(0, 80)) + " is no Enarx evidence");
  return verifier->verify(VerifyContext{value, spki_der, at});
}

}  // namespace enarx::attest
