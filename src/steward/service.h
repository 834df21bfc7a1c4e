// The steward process: configuration keys (TOML > env > flags), start-up (CA, policy, audit log,
// TLS), serving and shutdown. apps/steward/main.cc is only argument parsing around this.
#pragma once

#include <filesystem>
#include <optional>

#include "core/config.h"

namespace enarx::steward {

// Declares every configuration key (docs/steward.md "Configuration") and skips the policy
// tables ([snp], [sgx], [tdx], [issuance], [simulated]) that Policy parses.
void declare_config(config::Loader& loader);

// Runs steward until SIGTERM/SIGINT. `config_file` is the TOML file the configuration came from
// (it may also hold the policy tables). Returns the process exit code; start-up errors are
// logged and give 1.
int run_service(const config::Config& config,
                const std::optional<std::filesystem::path>& config_file);

}  // namespace enarx::steward
