// The steward process: configuration keys (TOML > env > flags), start-up (CA, policy, audit log,
// TLS), serving and shutdown. apps/steward/main.cc is only argument parsing around this.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "net/tls.h"
#include "steward/ca.h"
#include "steward/policy.h"

namespace enarx::steward {

// Declares every configuration key (docs/steward.md "Configuration") and skips the policy
// tables ([snp], [sgx], [tdx], [issuance], [simulated]) that Policy parses.
void declare_config(config::Loader& loader);

// Runs steward until SIGTERM/SIGINT. `config_file` is the TOML file the configuration came from
// (it may also hold the policy tables). Returns the process exit code; start-up errors are
// logged and give 1.
// Steward's own HTTPS certificate when none is configured (development; production passes
// --tls-cert/--tls-key): a server certificate for `hostnames` from a separate CA kept in
// <state_dir>/tls/ (ca.key 0600, ca.crt: what clients pass as `enarx deploy --steward-ca`),
// never from the CA that signs keep identities. Keep certificates are valid TLS server
// certificates under the keep CA, so if that CA also vouched for steward, a keep granted a DNS
// name could pose as steward to every client that trusts it (docs/steward.md "Trust rules").
net::TlsServerConfig development_https(const std::filesystem::path& state_dir,
                                       const std::string& ca_common_name,
                                       const std::vector<std::string>& hostnames, const Clock& clock);

// A configured HTTPS certificate chain must not be, or be issued by, the keep CA:
// Error("steward.tls.keep_ca"); Error("steward.tls.no_certificate") for an empty chain.
void refuse_keep_ca_https(const net::TlsServerConfig& tls, const CertificateAuthority& keep_ca);

// The URL every keep certificate names as its steward (claims "steward"): server.public_url,
// else https://<first server.hostnames>:<port> (http:// when `tls` is off).
std::string public_url(const config::Config& config, std::uint16_t port, bool tls);

// The policy in force: --policy, else the policy tables of the --config file, with the
// command-line overrides (--allow-insecure, --san).
Policy load_policy(const config::Config& config,
                   const std::optional<std::filesystem::path>& config_file);
// index.location, else <ca.state_dir>/index.sqlite3.
std::string index_location(const config::Config& config);

int run_service(const config::Config& config,
                const std::optional<std::filesystem::path>& config_file);

}  // namespace enarx::steward
