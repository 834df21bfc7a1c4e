// Policy appraisal of verified SEV-SNP evidence: claims JSON plus every policy failure at once.
#pragma once

#include <optional>

#include "attest/appraisal.h"
#include "attest/snp/policy.h"
#include "attest/snp/verify.h"
#include "core/bytes.h"

namespace enarx::attest::snp {

// The claims JSON of verified evidence (documented in docs/attest-snp.md). `policy` (optional)
// only feeds "tcb_status".
nlohmann::json claims(const Verified& v, const Policy* policy = nullptr);

// Applies `policy`. `expected_spki_der` (the DER SubjectPublicKeyInfo of the key the evidence
// must bind, e.g. the CSR's) enables the Enarx key binding: REPORT_DATA[0..48] ==
// SHA-384(SPKI) and REPORT_DATA[48..64] == 0. Failure codes: policy.simulated_not_allowed,
// snp.policy.{debug_not_allowed, migration_agent_not_allowed, single_socket_required,
// smt_not_allowed, policy_flags, vmpl, tcb_too_old, abi_too_old, abi_mismatch,
// guest_svn_too_old, measurement_not_allowed, measurement_denied, id_key_not_allowed,
// id_key_denied, signer_not_allowed, family_id_mismatch, image_id_mismatch, host_data_mismatch,
// platform_info_flags, platform_info_required, platform_info_denied, vlek_not_allowed,
// report_data_mismatch}.
Appraisal appraise(const Verified& v, const Policy& policy,
                   const std::optional<Bytes>& expected_spki_der = std::nullopt);

}  // namespace enarx::attest::snp
