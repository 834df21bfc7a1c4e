// Placeholder until CSR evidence verification lands (issue: attestation library part 1).
#include <iostream>

#include "evidence_cli.h"
#include "exit_codes.h"

namespace enarx::cli {

int evidence_verify_csr(const EvidenceVerifyArgs&) {
  std::cerr << "error: CSR evidence verification is not built yet\n";
  return exit_codes::kFailure;
}

}  // namespace enarx::cli
