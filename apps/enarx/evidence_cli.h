// `enarx evidence verify`: shared argument struct; the platform-specific halves live in
// cmd_evidence_snp.cc (SEV-SNP) and cmd_evidence_dcap.cc (SGX/TDX).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace enarx::cli {

struct EvidenceVerifyArgs {
  std::string platform;  // snp | sgx | tdx (may be empty with --csr)
  std::string report;    // SNP raw report (binary or hex)
  std::string vcek;      // SNP VCEK/VLEK (DER or PEM)
  std::string chain;     // SNP ASK/ARK(/ASVK) bundle (PEM or DER)
  std::vector<std::string> crls;
  std::string quote;          // SGX/TDX quote (binary or hex)
  std::string tcb_info;       // Intel TCB info JSON as served by PCS
  std::string qe_identity;    // Intel QE identity JSON as served by PCS
  std::string tcb_chain;      // TCB signing chain PEM (optional; Intel's root is pinned)
  std::string collateral_dir; // cache dir in the host-preparation layout
  std::string policy;    // policy TOML (steward-compatible sections)
  std::string csr;       // whole Enarx-style CSR with embedded evidence
  std::string at;        // RFC 3339 verification time; empty = now
  bool json = false;
};

// Each returns the process exit code (exit_codes.h) and prints claims or the failure.
int evidence_verify_snp(const EvidenceVerifyArgs& args);
int evidence_verify_dcap(const EvidenceVerifyArgs& args);  // platform sgx or tdx
int evidence_verify_csr(const EvidenceVerifyArgs& args);   // dispatches on the CSR's OID

}  // namespace enarx::cli
