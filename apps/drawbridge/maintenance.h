// `drawbridge backup`, `restore` and `verify-store`: command-line wiring for
// src/drawbridge/backup.h (docs/drawbridge.md "Backup and restore").
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace enarx::drawbridge::cli {

class MaintenanceCommands {
 public:
  // Adds the three subcommands to `app`.
  explicit MaintenanceCommands(CLI::App& app);
  // True when one of them was given (after parsing).
  bool parsed() const;
  // Runs it: the exit code (maintenance_exit_code), errors reported on stderr.
  int run();

 private:
  CLI::App* backup_ = nullptr;
  CLI::App* restore_ = nullptr;
  CLI::App* verify_ = nullptr;
  std::string data_dir_, out_, from_, store_ = "sqlite", postgres_;
  bool quiet_ = false;
};

}  // namespace enarx::drawbridge::cli
