// Trust anchors for DCAP: the genuine Intel SGX Root CA pinned in the library (PEM literal plus a
// SHA-256 fingerprint check), the two known copies of the Intel SGX TCB Signing certificate
// (re-issued in 2025 with the same key and serial), and caller-added simulated roots.
#pragma once

#include <string>
#include <vector>

#include "core/x509.h"

namespace enarx::attest::dcap {

// SHA-256 over the DER of the Intel SGX Root CA.
inline constexpr const char* kIntelSgxRootCaSha256 =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

// The pinned root (parsed once; throws dcap.trust.pinned_root_mismatch if the embedded text
// were ever edited so that its fingerprint no longer matches).
const Certificate& intel_sgx_root_ca();
// Intel SGX TCB Signing certificates: 2018-05-21..2025-05-21 and 2025-05-06..2032-05-06.
const std::vector<Certificate>& intel_tcb_signing_certs();
// Intel SGX PCK Processor CA and PCK Platform CA (2018-05-21..2033-05-21), pinned by fingerprint
// and checked against the root: the issuers of the PCK CRLs an Enarx client sends, including the
// one its own PCK does not chain to.
const std::vector<Certificate>& intel_pck_ca_certs();

struct TrustAnchor {
  Certificate cert;
  // Roots of a locally generated test PKI (TDX/SGX simulation). Evidence chaining to one gets
  // "simulated": true in its claims, and default policies reject it.
  bool simulated = false;
};

struct TrustStore {
  std::vector<TrustAnchor> anchors;
  // Only the pinned Intel SGX Root CA.
  static TrustStore intel();
  TrustStore& add_simulated_root(const Certificate& root) {
    anchors.push_back({root, true});
    return *this;
  }
};

}  // namespace enarx::attest::dcap
