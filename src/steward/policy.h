// Steward's appraisal and issuance policy, one TOML document (docs/steward.md "Policy"):
//   [snp], [sgx]    Enarx steward.toml sections, loaded unchanged by the attestation library
//   [tdx]           same shape for TDX (attestation library)
//   [issuance]      steward's own knobs: allow_insecure, certificate_lifetime, backdate,
//                   extra_dns_sans, max_bundle_size, collateral_grace,
//                   amd_collateral_dir, intel_collateral_dir
//   [simulated]     roots = ["test-ark.pem", ...]: PEM roots of simulated platforms, trusted
//                   only together with allow_insecure
//   [identity]      any_measurement, [[identity.dns]] {platform, measurement|signer, names}
//   [registry]      the registry check (off unless [[registry.check]] names a runtime):
//                   ca_file, token_file, timeout, max_response_size, only_listed_hosts,
//                   [registry.hosts."<host>"] {url, ca_file, token_file},
//                   [[registry.check]] {platform, measurement, allowed_signers}
// The same tables may sit in the server configuration file (steward.toml) next to [server] and
// friends; the server config loader skips them and this parser skips the server's tables.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/enarx/evidence_verifier.h"
#include "core/x509.h"

namespace enarx::steward {

struct IssuancePolicy {
  bool allow_insecure = false;
  std::chrono::seconds certificate_lifetime{24 * 3600};
  // notBefore = now - backdate, so relying parties with slightly slow clocks accept new certs.
  std::chrono::seconds backdate{60};
  std::vector<std::string> extra_dns_sans;  // added to every issued certificate (Enarx --san)
  std::size_t max_bundle_size = 64;
  // How long past nextUpdate a CRL / TCB info / QE identity is still accepted.
  std::chrono::seconds collateral_grace{0};
  // Steward's own collateral caches for clients that send less than everything (same layout
  // host preparation writes: AMD crl-<product>.der; Intel src/attest/dcap/collateral.h).
  std::optional<std::filesystem::path> amd_collateral_dir;
  std::optional<std::filesystem::path> intel_collateral_dir;
};

// Which keeps may carry which names (docs/steward.md "Trust rules"). Workload names (the slug,
// workload digest and signer URIs) go only to a keep whose platform policy admitted it through
// a non-empty measurement/signer allow-list (VerifiedEvidence::runtime_allowed_by): the names
// in a CSR are only as trustworthy as the runtime that wrote them.
struct DnsGrant {
  std::string platform;     // "snp" | "sgx" | "tdx"
  std::string measurement;  // lower-case hex; exactly one of measurement / signer
  std::string signer;
  std::vector<std::string> names;  // exact names or "*.suffix" (one label), lower case
};

struct IdentityPolicy {
  // LOUD opt-in: workload names for any runtime that passes appraisal, allow-listed or not.
  // Such certificates are marked insecure (O=INSECURE, marker extension, claims).
  bool any_measurement = false;
  // DNS names a runtime may ask for; any other DNS name is refused.
  std::vector<DnsGrant> dns;
};

// Checking a keep's workload names against the registry before issuing (docs/steward.md
// "Registry check"). A drawbridge is reached over HTTPS with this trust, never the system's
// unless no CA bundle is configured.
struct RegistryEndpoint {
  std::string url;     // "https://host[:port][/prefix]", no trailing '/'
  std::string ca_pem;  // trust anchors ("" = registry.ca_file's, or the system store)
  std::optional<std::filesystem::path> token_file;  // bearer token sent to this drawbridge
};

// Which runtimes' CSRs are checked, and whose tag signatures they accept.
struct RegistryCheckRule {
  std::string platform;     // "kvm" | "snp" | "sgx" | "tdx"
  std::string measurement;  // lower-case hex; "" = every runtime of the platform
  std::vector<std::string> allowed_signers;  // lower-case hex SHA-256 of the DER SPKI; non-empty
};

struct RegistryPolicy {
  std::vector<RegistryCheckRule> rules;  // [[registry.check]]; empty = the check is off
  std::string ca_pem;                    // registry.ca_file's certificates ("" = system store)
  std::optional<std::filesystem::path> token_file;
  // Lower-case slug host (as written in the slug, with any ":port") -> where to ask.
  std::map<std::string, RegistryEndpoint> hosts;
  // Refuse slugs whose host is not in `hosts` instead of asking https://<host>.
  bool only_listed_hosts = false;
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_response_size = 256u << 10;

  // The rule for a runtime: the one naming its measurement, else the platform-wide one;
  // nullptr when the runtime's names are not checked.
  const RegistryCheckRule* rule_for(std::string_view platform, std::string_view measurement) const;
};

class Policy {
 public:
  // Throws the attestation library's policy errors for a bad [snp]/[sgx]/[tdx] table
  // (snp.policy_config.*, dcap.policy.*), and Error("steward.policy.*") with the offending key:
  // policy.parse (TOML syntax),
  // policy.unknown_table, policy.unknown_key, policy.type, policy.simulated_root (unreadable
  // or not a certificate), policy.dns_grant (a malformed [[identity.dns]] entry).
  // `base_dir` resolves relative paths ([simulated] roots, collateral directories).
  // `tolerate_server_tables` skips the server configuration's tables (server, tls, ca, audit,
  // log, limits) when the policy lives in the combined steward.toml.
  // A bad [registry] table: policy.registry (naming the key), policy.registry_ca (an unreadable
  // CA bundle or one without certificates).
  static Policy parse(std::string_view toml_text, const std::filesystem::path& base_dir = {},
                      bool tolerate_server_tables = false);
  static Policy load(const std::filesystem::path& file, bool tolerate_server_tables = false);

  // Command-line overrides (--allow-insecure, --san): applied on top of the file, and folded
  // into `digest` so certificates record the policy actually in force.
  void apply_overrides(bool allow_insecure, const std::vector<std::string>& extra_dns_sans);

  IssuancePolicy issuance;
  IdentityPolicy identity;
  RegistryPolicy registry;
  // What evidence is judged by (the [snp]/[sgx]/[tdx] tables as typed values, the simulated
  // roots — trusted only with allow_insecure —, grace and collateral caches), parsed once.
  attest::EvidencePolicy evidence;
  std::vector<Certificate> simulated_roots;
  std::vector<std::filesystem::path> simulated_root_files;
  // Each platform section re-serialized as a standalone TOML document containing only that
  // table ("[snp]\n..."), or std::nullopt when the section is absent (its canonical text, part
  // of the digest; the typed value is in `evidence`).
  std::optional<std::string> snp_toml, sgx_toml, tdx_toml;
  // SHA-256 (hex) over the canonical serialization of every policy table, recorded in issued
  // certificates so a verifier can tell which policy admitted a keep.
  std::string digest;

 private:
  // `evidence` follows the issuance settings it depends on.
  void sync_evidence();
};

}  // namespace enarx::steward
