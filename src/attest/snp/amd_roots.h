// AMD SEV-SNP trust anchors. The genuine ARK/ASK/ASVK certificates of Milan, Genoa and Turin are
// pinned in the library (amd_roots.cc); callers may add roots of their own, marked `simulated`
// (the simulated SNP platform signs reports with a locally generated ARK/ASK/VCEK chain).
#pragma once

#include <optional>
#include <vector>

#include "attest/snp/report.h"
#include "core/x509.h"

namespace enarx::attest::snp {

struct TrustRoot {
  Product product = Product::Unknown;
  Certificate ark;                  // self-signed root
  Certificate ask;                  // signs VCEKs
  std::optional<Certificate> asvk;  // signs VLEKs (absent in some simulated roots)
  bool simulated = false;           // evidence chaining here gets claims "simulated": true
};

// The pinned genuine roots (fingerprints checked once at first use; throws
// Error("snp.roots.corrupt") if the embedded text was altered).
const std::vector<TrustRoot>& genuine_amd_roots();

}  // namespace enarx::attest::snp
