// Appraisal of a verified DCAP quote: claims JSON (stable snake_case keys, documented in
// docs/attest-dcap.md) plus every policy failure ("sgx.policy.*" / "tdx.policy.*").
//
// Key binding (Enarx §1.4): when `expected_spki` is given,
//   SGX: REPORTDATA[0..32] == SHA-256(DER SubjectPublicKeyInfo), REPORTDATA[32..64] zero;
//   TDX (our extension): REPORTDATA[0..48] == SHA-384(DER SPKI), REPORTDATA[48..64] zero.
#pragma once

#include <optional>

#include "attest/appraisal.h"
#include "attest/dcap/policy.h"
#include "attest/dcap/verify.h"

namespace enarx::attest::dcap {

nlohmann::json claims(const VerifiedQuote& v);

Appraisal appraise(const VerifiedQuote& v, const SgxPolicy& policy,
                   std::optional<ByteView> expected_spki = std::nullopt);
Appraisal appraise(const VerifiedQuote& v, const TdxPolicy& policy,
                   std::optional<ByteView> expected_spki = std::nullopt);

}  // namespace enarx::attest::dcap
