#include "steward/policy.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/config.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"

namespace enarx::steward {
namespace {

constexpr std::string_view kPlatformTables[] = {"snp", "sgx", "tdx"};
constexpr std::string_view kServerTables[] = {"server", "tls",    "ca",    "audit",     "log",
                                              "limits", "policy", "index", "revocation"};

[[noreturn]] void fail(std::string code, const std::string& message) {
  throw Error(ErrorKind::kInvalidInput, "steward.policy." + code, message);
}

std::chrono::seconds duration_value(const toml::node& node, const std::string& key) {
  if (auto i = node.value<std::int64_t>()) {
    if (*i < 0) fail("type", key + " must not be negative");
    return std::chrono::seconds(*i);
  }
  if (auto s = node.value<std::string>()) {
    try {
      return std::chrono::duration_cast<std::chrono::seconds>(config::parse_duration(*s, key));
    } catch (const Error& e) {
      fail("type", e.what());
    }
  }
  fail("type", key + " must be a duration (\"24h\", \"90m\", or integer seconds)");
}

std::string serialize_table(std::string_view name, const toml::table& table) {
  toml::table wrapper;
  wrapper.insert(name, table);
  std::ostringstream out;
  out << wrapper;
  return out.str();
}

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative() && !base.empty()) return base / path;
  return path;
}

void parse_issuance(const toml::table& t, IssuancePolicy& out,
                    const std::filesystem::path& base_dir) {
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    const std::string full = "issuance." + key;
    if (key == "allow_insecure") {
      auto v = node.value<bool>();
      if (!v || !node.is_boolean()) fail("type", full + " must be a boolean");
      out.allow_insecure = *v;
    } else if (key == "certificate_lifetime") {
      out.certificate_lifetime = duration_value(node, full);
      if (out.certificate_lifetime.count() <= 0) fail("type", full + " must be positive");
    } else if (key == "backdate") {
      out.backdate = duration_value(node, full);
    } else if (key == "collateral_grace") {
      out.collateral_grace = duration_value(node, full);
    } else if (key == "max_bundle_size") {
      auto v = node.value<std::int64_t>();
      if (!v || !node.is_integer() || *v < 1 || *v > 4096)
        fail("type", full + " must be an integer in 1..4096");
      out.max_bundle_size = static_cast<std::size_t>(*v);
    } else if (key == "extra_dns_sans") {
      const auto* arr = node.as_array();
      if (!arr) fail("type", full + " must be an array of strings");
      for (const auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!s || s->empty()) fail("type", full + " must be an array of non-empty strings");
        out.extra_dns_sans.push_back(*s);
      }
    } else if (key == "amd_collateral_dir" || key == "intel_collateral_dir") {
      auto s = node.value<std::string>();
      if (!s) fail("type", full + " must be a string (a directory)");
      (key == "amd_collateral_dir" ? out.amd_collateral_dir : out.intel_collateral_dir) =
          resolve(base_dir, *s);
    } else {
      fail("unknown_key", "unknown policy key " + full);
    }
  }
}

bool is_lower_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// A DNS name or "*.suffix" pattern: LDH labels of 1..63, at least two labels, <= 253 bytes.
bool is_dns_pattern(std::string_view s) {
  if (s.starts_with("*.")) s.remove_prefix(2);
  if (s.empty() || s.size() > 253 || s.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    const auto label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    start = end + 1;
  }
  return true;
}

std::string string_key(const toml::table& t, const char* key, const std::string& where) {
  auto v = t[key].value<std::string>();
  if (!v) return {};
  if (!t[key].is_string()) fail("dns_grant", where + "." + key + " must be a string");
  return *v;
}

void parse_identity(const toml::table& t, IdentityPolicy& out) {
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    if (key == "any_measurement") {
      if (!node.is_boolean()) fail("type", "identity.any_measurement must be a boolean");
      out.any_measurement = *node.value<bool>();
    } else if (key == "dns") {
      const auto* arr = node.as_array();
      if (!arr) fail("type", "identity.dns must be an array of tables ([[identity.dns]])");
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string where = "identity.dns[" + std::to_string(i) + "]";
        const auto* g = (*arr)[i].as_table();
        if (!g) fail("type", where + " must be a table");
        DnsGrant grant;
        for (const auto& [gk, gv] : *g) {
          const std::string name(gk.str());
          if (name != "platform" && name != "measurement" && name != "signer" && name != "names")
            fail("unknown_key", "unknown policy key " + where + "." + name);
        }
        grant.platform = string_key(*g, "platform", where);
        if (grant.platform != "snp" && grant.platform != "sgx" && grant.platform != "tdx")
          fail("dns_grant", where + ".platform must be \"snp\", \"sgx\" or \"tdx\"");
        grant.measurement = string_key(*g, "measurement", where);
        grant.signer = string_key(*g, "signer", where);
        for (auto* v : {&grant.measurement, &grant.signer})
          std::transform(v->begin(), v->end(), v->begin(), [](unsigned char c) { return std::tolower(c); });
        if (grant.measurement.empty() == grant.signer.empty())
          fail("dns_grant", where + " needs exactly one of measurement / signer");
        if (!is_lower_hex(grant.measurement.empty() ? grant.signer : grant.measurement))
          fail("dns_grant", where + ": measurement / signer must be hex");
        const auto* names = (*g)["names"].as_array();
        if (!names || names->empty()) fail("dns_grant", where + ".names must be a non-empty array");
        for (const auto& n : *names) {
          auto text = n.value<std::string>();
          std::string lower = text.value_or("");
          std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
          if (!text || !is_dns_pattern(lower))
            fail("dns_grant", where + ".names: \"" + text.value_or("?") +
                                  "\" is not a DNS name or *.suffix pattern");
          grant.names.push_back(lower);
        }
        out.dns.push_back(std::move(grant));
      }
    } else {
      fail("unknown_key", "unknown policy key identity." + key);
    }
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

[[noreturn]] void registry_fail(const std::string& message) { fail("registry", message); }

std::string registry_string(const toml::node& node, const std::string& key) {
  auto v = node.value<std::string>();
  if (!v || !node.is_string() || v->empty()) registry_fail(key + " must be a non-empty string");
  return *v;
}

// The certificates of a CA bundle, re-encoded; their digests go into the policy digest, so a
// changed bundle is a changed policy.
std::string load_registry_ca(const std::filesystem::path& path, const std::string& key,
                             std::ostream& digests) {
  std::vector<Certificate> certs;
  try {
    certs = Certificate::chain_from_pem(read_text_file(path, 4 << 20));
  } catch (const Error& e) {
    fail("registry_ca", key + ": cannot load " + path.string() + ": " + e.what());
  }
  if (certs.empty()) fail("registry_ca", key + ": no certificate in " + path.string());
  std::string pem;
  for (const auto& c : certs) {
    digests << key << "_sha256 = " << to_hex(c.fingerprint_sha256()) << "\n";
    pem += c.to_pem();
  }
  return pem;
}

// Only the path: the file is read for every check (tokens expire and get replaced), and a
// relying party replaying this policy (enarx verify --offline) has no token. Steward's start-up
// checks that it can read it (service.cc).
std::filesystem::path registry_token_file(const toml::node& node, const std::string& key,
                                          const std::filesystem::path& base_dir) {
  return resolve(base_dir, registry_string(node, key));
}

std::string registry_url(const toml::node& node, const std::string& key) {
  std::string url = registry_string(node, key);
  // Steward trusts what this answers: plain HTTP would let the network decide.
  if (!url.starts_with("https://") || url.size() == 8 || url.find_first_of("?# \t") != std::string::npos)
    registry_fail(key + " must be an https:// URL without query or fragment");
  while (url.ends_with("/")) url.pop_back();
  return url;
}

void parse_registry(const toml::table& t, RegistryPolicy& out, const std::filesystem::path& base_dir,
                    std::ostream& digests) {
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    const std::string full = "registry." + key;
    if (key == "ca_file") {
      out.ca_pem = load_registry_ca(resolve(base_dir, registry_string(node, full)), full, digests);
    } else if (key == "token_file") {
      out.token_file = registry_token_file(node, full, base_dir);
    } else if (key == "timeout") {
      const auto timeout = duration_value(node, full);
      if (timeout.count() <= 0 || timeout > std::chrono::minutes(5))
        registry_fail(full + " must be between 1s and 5m");
      out.timeout = timeout;
    } else if (key == "max_response_size") {
      auto v = node.value<std::int64_t>();
      if (!v || !node.is_integer() || *v < 1024 || *v > (16 << 20))
        registry_fail(full + " must be an integer in 1024..16777216");
      out.max_response_size = static_cast<std::size_t>(*v);
    } else if (key == "only_listed_hosts") {
      if (!node.is_boolean()) registry_fail(full + " must be a boolean");
      out.only_listed_hosts = *node.value<bool>();
    } else if (key == "hosts") {
      const auto* hosts = node.as_table();
      if (!hosts) registry_fail(full + " must be a table of [registry.hosts.\"<host>\"] tables");
      for (const auto& [hk, hnode] : *hosts) {
        const std::string host = lower(std::string(hk.str()));
        const std::string where = full + ".\"" + std::string(hk.str()) + "\"";
        const auto* h = hnode.as_table();
        if (!h) registry_fail(where + " must be a table {url, ca_file, token_file}");
        if (host.empty() || host.find_first_of("/ \t@") != std::string::npos)
          registry_fail(where + ": not a slug host (a name or address with an optional :port)");
        RegistryEndpoint endpoint;
        for (const auto& [ek, enode] : *h) {
          const std::string name(ek.str());
          if (name == "url") {
            endpoint.url = registry_url(enode, where + ".url");
          } else if (name == "ca_file") {
            endpoint.ca_pem = load_registry_ca(resolve(base_dir, registry_string(enode, where + ".ca_file")),
                                               "registry.hosts." + host + ".ca_file", digests);
          } else if (name == "token_file") {
            endpoint.token_file = registry_token_file(enode, where + ".token_file", base_dir);
          } else {
            fail("unknown_key", "unknown policy key " + where + "." + name);
          }
        }
        if (endpoint.url.empty()) endpoint.url = "https://" + host;
        if (!out.hosts.emplace(host, std::move(endpoint)).second)
          registry_fail(where + " is listed twice (host names are case-insensitive)");
      }
    } else if (key == "check") {
      const auto* arr = node.as_array();
      if (!arr) registry_fail(full + " must be an array of tables ([[registry.check]])");
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string where = full + "[" + std::to_string(i) + "]";
        const auto* r = (*arr)[i].as_table();
        if (!r) registry_fail(where + " must be a table");
        RegistryCheckRule rule;
        bool has_signers = false;
        for (const auto& [rk, rnode] : *r) {
          const std::string name(rk.str());
          if (name == "platform") {
            rule.platform = registry_string(rnode, where + ".platform");
          } else if (name == "measurement") {
            rule.measurement = lower(registry_string(rnode, where + ".measurement"));
            if (!is_lower_hex(rule.measurement)) registry_fail(where + ".measurement must be hex");
          } else if (name == "allowed_signers") {
            has_signers = true;
            const auto* signers = rnode.as_array();
            if (!signers || signers->empty())
              registry_fail(where + ".allowed_signers must be a non-empty array of signer hashes");
            for (const auto& item : *signers) {
              auto text = item.value<std::string>();
              const std::string hex = lower(text.value_or(""));
              if (!text || !item.is_string() || hex.size() != 64 || !is_lower_hex(hex))
                registry_fail(where + ".allowed_signers: each entry is the 64-digit hex SHA-256 of a "
                                      "publisher key's DER SubjectPublicKeyInfo");
              rule.allowed_signers.push_back(hex);
            }
          } else {
            fail("unknown_key", "unknown policy key " + where + "." + name);
          }
        }
        if (rule.platform != "kvm" && rule.platform != "snp" && rule.platform != "sgx" &&
            rule.platform != "tdx")
          registry_fail(where + ".platform must be \"kvm\", \"snp\", \"sgx\" or \"tdx\"");
        if (!has_signers) registry_fail(where + ".allowed_signers is required");
        for (const auto& other : out.rules)
          if (other.platform == rule.platform && other.measurement == rule.measurement)
            registry_fail(where + " repeats the platform and measurement of an earlier rule");
        out.rules.push_back(std::move(rule));
      }
    } else {
      fail("unknown_key", "unknown policy key " + full);
    }
  }
}

}  // namespace

const RegistryCheckRule* RegistryPolicy::rule_for(std::string_view platform,
                                                  std::string_view measurement) const {
  const RegistryCheckRule* platform_wide = nullptr;
  for (const auto& rule : rules) {
    if (rule.platform != platform) continue;
    if (rule.measurement.empty()) {
      platform_wide = &rule;
    } else if (!measurement.empty() && rule.measurement == measurement) {
      return &rule;
    }
  }
  return platform_wide;
}

Policy Policy::parse(std::string_view toml_text, const std::filesystem::path& base_dir,
                     bool tolerate_server_tables) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "policy TOML: " << e.description() << " at line " << e.source().begin.line << ", column "
        << e.source().begin.column;
    fail("parse", msg.str());
  }

  Policy policy;
  std::ostringstream canonical;
  std::ostringstream root_digests;  // the roots' content counts, not just their file names
  for (const auto& [k, node] : doc) {
    const std::string key(k.str());
    const bool is_platform = std::find(std::begin(kPlatformTables), std::end(kPlatformTables),
                                       key) != std::end(kPlatformTables);
    const bool is_server = std::find(std::begin(kServerTables), std::end(kServerTables), key) !=
                           std::end(kServerTables);
    if (is_server && tolerate_server_tables) continue;
    const auto* table = node.as_table();
    if (is_platform || key == "issuance" || key == "simulated" || key == "identity" ||
        key == "registry") {
      if (!table) fail("type", key + " must be a table");
    }
    if (is_platform) {
      std::string text = serialize_table(key, *table);
      if (key == "snp") {
        policy.snp_toml = text;
        policy.evidence.snp = attest::snp::Policy::from_toml(*table);
        policy.evidence.snp_require_crl_given = (*table)["require_crl"].is_value();
      }
      if (key == "sgx") {
        policy.sgx_toml = text;
        policy.evidence.sgx = attest::dcap::SgxPolicy::from_toml(*table);
      }
      if (key == "tdx") {
        policy.tdx_toml = text;
        policy.evidence.tdx = attest::dcap::TdxPolicy::from_toml(*table);
      }
    } else if (key == "issuance") {
      parse_issuance(*table, policy.issuance, base_dir);
    } else if (key == "identity") {
      parse_identity(*table, policy.identity);
    } else if (key == "registry") {
      parse_registry(*table, policy.registry, base_dir, root_digests);
    } else if (key == "simulated") {
      for (const auto& [sk, snode] : *table) {
        if (sk.str() != "roots")
          fail("unknown_key", "unknown policy key simulated." + std::string(sk.str()));
        const auto* arr = snode.as_array();
        if (!arr) fail("type", "simulated.roots must be an array of file names");
        for (const auto& item : *arr) {
          auto s = item.value<std::string>();
          if (!s) fail("type", "simulated.roots must be an array of file names");
          auto path = resolve(base_dir, *s);
          try {
            auto certs = Certificate::chain_from_pem(read_text_file(path, 1 << 20));
            if (certs.empty()) fail("simulated_root", "no certificate in " + path.string());
            for (auto& c : certs) {
              root_digests << "simulated_root_sha256 = " << to_hex(c.fingerprint_sha256()) << "\n";
              policy.simulated_roots.push_back(std::move(c));
            }
          } catch (const Error& e) {
            if (e.code().rfind("steward.policy.", 0) == 0) throw;
            fail("simulated_root", "cannot load simulated root " + path.string() + ": " + e.what());
          }
          policy.simulated_root_files.push_back(path);
        }
      }
    } else {
      fail("unknown_table", "unknown policy table [" + key + "]");
    }
    if (table) canonical << serialize_table(key, *table) << "\n";
  }
  canonical << root_digests.str();
  policy.digest = to_hex(sha256(as_bytes(canonical.str())));
  policy.sync_evidence();
  return policy;
}

void Policy::sync_evidence() {
  // Simulated roots are trusted only together with allow_insecure.
  evidence.allow_simulated = issuance.allow_insecure;
  evidence.simulated_roots = issuance.allow_insecure ? simulated_roots : std::vector<Certificate>{};
  evidence.collateral_grace = issuance.collateral_grace;
  evidence.amd_collateral_dir = issuance.amd_collateral_dir;
  evidence.intel_collateral_dir = issuance.intel_collateral_dir;
}

void Policy::apply_overrides(bool allow_insecure, const std::vector<std::string>& extra_dns_sans) {
  if (!allow_insecure && extra_dns_sans.empty()) return;
  std::string text = digest + "\n";
  if (allow_insecure) {
    issuance.allow_insecure = true;
    text += "override allow_insecure = true\n";
    sync_evidence();
  }
  for (const auto& s : extra_dns_sans) {
    issuance.extra_dns_sans.push_back(s);
    text += "override extra_dns_san = " + s + "\n";
  }
  digest = to_hex(sha256(as_bytes(text)));
}

Policy Policy::load(const std::filesystem::path& file, bool tolerate_server_tables) {
  std::string text;
  try {
    text = read_text_file(file, 4 << 20);
  } catch (const Error& e) {
    fail("io", std::string("cannot read policy: ") + e.what());
  }
  return parse(text, file.parent_path(), tolerate_server_tables);
}

}  // namespace enarx::steward
