// What a keep certificate says about the keep, read the same way by every component that trusts
// one (drawbridge for registry access, relying parties through src/verify, the keep itself when
// it refuses a keep certificate posing as steward): steward's attested-claims extension and its
// insecure marker, under the current OIDs or the legacy 2.25 ones (docs/oids.md). Reading is not
// trusting: the caller verifies the chain to its steward CA first.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/x509.h"

namespace enarx::identity {

struct KeepFacts {
  nlohmann::json claims = nlohmann::json::object();  // the whole claims object
  std::string platform;       // "snp" | "sgx" | "tdx" | "kvm"
  std::string measurement;    // "" when the platform has none
  std::string signer;         // ""
  std::string tcb_status;     // ""
  bool insecure = false;      // issued without (or beyond) hardware attestation
  std::string insecure_reason;
  bool simulated = false;     // attested by a simulated root of trust (also insecure)
  bool legacy_oids = false;   // the claims sit under the pre-2026-12 OID
};

// std::nullopt when `leaf` carries no attested-claims extension (it is no keep certificate).
// Throws Error("verify.claims_malformed") when the extension is not a DER UTF8String holding a
// JSON object, or when the insecure marker extension and the claims disagree.
std::optional<KeepFacts> read_keep_facts(const Certificate& leaf);

// Every extension OID that marks a keep certificate (claims, insecure marker, tagged evidence,
// the Enarx KVM extension steward copies), current and legacy: a client talking to a service
// refuses a server certificate carrying any of them.
std::vector<std::string> keep_certificate_extension_oids();

}  // namespace enarx::identity
