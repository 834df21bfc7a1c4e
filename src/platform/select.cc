#include "platform/select.h"

#include <cstdlib>

#include "core/error.h"
#include "platform/detect.h"
#include "simulation/platforms.h"
#include "platform/tee_interfaces.h"

namespace enarx::platform {

ProviderSpec spec_from_env(ProviderSpec s) {
  if (s.platform.empty() || s.platform == "auto") {
    if (const char* p = std::getenv("ENARX_PLATFORM"); p && *p) s.platform = p;
  }
  if (s.platform.empty()) s.platform = "auto";
  if (s.sim_dir.empty()) {
    if (const char* d = std::getenv("ENARX_SIM_DIR"); d && *d) s.sim_dir = d;
  }
  return s;
}

std::unique_ptr<EvidenceProvider> make_provider(const ProviderSpec& spec) {
  std::string name = spec.platform.empty() ? "auto" : spec.platform;
  if (name.rfind("sim-", 0) == 0) {
    require(!spec.sim_dir.empty(), ErrorKind::kInvalidInput, "platform.sim_dir_missing",
            "--platform " + name + " needs --sim-dir DIR (or ENARX_SIM_DIR); create one with "
            "`enarx platform sim init DIR`");
    if (name == "sim-snp") return sim::make_sim_snp_provider(spec.sim_dir);
    if (name == "sim-tdx") return sim::make_sim_tdx_provider(spec.sim_dir);
    if (name == "sim-sgx") return sim::make_sim_sgx_provider(spec.sim_dir);
    throw Error(ErrorKind::kInvalidInput, "platform.unknown", "unknown simulated platform '" + name + "' (sim-snp, sim-tdx, sim-sgx)");
  }
  Platform p = name == "auto" ? detect(spec.root).selected : platform_from_string(name);
  switch (p) {
    case Platform::Snp: return make_snp_provider(spec.root);
    case Platform::Tdx: return make_tdx_provider(spec.root);
    case Platform::Sgx: return make_sgx_provider(spec.root);
    case Platform::Kvm:
    case Platform::Nil: return make_no_tee_provider(p);
  }
  throw Error(ErrorKind::kInvalidInput, "platform.unknown", "unknown platform");
}

}  // namespace enarx::platform
