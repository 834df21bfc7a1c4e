// Placeholder until the SGX/TDX verifier lands (issue: attestation library part 2).
#include <iostream>

#include "evidence_cli.h"
#include "exit_codes.h"

namespace enarx::cli {

int evidence_verify_dcap(const EvidenceVerifyArgs&) {
  std::cerr << "error: SGX/TDX verification is not built yet\n";
  return exit_codes::kFailure;
}

int evidence_verify_dcap_csr_extension(const std::string&, const std::vector<unsigned char>&,
                                       const std::vector<unsigned char>&,
                                       const EvidenceVerifyArgs&) {
  std::cerr << "error: SGX/TDX verification is not built yet\n";
  return exit_codes::kFailure;
}

}  // namespace enarx::cli
