// Steward's view of the evidence verifiers (src/attest/enarx/evidence_verifier.h): the same
// types, and factories that take steward's whole policy.
#pragma once

#include <memory>

#include "attest/enarx/evidence_verifier.h"

namespace enarx::steward {

using attest::CollateralRef;
using attest::EvidenceVerifier;
using attest::VerifiedEvidence;
using attest::VerifyContext;
using attest::make_kvm_verifier;

class Policy;

// The verifiers configured from steward's policy (its evidence part, parsed once).
std::unique_ptr<EvidenceVerifier> make_snp_verifier(const Policy& policy);
std::unique_ptr<EvidenceVerifier> make_sgx_verifier(const Policy& policy);
std::unique_ptr<EvidenceVerifier> make_tdx_verifier(const Policy& policy);

}  // namespace enarx::steward
