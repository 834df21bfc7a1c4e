// Choosing the evidence provider: `--platform` / ENARX_PLATFORM and `--sim-dir` / ENARX_SIM_DIR.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "platform/platform.h"

namespace enarx::platform {

struct ProviderSpec {
  // auto | nil | kvm | snp | tdx | sgx | sim-snp | sim-tdx | sim-sgx
  std::string platform = "auto";
  std::filesystem::path sim_dir;  // for sim-*
  std::filesystem::path root = "/";
};

// Fills empty fields from ENARX_PLATFORM / ENARX_SIM_DIR (flags win over the environment).
ProviderSpec spec_from_env(ProviderSpec flags);

// "auto" runs detect(root) and takes the first available platform.
// Errors: platform.unknown, sim.not_initialized, sim.corrupt, platform.sim_dir_missing.
std::unique_ptr<EvidenceProvider> make_provider(const ProviderSpec& spec);

}  // namespace enarx::platform
