// SEV-SNP appraisal policy. Loadable from a TOML table that is a superset of Enarx steward.toml's
// `[snp]` section (signer, id_key_digest, id_key_digest_blacklist, hash, hash_blacklist, abi,
// policy_flags, platform_info_flags) plus our own keys. The defaults are strict: no debug, no
// simulated platform, no migration agent, VMPL 0, no CRL requirement. See docs/attest-snp.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "attest/snp/verify.h"
#include "core/bytes.h"

namespace enarx::attest::snp {

// A semver requirement (Rust `semver::VersionReq` syntax: comma-separated comparators with
// =, >, >=, <, <=, ~, ^ or none (= caret), partial versions and `*`). Matches major.minor.patch.
class VersionReq {
 public:
  static VersionReq parse(std::string_view text);  // throws snp.policy_config.invalid
  bool matches(unsigned major, unsigned minor, unsigned patch = 0) const;
  const std::string& text() const { return text_; }

 private:
  struct Range {
    std::uint64_t lo = 0;           // inclusive, packed major<<40 | minor<<20 | patch
    std::uint64_t hi = UINT64_MAX;  // exclusive
  };
  std::vector<Range> ranges_;
  std::string text_;
};

// PLATFORM_INFO bit of a flag name ("SMT", "SMT_EN", "TSME", "ECC", "RAPL_DIS",
// "CIPHERTEXT_HIDING", "ALIAS_CHECK_COMPLETE", "TIO"), or -1.
int platform_info_bit(std::string_view name);
// Guest POLICY bit of a flag name ("SMT", "MigrateMA", "Debug", "SingleSocket"), or -1.
int guest_policy_bit(std::string_view name);

struct MinTcb {
  std::optional<unsigned> bootloader, tee, snp, microcode, fmc;
  bool any() const { return bootloader || tee || snp || microcode || fmc; }
};

struct Policy {
  // Enarx steward.toml [snp] keys.
  std::vector<Bytes> signer;            // allowed AUTHOR_KEY_DIGESTs (requires AUTHOR_KEY_EN)
  std::vector<Bytes> id_key_digest;     // allowed ID_KEY_DIGESTs
  std::vector<Bytes> id_key_digest_blacklist;
  std::vector<Bytes> hash;              // allowed MEASUREMENTs
  std::vector<Bytes> hash_blacklist;    // denied MEASUREMENTs
  std::optional<VersionReq> abi;        // on the guest policy's ABI major.minor.0
  // Guest-policy flags that MAY be set ("SMT", "SingleSocket", "Debug", "MigrateMA"); when
  // given, any other of these flags set in the report fails. Debug still needs allow_debug.
  std::optional<std::vector<std::string>> policy_flags;
  // Enarx semantics: PLATFORM_INFO byte 0 must equal this ("SME" = 1, "TSME" = 2, or a number).
  std::optional<std::uint8_t> platform_info_flags;

  // Our keys.
  bool allow_debug = false;
  bool allow_simulated = false;
  bool allow_migration_agent = false;
  bool require_single_socket = false;
  bool allow_smt = true;       // false: PLATFORM_INFO.SMT_EN must be clear
  unsigned max_vmpl = 0;
  MinTcb min_tcb;              // applied to REPORTED_TCB
  std::optional<unsigned> min_abi_major, min_abi_minor;  // guest policy ABI minimum
  std::optional<std::uint32_t> min_guest_svn;
  std::vector<Bytes> family_id, image_id, host_data;  // allowed values (empty = any)
  std::vector<std::string> require_platform_info;      // PLATFORM_INFO bits that must be set
  std::vector<std::string> deny_platform_info;         // ... that must be clear
  bool allow_vlek = true;
  bool require_crl = false;
  std::chrono::seconds crl_grace{0};
  std::optional<std::chrono::seconds> crl_max_age;

  // The default (strict) policy.
  static Policy strict() { return Policy{}; }
  // From the `[snp]` table. Unknown keys, wrong types and bad digests throw
  // Error("snp.policy_config.unknown_key" / "snp.policy_config.invalid") naming the key.
  static Policy from_toml(const toml::table& snp_table);
  // From a whole policy file (steward.toml layout): uses its [snp] table, or the strict
  // default when there is none.
  static Policy from_toml_file_text(std::string_view text);

  VerifyOptions verify_options(TimePoint at) const;
};

}  // namespace enarx::attest::snp
