// DCAP quote verification: PCK chain to a trust anchor, QE report signature and binding, quote
// signature, collateral signatures (TCB signing chain to the same anchor), CRLs, freshness at an
// injected time, then TCB evaluation. Check order follows Intel's QVL.
//
// Errors (enarx::Error codes; the first failure wins):
//   dcap.pck.chain_malformed, dcap.pck.chain_untrusted, dcap.pck.chain_expired,
//   dcap.pck.chain_not_yet_valid, dcap.pck.chain_bad_signature, dcap.pck.chain_invalid,
//   dcap.pck.revoked, dcap.pck.ca_revoked, dcap.pck.extension_missing,
//   dcap.pck.extension_malformed,
//   dcap.quote.qe_report_signature_invalid, dcap.quote.qe_report_data_mismatch,
//   dcap.quote.attestation_key_invalid, dcap.quote.signature_invalid,
//   dcap.collateral.tcb_info_missing, dcap.collateral.qe_identity_missing,
//   dcap.collateral.tcb_info_signature_invalid, dcap.collateral.qe_identity_signature_invalid,
//   dcap.collateral.signer_untrusted (TCB signing cert does not chain to the PCK's anchor, or is
//   outside its validity at the verification time), dcap.collateral.expired,
//   dcap.collateral.not_yet_valid, dcap.collateral.wrong_type, dcap.collateral.fmspc_mismatch,
//   dcap.collateral.pce_id_mismatch,
//   dcap.crl.bad_signature, dcap.crl.expired, dcap.crl.not_yet_valid, dcap.crl.missing,
//   dcap.qe_identity.*, dcap.tcb.* (see tcb.h).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/quote.h"
#include "attest/dcap/tcb.h"
#include "attest/dcap/trust.h"
#include "core/clock.h"

namespace enarx::attest::dcap {

struct VerifyOptions {
  TimePoint at;  // verification time (required: no implicit "now")
  // Collateral (TCB info, QE identity, CRLs) is still accepted this long after its nextUpdate.
  std::chrono::seconds collateral_grace{0};
  // Every certificate below the anchor (PCK CA, PCK leaf) must be covered by a CRL.
  bool require_crls = true;
  // A QE identity must be supplied and match (Enarx's SGX CSR carries none: set false there).
  bool require_qe_identity = true;
  // Without TCB info only signatures and chains are checked (no TCB status); otherwise missing
  // TCB info is an error.
  bool require_tcb_info = true;
};

struct CrlUse {
  std::string issuer;
  std::optional<std::int64_t> number;
  Bytes sha256;  // of the DER
};

struct VerifiedQuote {
  Quote quote;
  std::vector<Certificate> pck_chain;  // verified path: PCK leaf, PCK CA, anchor
  PckExtension pck;
  bool simulated = false;  // anchored in a simulated root
  std::optional<SignedTcbInfo> tcb_info;
  std::optional<SignedEnclaveIdentity> qe_identity;
  std::optional<TcbEvaluation> tcb;
  std::vector<CrlUse> crls;  // the CRLs that were applied
  TimePoint verified_at;
};

// Verifies `quote` with `collateral`. Throws enarx::Error on the first failure.
VerifiedQuote verify_quote(const Quote& quote, const Collateral& collateral,
                           const TrustStore& trust, const VerifyOptions& options);

// A verifier that remembers verified PCK chains (keyed by the certification data, the CRL set and
// the anchor) and verified collateral signatures (keyed by body digest and signature), so
// repeated quotes from the same platform cost little more than their own ECDSA checks. Cached
// results are reused only while the verification time stays inside the validity window of
// everything they depend on. Thread-safe.
class CachingVerifier {
 public:
  explicit CachingVerifier(TrustStore trust);
  VerifiedQuote verify(const Quote& quote, const Collateral& collateral, const VerifyOptions& options);
  std::size_t cache_hits() const;
  struct State;  // opaque

 private:
  TrustStore trust_;
  std::shared_ptr<State> state_;
};

}  // namespace enarx::attest::dcap
