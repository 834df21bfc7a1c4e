// A keep's CSR, checked the same way by steward and by `enarx evidence verify --csr`: PKCS#10
// v1, its self-signature, only the extensionRequest attribute, each extension once and only
// Enarx evidence and subjectAltName, one non-critical evidence extension, the key type the
// platform pins (binding.h), URI and DNS names only. docs/steward.md "CSR rules".
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "attest/enarx/platform.h"
#include "core/csr.h"
#include "core/x509.h"

namespace enarx::attest {

// The platform whose evidence `oid` carries (KVM, SNP, SGX, TDX), or nullopt.
std::optional<Platform> evidence_platform(std::string_view oid);

struct KeepCsr {
  CertificationRequest csr;
  std::vector<Extension> evidence;  // the Enarx evidence extensions (one, when well-formed)
  std::optional<Extension> san;

  // The one evidence extension. Callers check evidence.empty() first (steward answers that with
  // 401); throws Error("steward.csr.multiple_evidence" / "steward.csr.critical_evidence").
  const Extension& single_evidence() const;
  // Throws Error("steward.csr.key_algorithm") unless the CSR's key is one of `allowed`.
  void check_key(std::span<const KeyType> allowed, std::string_view platform_name) const;
  // The requested URI and DNS names; IP and e-mail names are refused, not dropped
  // (Error("steward.csr.san_type")).
  SubjectAltNames names() const;
};

// Throws Error with, in this order: steward.csr.malformed (not DER PKCS#10), .version (not v1),
// .bad_signature (self-signature, also when signed by another key), .attribute (anything but
// extensionRequest), .duplicate_extension, .unknown_extension (anything but evidence and SAN).
KeepCsr read_keep_csr(ByteView der);

}  // namespace enarx::attest
