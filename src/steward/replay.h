// Offline replay of a steward decision from the certificate alone (plus the policy and, when
// steward used its own cache, the same collateral directories): the evidence comes back out of
// the TCG DICE tagged-evidence extension, is verified for the certificate's key at the recorded
// verification time, and the outcome is compared with the recorded claims (measurement, keep
// identity, collateral digests, policy digest). For `enarx verify --offline`.
// The certificate's own signature / chain is the caller's business (verify_chain).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/x509.h"
#include "steward/evidence.h"
#include "steward/policy.h"

namespace enarx::steward {

struct ReplayResult {
  bool accepted = false;                // evidence verifies, policy passes, nothing differs
  nlohmann::json recorded_claims;       // the certificate's claims extension
  VerifiedEvidence evidence;            // what the replay found
  std::vector<std::string> mismatches;  // human-readable differences from the record
};

// Throws Error("steward.replay.*"): replay.not_steward (no claims / tagged-evidence extension),
// replay.malformed (they do not decode, or the tagged evidence is not bound to the certificate's
// key), replay.unsupported (unknown evidence format). Evidence that fails verification throws
// the attestation library's error, as issuance would have refused it.
ReplayResult replay(const Certificate& certificate, const Policy& policy);

// Verifies the certificate's embedded evidence again, for its own key, at `at` under `policy`
// (no comparison with the record: re-evaluation judges the evidence as it stands today). Throws
// like replay() for a certificate that is not steward's, and the attestation library's error
// when the evidence no longer verifies.
VerifiedEvidence reverify(const Certificate& certificate, const attest::EvidencePolicy& policy,
                          TimePoint at);

// The claims JSON of a steward-issued certificate (throws replay.not_steward / replay.malformed).
nlohmann::json certificate_claims(const Certificate& certificate);

}  // namespace enarx::steward
