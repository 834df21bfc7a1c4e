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
//   dcap.collateral.tcb_evaluation_too_old, dcap.collateral.too_old (policy replay bounds),
//   dcap.crl.bad_signature, dcap.crl.expired, dcap.crl.not_yet_valid, dcap.crl.missing,
//   dcap.crl.too_old (per issuer only the newest CRL is applied: cRLNumber, then thisUpdate),
//   dcap.qe_identity.*, dcap.tcb.* (see tcb.h).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "attest/enarx/crl_list.h"
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
  // Replay bounds (all optional): a TCB info / QE identity below this tcbEvaluationDataNumber is
  // refused (dcap.collateral.tcb_evaluation_too_old), and collateral older than its maximum age
  // since issueDate / thisUpdate is refused (dcap.collateral.too_old, dcap.crl.too_old) even
  // before its nextUpdate.
  std::optional<std::int64_t> min_tcb_evaluation_data_number;
  std::optional<std::chrono::seconds> tcb_info_max_age, qe_identity_max_age, crl_max_age;
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

// Checks CRLs a client supplied with its evidence (Enarx CrlList entries), after verify_quote
// (which applied those of the verified path): each must be issued by a CA this verification
// knows — a certificate of the verified PCK chain,
// a trust anchor, or (with the genuine Intel root) Intel's pinned PCK Processor / Platform CA —
// and carry that CA's signature; and its URL label must be what the issuer's certificates name
// as CRL distribution point (for Intel's PCK CAs also their PCS endpoint, v3 or v4, with or
// without `&encoding=der`), or empty when no such name is known. A label or a CRL a client can
// vary freely would let equal evidence take many forms. Throws dcap.crl.unknown_issuer,
// dcap.crl.bad_signature, dcap.crl.bad_url.
struct VerifiedQuote;
void check_supplied_crls(const std::vector<CrlListEntry>& entries, const VerifiedQuote& verified,
                         const TrustStore& trust);

// Verifies `quote` with `collateral`. Throws enarx::Error on the first failure.
VerifiedQuote verify_quote(const Quote& quote, const Collateral& collateral,
                           const TrustStore& trust, const VerifyOptions& options);

// A verifier that remembers verified PCK chains (keyed by the chain certificates' DER, the CRLs of
// their issuers and the options) and verified collateral signatures (keyed by body digest and
// signature), in bounded LRU caches filled only after a quote verified in full, so
// repeated quotes from the same platform cost little more than their own ECDSA checks. Cached
// results are reused only while the verification time stays inside the validity window of
// everything they depend on. Thread-safe.
class CachingVerifier {
 public:
  explicit CachingVerifier(TrustStore trust);
  VerifiedQuote verify(const Quote& quote, const Collateral& collateral, const VerifyOptions& options);
  std::size_t cache_hits() const;
  // Entries and their accounted bytes across the caches (bounded: 256 chains in 4 MiB, 1024
  // signatures and 1024 attestation keys in 1 MiB each).
  struct CacheSizes {
    std::size_t entries = 0, bytes = 0;
  };
  CacheSizes cache_sizes() const;
  struct State;  // opaque

 private:
  TrustStore trust_;
  std::shared_ptr<State> state_;
};

}  // namespace enarx::attest::dcap
