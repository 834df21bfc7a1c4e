// The seam between steward's issuance pipeline and the attestation library: one
// EvidenceVerifier per CSR evidence-extension OID (KVM, SNP, SGX, TDX). The pipeline does the
// platform-independent checks (CSR shape, self-signature, key algorithm pinning, bundle
// consistency) and asks the verifier only "is this evidence genuine, bound to this key and
// acceptable under policy?".
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/appraisal.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"

namespace enarx::steward {

struct VerifyContext {
  ByteView extension_value;  // the CSR evidence extension's extnValue content
  ByteView spki_der;         // DER SubjectPublicKeyInfo of the CSR (report-data binding)
  TimePoint now;             // verification time (injected clock)
};

// A piece of collateral the decision relied on, recorded (by digest) in the issued
// certificate's claims so an offline verifier can replay the check with the same inputs.
struct CollateralRef {
  std::string kind;    // "vcek", "crl", "tcb_info", "qe_identity", "pck_chain", ...
  std::string id;      // what it is: CRL issuer DN, FMSPC, ... ("" when obvious from kind)
  std::string sha256;  // hex, over the exact bytes used
  std::string source;  // "evidence" (sent by the client) or "cache" (steward's collateral dir)
  // Why this copy was used when both offered one, e.g. "newest of evidence and cache
  // (tcbEvaluationDataNumber 17 > 16)"; "" when there was only one.
  std::string reason;
};

struct VerifiedEvidence {
  attest::Platform platform = attest::Platform::Kvm;
  nlohmann::json claims = nlohmann::json::object();  // from the attestation library
  std::vector<attest::Failure> failures;             // empty = acceptable under policy
  // Set when the evidence proves nothing about hardware (KVM, simulated root of trust): the
  // pipeline refuses it unless the policy allows insecure issuance, and marks the certificate.
  std::optional<std::string> insecure_reason;
  // Identity of the keep (hex): every CSR of one bundle must have the same. Definition per
  // platform in docs/steward.md ("Bundles").
  std::string keep_identity;
  // Summary fields for the audit log and the certificate claims ("" when not applicable).
  std::string measurement;
  std::string signer;
  std::string tcb_status;
  std::vector<CollateralRef> collateral;
  // The platform-policy allow-list that admitted this runtime by name ("snp.hash",
  // "snp.signer", "snp.id_key_digest", "sgx.hash", "sgx.signer", "tdx.mrtd"), or "" when that
  // platform's allow-lists are empty: then the keep is attested but unknown, and steward gives it
  // no workload names (docs/steward.md "Trust rules").
  std::string runtime_allowed_by;
};

class EvidenceVerifier {
 public:
  virtual ~EvidenceVerifier() = default;
  virtual std::string_view oid() const = 0;
  virtual attest::Platform platform() const = 0;
  // Key algorithms a CSR carrying this evidence may use (Enarx: SNP P-384, SGX P-256).
  virtual std::vector<KeyType> allowed_key_types() const = 0;
  // Digest of the DER SPKI bound into the report data (docs/oids.md, docs/steward.md "CSR
  // rules"): SNP and TDX SHA-384 (REPORT_DATA/REPORTDATA[0..48], zero after), SGX SHA-256
  // (REPORTDATA[0..32], zero after); KVM binds nothing and uses SHA-256. Also the hash in the
  // certificate's tagged-evidence pubkey-hash claim.
  virtual DigestAlgorithm binding_digest() const = 0;
  // Throws enarx::Error with a stable code when the evidence cannot be decoded or verified
  // (bad signature, broken chain, binding mismatch, ...). Policy failures come back as data.
  virtual VerifiedEvidence verify(const VerifyContext& context) const = 0;
};

class Policy;

// KVM / no TEE (OID 1.3.6.1.4.1.58270.1.1, empty value): always "insecure".
std::unique_ptr<EvidenceVerifier> make_kvm_verifier();
// AMD SEV-SNP (Enarx SnpEvidence): src/attest/snp with the policy's [snp] table, the genuine AMD
// roots plus [simulated] ARK/ASK pairs (the latter make the result insecure).
// Throws the attestation library's policy errors (snp.policy_config.*) for a bad [snp] table.
std::unique_ptr<EvidenceVerifier> make_snp_verifier(const Policy& policy);
// Intel SGX (Enarx SgxEvidence) and TDX (our TdxEvidence): src/attest/dcap with [sgx] / [tdx].
std::unique_ptr<EvidenceVerifier> make_sgx_verifier(const Policy& policy);
std::unique_ptr<EvidenceVerifier> make_tdx_verifier(const Policy& policy);

}  // namespace enarx::steward
