#include "attest/snp/policy.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "core/error.h"

namespace enarx::attest::snp {
namespace {

[[noreturn]] void invalid(const std::string& key, const std::string& why) {
  throw Error(ErrorKind::kInvalidInput, "snp.policy_config.invalid", "[snp] " + key + ": " + why);
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

constexpr std::uint64_t pack(std::uint64_t maj, std::uint64_t min, std::uint64_t patch) {
  return maj << 40 | min << 20 | patch;
}

Bytes parse_digest(const std::string& key, std::string_view hex, std::size_t size) {
  Bytes b;
  try {
    b = from_hex(hex);
  } catch (const Error&) {
    invalid(key, "\"" + std::string(hex) + "\" is not hex");
  }
  if (b.size() != size) {
    invalid(key, "digest must be " + std::to_string(size) + " bytes, got " +
                     std::to_string(b.size()));
  }
  return b;
}

// A string or an array of strings, as hex digests of `size` bytes.
std::vector<Bytes> digest_list(const std::string& key, const toml::node& node, std::size_t size) {
  std::vector<Bytes> out;
  if (auto s = node.value<std::string>()) {
    out.push_back(parse_digest(key, *s, size));
    return out;
  }
  const toml::array* arr = node.as_array();
  if (!arr) invalid(key, "expected a hex string or an array of hex strings");
  for (const auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!s) invalid(key, "array elements must be hex strings");
    out.push_back(parse_digest(key, *s, size));
  }
  return out;
}

std::vector<std::string> string_list(const std::string& key, const toml::node& node) {
  std::vector<std::string> out;
  if (auto s = node.value<std::string>()) return {*s};
  const toml::array* arr = node.as_array();
  if (!arr) invalid(key, "expected an array of strings");
  for (const auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!s) invalid(key, "array elements must be strings");
    out.push_back(*s);
  }
  return out;
}

bool get_bool(const std::string& key, const toml::node& node) {
  auto v = node.value_exact<bool>();
  if (!v) invalid(key, "expected true or false");
  return *v;
}

std::int64_t get_uint(const std::string& key, const toml::node& node, std::int64_t max) {
  auto v = node.value_exact<std::int64_t>();
  if (!v || *v < 0 || *v > max) invalid(key, "expected an integer 0.." + std::to_string(max));
  return *v;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

// Returns the PLATFORM_INFO bit for a flag name ("SMT", "SMT_EN", "TSME", ...), or -1.
int platform_info_bit(std::string_view name) {
  std::string n = upper(std::string(name));
  if (n.size() > 3 && n.ends_with("_EN")) n.resize(n.size() - 3);
  if (n == "SMT") return 0;
  if (n == "TSME") return 1;
  if (n == "ECC") return 2;
  if (n == "RAPL_DIS") return 3;
  if (n == "CIPHERTEXT_HIDING" || n == "CIPHERTEXT_HIDING_DRAM") return 4;
  if (n == "ALIAS_CHECK_COMPLETE") return 5;
  if (n == "TIO") return 7;
  return -1;
}

// Guest-policy flag name -> POLICY bit, or -1.
int guest_policy_bit(std::string_view name) {
  std::string n = upper(std::string(name));
  n.erase(std::remove(n.begin(), n.end(), '_'), n.end());
  if (n == "SMT") return 16;
  if (n == "MIGRATEMA" || n == "MIGRATIONAGENT") return 18;
  if (n == "DEBUG") return 19;
  if (n == "SINGLESOCKET") return 20;
  return -1;
}

VersionReq VersionReq::parse(std::string_view text) {
  VersionReq req;
  req.text_ = trim(text);
  std::stringstream ss{std::string(text)};
  std::string part;
  bool any = false;
  while (std::getline(ss, part, ',')) {
    std::string c = trim(part);
    if (c.empty()) invalid("abi", "empty comparator in \"" + req.text_ + "\"");
    any = true;
    std::string op;
    while (!c.empty() && (c[0] == '>' || c[0] == '<' || c[0] == '=' || c[0] == '~' || c[0] == '^')) {
      op.push_back(c[0]);
      c.erase(0, 1);
    }
    c = trim(c);
    if (c == "*" && op.empty()) {
      req.ranges_.push_back(Range{});
      continue;
    }
    // Up to three numeric components; "*"/"x" ends the version (wildcard).
    std::vector<std::uint64_t> parts;
    std::stringstream vs(c);
    std::string comp;
    while (std::getline(vs, comp, '.')) {
      if (comp == "*" || comp == "x" || comp == "X") break;
      if (comp.empty() || comp.size() > 6 ||
          !std::all_of(comp.begin(), comp.end(), [](unsigned char ch) { return std::isdigit(ch); })) {
        invalid("abi", "bad version \"" + c + "\" in \"" + req.text_ + "\"");
      }
      parts.push_back(std::stoull(comp));
    }
    if (parts.empty() || parts.size() > 3) {
      invalid("abi", "bad version \"" + c + "\" in \"" + req.text_ + "\"");
    }
    const std::uint64_t maj = parts[0];
    const std::uint64_t min = parts.size() > 1 ? parts[1] : 0;
    const std::uint64_t pat = parts.size() > 2 ? parts[2] : 0;
    const std::uint64_t exact = pack(maj, min, pat);
    // The first version above every version the (possibly partial) one names.
    const std::uint64_t after = parts.size() == 1   ? pack(maj + 1, 0, 0)
                                : parts.size() == 2 ? pack(maj, min + 1, 0)
                                                    : pack(maj, min, pat + 1);
    Range r;
    if (op == "=") {
      r.lo = exact;
      r.hi = after;
    } else if (op == ">") {
      r.lo = after;
    } else if (op == ">=") {
      r.lo = exact;
    } else if (op == "<") {
      r.hi = exact;
    } else if (op == "<=") {
      r.hi = after;
    } else if (op == "~") {
      r.lo = exact;
      r.hi = parts.size() == 1 ? pack(maj + 1, 0, 0) : pack(maj, min + 1, 0);
    } else if (op == "^" || op.empty()) {
      r.lo = exact;
      if (maj > 0 || parts.size() == 1) {
        r.hi = pack(maj + 1, 0, 0);
      } else if (min > 0 || parts.size() == 2) {
        r.hi = pack(0, min + 1, 0);
      } else {
        r.hi = pack(0, 0, pat + 1);
      }
    } else {
      invalid("abi", "unknown operator \"" + op + "\" in \"" + req.text_ + "\"");
    }
    req.ranges_.push_back(r);
  }
  if (!any) invalid("abi", "empty version requirement");
  return req;
}

bool VersionReq::matches(unsigned major, unsigned minor, unsigned patch) const {
  const std::uint64_t v = pack(major, minor, patch);
  return std::all_of(ranges_.begin(), ranges_.end(),
                     [v](const Range& r) { return v >= r.lo && v < r.hi; });
}

Policy Policy::from_toml(const toml::table& t) {
  Policy p;
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    if (key == "signer") {
      p.signer = digest_list(key, node, 48);
    } else if (key == "id_key_digest") {
      p.id_key_digest = digest_list(key, node, 48);
    } else if (key == "id_key_digest_blacklist") {
      p.id_key_digest_blacklist = digest_list(key, node, 48);
    } else if (key == "hash") {
      p.hash = digest_list(key, node, 48);
    } else if (key == "hash_blacklist") {
      p.hash_blacklist = digest_list(key, node, 48);
    } else if (key == "abi") {
      auto s = node.value<std::string>();
      if (!s) invalid(key, "expected a semver requirement string such as \">=1.51\"");
      p.abi = VersionReq::parse(*s);
    } else if (key == "policy_flags") {
      auto flags = string_list(key, node);
      for (const auto& f : flags) {
        if (guest_policy_bit(f) < 0) {
          invalid(key, "unknown flag \"" + f + "\" (SMT, SingleSocket, Debug, MigrateMA)");
        }
      }
      p.policy_flags = flags;
    } else if (key == "platform_info_flags") {
      if (auto s = node.value<std::string>()) {
        const std::string u = upper(*s);
        if (u == "SME") {
          p.platform_info_flags = 1;
        } else if (u == "TSME") {
          p.platform_info_flags = 2;
        } else {
          invalid(key, "expected \"SME\", \"TSME\" or a number 0..255");
        }
      } else {
        p.platform_info_flags = static_cast<std::uint8_t>(get_uint(key, node, 255));
      }
    } else if (key == "allow_debug") {
      p.allow_debug = get_bool(key, node);
    } else if (key == "allow_simulated") {
      p.allow_simulated = get_bool(key, node);
    } else if (key == "allow_migration_agent") {
      p.allow_migration_agent = get_bool(key, node);
    } else if (key == "require_single_socket") {
      p.require_single_socket = get_bool(key, node);
    } else if (key == "allow_smt") {
      p.allow_smt = get_bool(key, node);
    } else if (key == "allow_vlek") {
      p.allow_vlek = get_bool(key, node);
    } else if (key == "max_vmpl") {
      p.max_vmpl = static_cast<unsigned>(get_uint(key, node, 3));
    } else if (key == "min_tcb") {
      const toml::table* mt = node.as_table();
      if (!mt) invalid(key, "expected a table {bootloader, tee, snp, microcode, fmc}");
      for (const auto& [ck, cn] : *mt) {
        const std::string c(ck.str());
        const auto v = static_cast<unsigned>(get_uint("min_tcb." + c, cn, 255));
        if (c == "bootloader") p.min_tcb.bootloader = v;
        else if (c == "tee") p.min_tcb.tee = v;
        else if (c == "snp") p.min_tcb.snp = v;
        else if (c == "microcode") p.min_tcb.microcode = v;
        else if (c == "fmc") p.min_tcb.fmc = v;
        else throw Error(ErrorKind::kInvalidInput, "snp.policy_config.unknown_key", "[snp] unknown key min_tcb." + c);
      }
    } else if (key == "min_abi_major") {
      p.min_abi_major = static_cast<unsigned>(get_uint(key, node, 255));
    } else if (key == "min_abi_minor") {
      p.min_abi_minor = static_cast<unsigned>(get_uint(key, node, 255));
    } else if (key == "min_guest_svn") {
      p.min_guest_svn = static_cast<std::uint32_t>(get_uint(key, node, UINT32_MAX));
    } else if (key == "family_id") {
      p.family_id = digest_list(key, node, 16);
    } else if (key == "image_id") {
      p.image_id = digest_list(key, node, 16);
    } else if (key == "host_data") {
      p.host_data = digest_list(key, node, 32);
    } else if (key == "require_platform_info" || key == "deny_platform_info") {
      auto flags = string_list(key, node);
      for (const auto& f : flags) {
        if (platform_info_bit(f) < 0) {
          invalid(key, "unknown PLATFORM_INFO flag \"" + f +
                           "\" (SMT, TSME, ECC, RAPL_DIS, CIPHERTEXT_HIDING, "
                           "ALIAS_CHECK_COMPLETE, TIO)");
        }
      }
      (key == "require_platform_info" ? p.require_platform_info : p.deny_platform_info) = flags;
    } else if (key == "require_crl") {
      p.require_crl = get_bool(key, node);
    } else if (key == "crl_grace_seconds") {
      p.crl_grace = std::chrono::seconds(get_uint(key, node, INT32_MAX));
    } else if (key == "crl_max_age_seconds") {
      p.crl_max_age = std::chrono::seconds(get_uint(key, node, INT32_MAX));
    } else {
      throw Error(ErrorKind::kInvalidInput, "snp.policy_config.unknown_key", "[snp] unknown key \"" + key + "\"");
    }
  }
  // As Enarx: a digest both allowed and denied is a configuration mistake.
  for (const auto& h : p.hash) {
    if (std::find(p.hash_blacklist.begin(), p.hash_blacklist.end(), h) != p.hash_blacklist.end()) {
      invalid("hash", "digest " + to_hex(h) + " is in both hash and hash_blacklist");
    }
  }
  for (const auto& h : p.id_key_digest) {
    if (std::find(p.id_key_digest_blacklist.begin(), p.id_key_digest_blacklist.end(), h) !=
        p.id_key_digest_blacklist.end()) {
      invalid("id_key_digest", "digest " + to_hex(h) + " is both allowed and blacklisted");
    }
  }
  return p;
}

Policy Policy::from_toml_file_text(std::string_view text) {
  toml::table doc;
  try {
    doc = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "policy TOML: " << e.description() << " at line " << e.source().begin.line;
    throw Error(ErrorKind::kInvalidInput, "snp.policy_config.invalid", msg.str());
  }
  const toml::node* snp = doc.get("snp");
  if (!snp) return Policy::strict();
  const toml::table* t = snp->as_table();
  if (!t) throw Error(ErrorKind::kInvalidInput, "snp.policy_config.invalid", "[snp] must be a table");
  return from_toml(*t);
}

VerifyOptions Policy::verify_options(TimePoint at) const {
  VerifyOptions o;
  o.at = at;
  o.require_crl = require_crl;
  o.crl_grace = crl_grace;
  o.crl_max_age = crl_max_age;
  return o;
}

}  // namespace enarx::attest::snp
