// `enarx evidence verify --csr FILE`: verify a whole Enarx-style CSR (PKCS#10 with one evidence
// extension under 1.3.6.1.4.1.58270.1), as Steward would before issuing a certificate: the
// CSR's self-signature, the evidence, and the binding of the evidence to the CSR's key.
#include <iostream>
#include <optional>

#include "attest/enarx/oids.h"
#include "attest/enarx/snp_evidence.h"
#include "attest/snp/verify.h"
#include "core/csr.h"
#include "core/error.h"
#include "core/file.h"
#include "evidence_cli.h"
#include "exit_codes.h"

namespace enarx::cli {

// Defined in cmd_evidence_snp.cc.
int snp_verify_and_print(const Bytes& report, const attest::snp::Collateral& collateral,
                         const std::optional<Bytes>& spki, const EvidenceVerifyArgs& args);
int snp_error_exit(const Error& e, bool json);

namespace {

constexpr std::string_view kEnarxEvidenceArc = "1.3.6.1.4.1.58270.1.";
constexpr std::string_view kKvmOid = oids::kKvmEvidence;

}  // namespace

int evidence_verify_csr(const EvidenceVerifyArgs& args) {
  try {
    const Bytes data = read_file(args.csr);
    // PEM only when the file starts with a header: a DER CSR may embed PEM (SGX quotes do).
    const std::string_view text = as_string(data);
    const auto first = text.find_first_not_of(" \t\r\n");
    const bool pem = first != std::string_view::npos && text.substr(first).rfind("-----BEGIN", 0) == 0;
    const CertificationRequest csr =
        pem ? CertificationRequest::from_pem(as_string(data)) : CertificationRequest::from_der(data);
    if (!csr.verify_self_signature()) {
      throw Error("csr.bad_signature", "the CSR is not signed by its own key");
    }
    std::optional<Extension> evidence;
    for (const auto& ext : csr.extensions()) {
      if (ext.oid.rfind(kEnarxEvidenceArc, 0) != 0) continue;
      if (evidence) throw Error("evidence.multiple", "the CSR carries more than one evidence extension");
      evidence = ext;
    }
    if (!evidence) {
      throw Error("evidence.none", "the CSR has no evidence extension (1.3.6.1.4.1.58270.1.x)");
    }
    if (evidence->critical) {
      throw Error("evidence.critical_extension", "the evidence extension must not be critical");
    }
    const Bytes spki = csr.spki_der();
    if (evidence->oid == oids::kSnpEvidence) {
      // Enarx pins the key algorithm to the attesting key's: P-384 for SNP.
      if (csr.public_key().type() != KeyType::EcP384) {
        throw Error("snp.csr.key_algorithm",
                    "an SNP CSR key must be ECDSA P-384 like the VCEK, not " +
                        to_string(csr.public_key().type()));
      }
      attest::SnpEvidence ev = attest::decode_snp_evidence(evidence->value);
      attest::snp::Collateral collateral;
      collateral.vcek_der = ev.vcek_der;
      for (auto& e : ev.crls) collateral.crls.push_back(std::move(e.crl));
      for (const auto& path : args.crls) collateral.crls.push_back(Crl::from_bytes(read_file(path)));
      return snp_verify_and_print(ev.report, collateral, spki, args);
    }
    if (evidence->oid == kKvmOid) {
      std::cerr << "error: evidence.kvm_not_attested: the CSR carries KVM (no TEE) evidence, "
                   "which proves nothing about the workload\n";
      return exit_codes::kPolicy;
    }
    return evidence_verify_dcap_csr_extension(evidence->oid, evidence->value, spki, args);
  } catch (const Error& e) {
    return snp_error_exit(e, args.json);
  }
}

}  // namespace enarx::cli
