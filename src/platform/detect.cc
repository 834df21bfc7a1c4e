#include "platform/detect.h"

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file.h"

namespace fs = std::filesystem;

namespace enarx::platform {

namespace {

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

std::optional<std::string> read_small(const fs::path& p) {
  try {
    Bytes b = read_file(p, 1u << 20);
    std::string s(b.begin(), b.end());
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::set<std::string> cpu_flags(const fs::path& root) {
  std::set<std::string> flags;
  auto text = read_small(root / "proc/cpuinfo");
  if (!text) return flags;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream words(line.substr(colon + 1));
    std::string w;
    while (words >> w) flags.insert(w);
    break;  // every CPU lists the same flags
  }
  return flags;
}

Check check(std::string name, bool pass, std::optional<std::string> info = std::nullopt,
            std::optional<std::string> mesg = std::nullopt) {
  Check c;
  c.name = std::move(name);
  c.pass = pass;
  c.info = std::move(info);
  if (!pass) c.mesg = std::move(mesg);
  return c;
}

bool all_pass(const std::vector<Check>& checks) {
  for (const auto& c : checks)
    if (!c.pass) return false;
  return true;
}

PlatformChecks sgx_checks(const fs::path& root) {
  PlatformChecks p{Platform::Sgx, false, {}};
  fs::path dir = root / "dev/attestation";
  bool have_dir = path_exists(dir);
  p.checks.push_back(check("Gramine /dev/attestation", have_dir, std::nullopt,
                           "Run the keep inside an SGX enclave under Gramine (gramine-sgx)"));
  auto type = read_small(dir / "attestation_type");
  p.checks.push_back(check("attestation type dcap", type && *type == "dcap", type,
                           "Set sgx.remote_attestation = \"dcap\" in the Gramine manifest"));
  p.checks.push_back(check("quote interface",
                           path_exists(dir / "user_report_data") && path_exists(dir / "quote"), std::nullopt,
                           "Gramine does not expose user_report_data/quote; upgrade Gramine"));
  p.available = all_pass(p.checks);
  return p;
}

PlatformChecks snp_checks(const DetectOptions& o, const std::optional<std::string>& provider,
                          const std::set<std::string>& flags) {
  PlatformChecks p{Platform::Snp, false, {}};
  bool dev = path_exists(o.root / "dev/sev-guest");
  bool tsm = provider && *provider == "sev_guest";
  Check guest = check("SEV-SNP guest", dev || tsm,
                      flags.count("sev_snp") ? std::optional<std::string>("cpu flag sev_snp")
                                             : std::nullopt,
                      "Not an SEV-SNP guest, or the sev-guest driver is not loaded (modprobe sev-guest)");
  guest.children.push_back(check(" configfs-tsm (sev_guest)", tsm, provider,
                                 "Linux >= 6.7 with CONFIG_TSM_REPORTS, configfs mounted at "
                                 "/sys/kernel/config"));
  guest.children.push_back(check(" /dev/sev-guest", dev, std::nullopt,
                                 "modprobe sev-guest, and make /dev/sev-guest readable"));
  // One of the two interfaces is enough: the children only say which one is there.
  p.checks.push_back(std::move(guest));
  p.available = p.checks[0].pass;
  return p;
}

PlatformChecks tdx_checks(const DetectOptions& o, const std::optional<std::string>& provider,
                          const std::set<std::string>& flags) {
  PlatformChecks p{Platform::Tdx, false, {}};
  bool guest = flags.count("tdx_guest") || path_exists(o.root / "dev/tdx_guest");
  p.checks.push_back(check("TDX guest", guest, std::nullopt,
                           "Not a TDX guest (no tdx_guest CPU flag, no /dev/tdx_guest)"));
  bool tsm = provider && *provider == "tdx_guest";
  p.checks.push_back(check("configfs-tsm (tdx_guest)", tsm, provider,
                           "Quotes need Linux >= 6.7 with CONFIG_TSM_REPORTS, configfs mounted at "
                           "/sys/kernel/config, and a quote generation service on the host"));
  p.available = all_pass(p.checks);
  return p;
}

PlatformChecks kvm_checks(const fs::path& root, const std::set<std::string>& flags) {
  PlatformChecks p{Platform::Kvm, false, {}};
  auto vendor = read_small(root / "sys/devices/virtual/dmi/id/sys_vendor");
  p.checks.push_back(check("hypervisor", flags.count("hypervisor") > 0, vendor,
                           "Not running under a hypervisor"));
  auto clocks = read_small(root / "sys/devices/system/clocksource/clocksource0/available_clocksource");
  bool kvm = clocks && clocks->find("kvm-clock") != std::string::npos;
  p.checks.push_back(check("KVM paravirtual clock", kvm, clocks, "The hypervisor is not KVM"));
  p.available = all_pass(p.checks);
  return p;
}

}  // namespace

Detection detect(const DetectOptions& o) {
  Detection d;
  auto flags = cpu_flags(o.root);
  std::optional<std::string> provider;
  if (o.probe_tsm_provider) {
    TsmOptions t;
    t.root = o.root;
    t.ops = o.ops;
    provider = tsm_provider(t);
  }
  d.platforms.push_back(sgx_checks(o.root));
  d.platforms.push_back(snp_checks(o, provider, flags));
  d.platforms.push_back(tdx_checks(o, provider, flags));
  d.platforms.push_back(kvm_checks(o.root, flags));
  PlatformChecks nil{Platform::Nil, true, {}};
  nil.checks.push_back(check("no isolation", true, std::string("evidence is empty")));
  d.platforms.push_back(std::move(nil));
  for (const auto& p : d.platforms) {
    if (p.available) {
      d.selected = p.platform;
      break;
    }
  }
  return d;
}

namespace {
void text_checks(std::ostringstream& out, const std::vector<Check>& checks, int depth) {
  for (const auto& c : checks) {
    std::string name = c.name;
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    out << std::string(2 * depth, ' ') << (c.pass ? "✔ " : "✗ ") << name;
    if (c.info) out << ": " << *c.info;
    out << "\n";
    if (c.mesg) out << std::string(2 * depth + 2, ' ') << "hint: " << *c.mesg << "\n";
    text_checks(out, c.children, depth + 1);
  }
}

nlohmann::json json_checks(const std::vector<Check>& checks) {
  auto arr = nlohmann::json::array();
  for (const auto& c : checks) {
    std::string name = c.name;
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    nlohmann::json j{{"name", name}, {"pass", c.pass}};
    if (c.info) j["info"] = *c.info;
    if (c.mesg) j["mesg"] = *c.mesg;
    if (!c.children.empty()) j["checks"] = json_checks(c.children);
    arr.push_back(std::move(j));
  }
  return arr;
}
}  // namespace

std::string format_text(const Detection& d, const std::string& version, const std::string& system) {
  std::ostringstream out;
  out << "Enarx version " << version << "\n";
  out << "System Info: " << system << "\n";
  out << "Platform: " << to_string(d.selected) << "\n\n";
  for (const auto& p : d.platforms) {
    out << (p.available ? "✔ " : "✗ ") << "Platform: " << to_string(p.platform) << "\n";
    text_checks(out, p.checks, 1);
  }
  return out.str();
}

nlohmann::json format_json(const Detection& d, const std::string& version, const std::string& system) {
  nlohmann::json j{{"version", version}, {"system_info", system}, {"platform", to_string(d.selected)}};
  auto arr = nlohmann::json::array();
  for (const auto& p : d.platforms) {
    arr.push_back({{"platform", to_string(p.platform)},
                   {"available", p.available},
                   {"checks", json_checks(p.checks)}});
  }
  j["platforms"] = std::move(arr);
  return j;
}

}  // namespace enarx::platform
