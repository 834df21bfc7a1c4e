// Verifying Enarx evidence: what steward, `enarx evidence verify --csr`, `enarx verify
// --offline` (replay) and any other verifier of a keep's CSR evidence extension share. One
// EvidenceVerifier per evidence OID (KVM, SNP, SGX, TDX) answers "is this evidence genuine,
// bound to this key and acceptable under policy?"; the CSR's shape is checked before
// (attest/enarx/csr.h), issuance decisions after (steward).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/appraisal.h"
#include "attest/dcap/policy.h"
#include "attest/snp/policy.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/x509.h"

namespace enarx::attest {

// What evidence is judged by, parsed once (steward's policy file, or a CLI's flags): the
// platform policies, whether simulated roots are trusted, and the operator's collateral caches.
struct EvidencePolicy {
  snp::Policy snp = snp::Policy::strict();
  bool snp_require_crl_given = false;  // [snp] require_crl was stated (else: on with an AMD cache)
  dcap::SgxPolicy sgx;
  dcap::TdxPolicy tdx;
  // Roots of simulated platforms: an AMD-style ASK + ARK pair or an Intel-style root. Trusted
  // only with allow_simulated, and evidence anchored there is marked insecure.
  std::vector<Certificate> simulated_roots;
  bool allow_simulated = false;
  // Extra tolerance past a CRL / TCB info / QE identity nextUpdate, for every platform (raises
  // the platform policies' own grace).
  std::chrono::seconds collateral_grace{0};
  // The operator's caches, in the layout host preparation writes (AMD crl-<product>.der; Intel
  // src/attest/dcap/collateral.h). Always applied; the newest copy of each document wins.
  std::optional<std::filesystem::path> amd_collateral_dir;
  std::optional<std::filesystem::path> intel_collateral_dir;
  // CRLs the verifier's operator supplies directly (`enarx evidence verify --crl`), applied like
  // the caches' (AMD or Intel, by issuer).
  std::vector<Crl> local_crls;
};

struct VerifyContext {
  ByteView extension_value;  // the CSR evidence extension's extnValue content
  ByteView spki_der;         // DER SubjectPublicKeyInfo of the CSR (report-data binding)
  TimePoint now;             // verification time (injected clock)
};

// A piece of collateral the decision relied on, recorded (by digest) in the issued
// certificate's claims so an offline verifier can replay the check with the same inputs.
struct CollateralRef {
  std::string kind;    // "vcek", "crl", "tcb_info", "qe_identity", "quote", ...
  std::string id;      // what it is: CRL issuer DN, FMSPC, ... ("" when obvious from kind)
  std::string sha256;  // hex, over the exact bytes used
  std::string source;  // "evidence" (sent by the client) or "cache" (the operator's collateral)
  // Why this copy was used when both offered one, e.g. "newest of evidence and cache
  // (tcbEvaluationDataNumber 17 > 16)"; "" when there was only one.
  std::string reason;
};

struct VerifiedEvidence {
  Platform platform = Platform::Kvm;
  nlohmann::json claims = nlohmann::json::object();  // from the attestation library
  std::vector<Failure> failures;                     // empty = acceptable under policy
  // Set when the evidence proves nothing about hardware (KVM, simulated root of trust).
  std::optional<std::string> insecure_reason;
  // Identity of the keep (hex): every CSR of one bundle must have the same (docs/steward.md
  // "Bundles").
  std::string keep_identity;
  // Summary fields ("" when not applicable).
  std::string measurement;
  std::string signer;
  std::string tcb_status;
  std::vector<CollateralRef> collateral;
  // The platform-policy allow-list that admitted this runtime by name ("snp.hash",
  // "snp.signer", "snp.id_key_digest", "sgx.hash", "sgx.signer", "tdx.mrtd"), or "" when that
  // platform's allow-lists are empty: the keep is attested but unknown (docs/steward.md
  // "Trust rules").
  std::string runtime_allowed_by;
};

class EvidenceVerifier {
 public:
  virtual ~EvidenceVerifier() = default;
  virtual std::string_view oid() const = 0;
  virtual Platform platform() const = 0;
  // Key algorithms a CSR carrying this evidence may use (attest/enarx/binding.h).
  virtual std::vector<KeyType> allowed_key_types() const;
  // Digest of the SPKI bound into the report data (binding.h); also the tagged-evidence
  // pubkey-hash algorithm.
  virtual DigestAlgorithm binding_digest() const;
  // Throws enarx::Error with a stable code when the evidence cannot be decoded or verified
  // (bad signature, broken chain, ...). Policy failures (the key binding among them) come back
  // as data.
  virtual VerifiedEvidence verify(const VerifyContext& context) const = 0;
};

// KVM / no TEE (empty value): always insecure.
std::unique_ptr<EvidenceVerifier> make_kvm_verifier();
// AMD SEV-SNP (Enarx SnpEvidence): the genuine AMD roots plus, with allow_simulated, the
// simulated AMD-style roots.
std::unique_ptr<EvidenceVerifier> make_snp_verifier(const EvidencePolicy& policy);
// Intel SGX (Enarx SgxEvidence) and TDX (TdxEvidence).
std::unique_ptr<EvidenceVerifier> make_sgx_verifier(const EvidencePolicy& policy);
std::unique_ptr<EvidenceVerifier> make_tdx_verifier(const EvidencePolicy& policy);
// The verifier for `oid` (one of the four), or nullptr for another OID.
std::unique_ptr<EvidenceVerifier> make_verifier(std::string_view oid, const EvidencePolicy& policy);

// One-shot verification of one evidence extension (CLI, replay): builds the verifier for `oid`
// and verifies. Throws Error("evidence.unknown_oid") for an OID that is no Enarx evidence.
VerifiedEvidence verify_enarx_evidence(std::string_view oid, ByteView value, ByteView spki_der,
                                       const EvidencePolicy& policy, TimePoint at);

}  // namespace enarx::attest
