// SGX and TDX appraisal policies, loadable from the `[sgx]` / `[tdx]` tables of a steward-style
// TOML file. `[sgx]` is a superset of Enarx steward's `[sgx]` section (signer, hash,
// hash_blacklist, features, misc_select, enclave_security_version, enclave_product_id,
// allowed_advisories). Unknown keys are errors naming the key (dcap.policy.unknown_key); bad
// values give dcap.policy.invalid. See docs/attest-dcap.md for every key.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "attest/dcap/verify.h"
#include "core/bytes.h"

namespace enarx::attest::dcap {

// Keys shared by [sgx] and [tdx].
struct CommonPolicy {
  bool allow_debug = false;      // debug enclaves / TDs
  bool allow_simulated = false;  // evidence anchored in a simulated root
  // Acceptable Intel TCB statuses. Unset: ["UpToDate"], except when allowed_advisories is set
  // (Enarx semantics: then only the advisories are judged; "Revoked" is always refused).
  std::optional<std::vector<std::string>> allowed_tcb_statuses;
  // When set, every advisory ID of the evaluated TCB must be in this list.
  std::optional<std::vector<std::string>> allowed_advisories;
  bool require_crls = true;
  bool require_qe_identity = true;  // Enarx-compatible configs (its CSRs carry none) set false
  bool require_tcb_info = true;
  std::chrono::seconds collateral_grace{0};  // accept collateral this long past nextUpdate
  // Replay bounds (unset = none; docs/attest-dcap.md): minimum tcbEvaluationDataNumber of TCB
  // info and QE identity, and maximum ages since issueDate / thisUpdate.
  std::optional<std::int64_t> min_tcb_evaluation_data_number;
  std::optional<std::chrono::seconds> tcb_info_max_age, qe_identity_max_age, crl_max_age;

  VerifyOptions verify_options(TimePoint at) const;
};

struct SgxPolicy : CommonPolicy {
  std::vector<Bytes> signer;          // allowed MRSIGNER (32 bytes each); empty = any
  std::vector<Bytes> hash;            // allowed MRENCLAVE; empty = any
  std::vector<Bytes> hash_blacklist;  // refused MRENCLAVE
  // Enarx `features`: ATTRIBUTES flags the enclave may have (INIT and MODE64BIT implied).
  // Names: Init, Debug, Mode64Bit, ProvisioningKey, EInitKey, CET, KSS, AEXNotify. Note that
  // "Debug" here does not allow debug enclaves by itself: allow_debug does.
  std::optional<std::uint64_t> features;
  std::uint64_t required_features = 0;  // flags that must be set
  std::optional<std::uint32_t> misc_select;  // allowed MISCSELECT bits (EXINFO, CPINFO)
  std::optional<std::uint16_t> enclave_security_version;  // minimum ISVSVN
  std::optional<std::uint16_t> enclave_product_id;        // exact ISVPRODID
  // KSS (key separation and sharing) identity.
  std::vector<Bytes> isv_family_id;    // 16 bytes each; empty = any
  std::vector<Bytes> isv_ext_prod_id;  // 16 bytes each
  std::vector<Bytes> config_id;        // 64 bytes each
  std::optional<std::uint16_t> min_config_svn;

  static SgxPolicy from_toml(const toml::table& sgx_table);
};

struct TdxPolicy : CommonPolicy {
  std::vector<Bytes> mrtd;                 // 48 bytes each; empty = any
  std::array<std::vector<Bytes>, 4> rtmr;  // rtmr0..rtmr3 allow-lists
  std::vector<Bytes> mrseam;
  std::vector<Bytes> mrsignerseam;
  std::vector<Bytes> mrconfigid;
  std::vector<Bytes> mrowner;
  std::vector<Bytes> mrownerconfig;
  std::optional<Bytes> min_tee_tcb_svn;     // 16 bytes, compared component-wise
  std::optional<std::uint8_t> min_seam_svn;  // TEE_TCB_SVN[0] (TDX module SVN)
  // TD attributes: (td_attributes & mask) must equal td_attributes_value & mask.
  std::optional<std::uint64_t> td_attributes_mask;
  std::uint64_t td_attributes_value = 0;

  static TdxPolicy from_toml(const toml::table& tdx_table);
};

}  // namespace enarx::attest::dcap
