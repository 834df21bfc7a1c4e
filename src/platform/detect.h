// `enarx platform info`: which TEE is available here, with the individual checks behind the
// answer (like Enarx's backend checks, for a guest / enclave instead of a host).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/platform.h"
#include "platform/tee_interfaces.h"

namespace enarx::platform {

struct Check {
  std::string name;
  bool pass = false;
  std::optional<std::string> info;  // what was found (shown after the name)
  std::optional<std::string> mesg;  // a hint on how to fix a failure
  std::vector<Check> children;
};

struct PlatformChecks {
  Platform platform;
  bool available = false;  // every required check passed
  std::vector<Check> checks;
};

struct Detection {
  Platform selected = Platform::Nil;  // first available in the order sgx, snp, tdx, kvm, nil
  std::vector<PlatformChecks> platforms;
};

struct DetectOptions {
  std::filesystem::path root = "/";
  // Asking configfs-tsm for its provider creates (and removes) a report entry; off by default
  // in tests that use a plain directory as the fake configfs.
  bool probe_tsm_provider = true;
  TsmDirOps* ops = nullptr;
};

Detection detect(const DetectOptions& options);
inline Detection detect(const std::filesystem::path& root) {
  DetectOptions o;
  o.root = root;
  return detect(o);
}

// Text with ✔/✗ and indented hints; JSON {"version","system_info","platform","platforms":[
// {"platform","available","checks":[{"name","pass","info"?,"mesg"?,"checks"?}]}]} with absent
// info/mesg left out (Enarx writes the string "null" instead).
std::string format_text(const Detection& d, const std::string& version, const std::string& system);
nlohmann::json format_json(const Detection& d, const std::string& version, const std::string& system);

}  // namespace enarx::platform
