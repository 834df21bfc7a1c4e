#include "attest/dcap/policy.h"

#include <algorithm>
#include <map>
#include <set>

#include "attest/dcap/quote.h"
#include "core/error.h"

namespace enarx::attest::dcap {
namespace {

[[noreturn]] void invalid(const std::string& section, const std::string& key, const std::string& why) {
  throw Error(ErrorKind::kInvalidInput, "dcap.policy.invalid", "[" + section + "] " + key + ": " + why);
}

std::vector<std::string> string_list(const toml::node& node, const std::string& section,
                                     const std::string& key) {
  const auto* arr = node.as_array();
  if (!arr) invalid(section, key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!el.is_string() || !s) invalid(section, key, "must be an array of strings");
    out.push_back(*s);
  }
  return out;
}

std::vector<Bytes> digest_list(const toml::node& node, const std::string& section,
                               const std::string& key, std::size_t size) {
  std::vector<Bytes> out;
  for (const auto& text : string_list(node, section, key)) {
    Bytes b;
    try {
      b = from_hex(text);
    } catch (const Error&) {
      invalid(section, key, "\"" + text + "\" is not hex");
    }
    if (b.size() != size) {
      invalid(section, key, "\"" + text + "\" must be " + std::to_string(size) + " bytes");
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::int64_t integer(const toml::node& node, const std::string& section, const std::string& key,
                     std::int64_t min, std::int64_t max) {
  auto v = node.value<std::int64_t>();
  if (!node.is_integer() || !v) invalid(section, key, "must be an integer");
  if (*v < min || *v > max) {
    invalid(section, key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return *v;
}

bool boolean(const toml::node& node, const std::string& section, const std::string& key) {
  auto v = node.value<bool>();
  if (!node.is_boolean() || !v) invalid(section, key, "must be true or false");
  return *v;
}

Bytes hex_value(const toml::node& node, const std::string& section, const std::string& key,
                std::size_t size) {
  auto s = node.value<std::string>();
  if (!node.is_string() || !s) invalid(section, key, "must be a hex string");
  Bytes b;
  try {
    b = from_hex(*s);
  } catch (const Error&) {
    invalid(section, key, "is not hex");
  }
  if (b.size() != size) invalid(section, key, "must be " + std::to_string(size) + " bytes");
  return b;
}

std::uint64_t hex_u64_le(const toml::node& node, const std::string& section, const std::string& key) {
  const Bytes b = hex_value(node, section, key, 8);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  return v;
}

const std::map<std::string, std::uint64_t>& feature_names() {
  static const std::map<std::string, std::uint64_t> m = {
      {"Init", kSgxFlagInit},           {"Debug", kSgxFlagDebug},
      {"Mode64Bit", kSgxFlagMode64},    {"ProvisioningKey", kSgxFlagProvisionKey},
      {"EInitKey", kSgxFlagEinitTokenKey}, {"CET", kSgxFlagCet},
      {"KSS", kSgxFlagKss},             {"AEXNotify", kSgxFlagAexNotify},
  };
  return m;
}

std::uint64_t feature_bits(const toml::node& node, const std::string& section, const std::string& key) {
  std::uint64_t v = 0;
  for (const auto& name : string_list(node, section, key)) {
    auto it = feature_names().find(name);
    if (it == feature_names().end()) invalid(section, key, "unknown feature \"" + name + "\"");
    v |= it->second;
  }
  return v;
}

const std::set<std::string>& tcb_status_names() {
  static const std::set<std::string> s = {"UpToDate",
                                          "SWHardeningNeeded",
                                          "ConfigurationNeeded",
                                          "ConfigurationAndSWHardeningNeeded",
                                          "OutOfDate",
                                          "OutOfDateConfigurationNeeded",
                                          "Revoked"};
  return s;
}

// Returns true when `key` was a common key (and applies it).
bool common_key(CommonPolicy& p, const std::string& section, const std::string& key,
                const toml::node& v) {
  if (key == "allow_debug") {
    p.allow_debug = boolean(v, section, key);
  } else if (key == "allow_simulated") {
    p.allow_simulated = boolean(v, section, key);
  } else if (key == "allowed_tcb_statuses") {
    auto list = string_list(v, section, key);
    for (const auto& s : list) {
      if (!tcb_status_names().count(s)) invalid(section, key, "unknown TCB status \"" + s + "\"");
    }
    p.allowed_tcb_statuses = std::move(list);
  } else if (key == "allowed_advisories") {
    p.allowed_advisories = string_list(v, section, key);
  } else if (key == "require_crls") {
    p.require_crls = boolean(v, section, key);
  } else if (key == "require_qe_identity") {
    p.require_qe_identity = boolean(v, section, key);
  } else if (key == "require_tcb_info") {
    p.require_tcb_info = boolean(v, section, key);
  } else if (key == "collateral_grace_seconds") {
    p.collateral_grace = std::chrono::seconds(integer(v, section, key, 0, 10LL * 365 * 86400));
  } else if (key == "min_tcb_evaluation_data_number") {
    p.min_tcb_evaluation_data_number = integer(v, section, key, 0, 1LL << 32);
  } else if (key == "tcb_info_max_age_seconds") {
    p.tcb_info_max_age = std::chrono::seconds(integer(v, section, key, 1, 10LL * 365 * 86400));
  } else if (key == "qe_identity_max_age_seconds") {
    p.qe_identity_max_age = std::chrono::seconds(integer(v, section, key, 1, 10LL * 365 * 86400));
  } else if (key == "crl_max_age_seconds") {
    p.crl_max_age = std::chrono::seconds(integer(v, section, key, 1, 10LL * 365 * 86400));
  } else {
    return false;
  }
  return true;
}

[[noreturn]] void unknown(const std::string& section, const std::string& key) {
  throw Error(ErrorKind::kInvalidInput, "dcap.policy.unknown_key", "[" + section + "] unknown key \"" + key + "\"");
}

}  // namespace

VerifyOptions CommonPolicy::verify_options(TimePoint at) const {
  VerifyOptions o;
  o.at = at;
  o.collateral_grace = collateral_grace;
  o.require_crls = require_crls;
  o.require_qe_identity = require_qe_identity;
  o.require_tcb_info = require_tcb_info;
  o.min_tcb_evaluation_data_number = min_tcb_evaluation_data_number;
  o.tcb_info_max_age = tcb_info_max_age;
  o.qe_identity_max_age = qe_identity_max_age;
  o.crl_max_age = crl_max_age;
  return o;
}

SgxPolicy SgxPolicy::from_toml(const toml::table& t) {
  const std::string s = "sgx";
  SgxPolicy p;
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (common_key(p, s, key, v)) continue;
    if (key == "signer") {
      p.signer = digest_list(v, s, key, 32);
    } else if (key == "hash") {
      p.hash = digest_list(v, s, key, 32);
    } else if (key == "hash_blacklist") {
      p.hash_blacklist = digest_list(v, s, key, 32);
    } else if (key == "features") {
      p.features = feature_bits(v, s, key);
    } else if (key == "required_features") {
      p.required_features = feature_bits(v, s, key);
    } else if (key == "misc_select") {
      std::uint32_t bits = 0;
      for (const auto& name : string_list(v, s, key)) {
        if (name == "EXINFO") {
          bits |= 1u << 0;
        } else if (name == "CPINFO") {
          bits |= 1u << 1;
        } else {
          invalid(s, key, "unknown MISCSELECT bit \"" + name + "\" (EXINFO, CPINFO)");
        }
      }
      p.misc_select = bits;
    } else if (key == "enclave_security_version") {
      p.enclave_security_version = static_cast<std::uint16_t>(integer(v, s, key, 0, 65535));
    } else if (key == "enclave_product_id") {
      p.enclave_product_id = static_cast<std::uint16_t>(integer(v, s, key, 0, 65535));
    } else if (key == "isv_family_id") {
      p.isv_family_id = digest_list(v, s, key, 16);
    } else if (key == "isv_ext_prod_id") {
      p.isv_ext_prod_id = digest_list(v, s, key, 16);
    } else if (key == "config_id") {
      p.config_id = digest_list(v, s, key, 64);
    } else if (key == "min_config_svn") {
      p.min_config_svn = static_cast<std::uint16_t>(integer(v, s, key, 0, 65535));
    } else {
      unknown(s, key);
    }
  }
  for (const auto& h : p.hash) {
    if (std::find(p.hash_blacklist.begin(), p.hash_blacklist.end(), h) != p.hash_blacklist.end()) {
      invalid(s, "hash", to_hex(h) + " is also in hash_blacklist");
    }
  }
  return p;
}

TdxPolicy TdxPolicy::from_toml(const toml::table& t) {
  const std::string s = "tdx";
  TdxPolicy p;
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (common_key(p, s, key, v)) continue;
    if (key == "mrtd") {
      p.mrtd = digest_list(v, s, key, 48);
    } else if (key.size() == 5 && key.rfind("rtmr", 0) == 0 && key[4] >= '0' && key[4] <= '3') {
      p.rtmr[static_cast<std::size_t>(key[4] - '0')] = digest_list(v, s, key, 48);
    } else if (key == "mrseam") {
      p.mrseam = digest_list(v, s, key, 48);
    } else if (key == "mrsignerseam") {
      p.mrsignerseam = digest_list(v, s, key, 48);
    } else if (key == "mrconfigid") {
      p.mrconfigid = digest_list(v, s, key, 48);
    } else if (key == "mrowner") {
      p.mrowner = digest_list(v, s, key, 48);
    } else if (key == "mrownerconfig") {
      p.mrownerconfig = digest_list(v, s, key, 48);
    } else if (key == "min_tee_tcb_svn") {
      p.min_tee_tcb_svn = hex_value(v, s, key, 16);
    } else if (key == "min_seam_svn") {
      p.min_seam_svn = static_cast<std::uint8_t>(integer(v, s, key, 0, 255));
    } else if (key == "td_attributes_mask") {
      p.td_attributes_mask = hex_u64_le(v, s, key);
    } else if (key == "td_attributes") {
      p.td_attributes_value = hex_u64_le(v, s, key);
    } else {
      unknown(s, key);
    }
  }
  return p;
}

}  // namespace enarx::attest::dcap
