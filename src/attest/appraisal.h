// Shared vocabulary of the attestation library (src/attest): platforms, failures, appraisal
// results and claims. Evidence flows one way:
//   raw bytes -> parse (typed view, no crypto) -> verify (signatures, chains, CRLs, collateral)
//   -> appraise (policy -> claims or a list of failures).
// parse/verify throw enarx::Error with a stable code (the first fatal problem); appraise returns
// every policy failure at once, so operators see the whole picture.
#pragma once

#include <nlohmann/json.hpp>

#include "attest/enarx/platform.h"
#include <string>
#include <vector>

namespace enarx::attest {

// The one platform enum (attest/enarx/platform.h), for attest::Platform callers.
using ::enarx::Platform;
using ::enarx::to_string;

struct Failure {
  std::string code;     // stable, e.g. "snp.policy.debug_not_allowed"
  std::string message;  // human readable, names the values involved
};

struct Appraisal {
  // Claims JSON (stable field names, documented in docs/claims.md). Filled even when
  // failures exist, so a caller can show what the evidence said.
  nlohmann::json claims;
  std::vector<Failure> failures;
  bool accepted() const { return failures.empty(); }
};

}  // namespace enarx::attest
