// steward's administrative commands, run against the same configuration as the server (they
// open its index; with PostgreSQL, the index every replica shares):
//   steward revoke  --serial S | <selector> --reason R [--detail T] [--dry-run]
//   steward list    [<selector>] [--all] [--json] [--limit N]
//   steward reevaluate [--dry-run] [--json]
// Exit codes (docs/steward.md "Exit codes"): 0 done, 1 failure (index unreachable, ...),
// 2 bad usage or configuration, 3 nothing matched (unknown serial, empty result of a selector).
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "core/config.h"
#include "steward/index/cert_index.h"

namespace enarx::steward {

struct RevokeCommand {
  CertSelector selector;  // serial alone, or any combination of the attested facts
  std::string reason = "unspecified";
  std::string detail;
  bool dry_run = false;  // list what matches; change nothing
};

struct ListCommand {
  CertSelector selector;
  bool include_revoked = false;
  bool json = false;
  std::size_t limit = 1000;
};

struct ReevaluateCommand {
  bool dry_run = false;
  bool json = false;
};

int run_revoke(const config::Config& config, const RevokeCommand& command, std::ostream& out);
int run_list(const config::Config& config, const ListCommand& command, std::ostream& out);
int run_reevaluate(const config::Config& config,
                   const std::optional<std::filesystem::path>& config_file,
                   const ReevaluateCommand& command, std::ostream& out);

}  // namespace enarx::steward
