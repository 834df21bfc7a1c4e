// `enarx evidence verify --csr FILE`: verify a whole Enarx-style CSR as steward does before
// issuing a certificate — the same CSR rules (attest/enarx/csr.h) and the same evidence
// verifiers (attest/enarx/evidence_verifier.h), under a steward-compatible policy file.
#include <iostream>

#include "attest/enarx/binding.h"
#include "attest/enarx/csr.h"
#include "attest/enarx/evidence_verifier.h"
#include "attest/enarx/oids.h"
#include "core/error.h"
#include "core/file.h"
#include "evidence_cli.h"
#include "exit_codes.h"
#include "steward/policy.h"

namespace enarx::cli {

// Defined in cmd_evidence_snp.cc.
int snp_error_exit(const Error& e, bool json);

namespace {

attest::EvidencePolicy policy_from(const EvidenceVerifyArgs& args) {
  attest::EvidencePolicy policy =
      args.policy.empty() ? attest::EvidencePolicy{} : steward::Policy::load(args.policy).evidence;
  if (!args.collateral_dir.empty()) policy.intel_collateral_dir = args.collateral_dir;
  for (const auto& path : args.crls) policy.local_crls.push_back(Crl::from_bytes(read_file(path)));
  return policy;
}

int print(const attest::VerifiedEvidence& v, bool json) {
  if (v.failures.empty()) {
    if (json) {
      std::cout << v.claims.dump(2) << "\n";
    } else {
      std::cout << "verified: " << to_string(v.platform) << " evidence"
                << (v.insecure_reason ? " (" + *v.insecure_reason + ")" : "") << "\n"
                << "measurement: " << (v.measurement.empty() ? "-" : v.measurement) << "\n"
                << "signer: " << (v.signer.empty() ? "-" : v.signer) << "\n"
                << "tcb_status: " << (v.tcb_status.empty() ? "-" : v.tcb_status) << "\n"
                << "keep_identity: " << v.keep_identity << "\n";
    }
    return exit_codes::kOk;
  }
  if (json) {
    nlohmann::json out = {{"accepted", false}, {"failures", nlohmann::json::array()}, {"claims", v.claims}};
    for (const auto& f : v.failures) out["failures"].push_back({{"code", f.code}, {"message", f.message}});
    std::cout << out.dump(2) << "\n";
  }
  for (const auto& f : v.failures) std::cerr << "policy: " << f.code << ": " << f.message << "\n";
  return exit_codes::kPolicy;
}

}  // namespace

int evidence_verify_csr(const EvidenceVerifyArgs& args) {
  try {
    Bytes data = read_file(args.csr);
    if (is_pem(data)) data = CertificationRequest::from_pem(as_string(data)).to_der();
    const attest::KeepCsr keep = attest::read_keep_csr(data);
    const Extension& evidence = keep.single_evidence();
    const Platform platform = *attest::evidence_platform(evidence.oid);
    if (platform == Platform::Kvm) {
      std::cerr << "error: evidence.kvm_not_attested: the CSR carries KVM (no TEE) evidence, "
                   "which proves nothing about the workload\n";
      return exit_codes::kPolicy;
    }
    keep.check_key(attest::csr_key_types(platform), to_string(platform));
    const TimePoint at = args.at.empty() ? system_clock()->now() : parse_rfc3339(args.at);
    return print(attest::verify_enarx_evidence(evidence.oid, evidence.value, keep.csr.spki_der(),
                                               policy_from(args), at),
                 args.json);
  } catch (const Error& e) {
    return snp_error_exit(e, args.json);
  }
}

}  // namespace enarx::cli
