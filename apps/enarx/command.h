// Sub-command registration for the `enarx` CLI. Each cmd_*.cc file registers its commands with
// ENARX_COMMAND(order, fn); main.cc builds the CLI11 tree from them. This keeps the executable
// thin and lets each area own its own file.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace enarx::cli {

using Registration = std::function<void(CLI::App& root)>;

struct CommandRegistrar {
  CommandRegistrar(int order, Registration fn);
};

// Runs every registration in `order` (ties: registration order).
void register_all(CLI::App& root);

// Set by a sub-command's callback; main returns it.
void set_exit_code(int code);
int exit_code();

}  // namespace enarx::cli

#define ENARX_CLI_CONCAT2(a, b) a##b
#define ENARX_CLI_CONCAT(a, b) ENARX_CLI_CONCAT2(a, b)
#define ENARX_COMMAND(order, fn) \
  static ::enarx::cli::CommandRegistrar ENARX_CLI_CONCAT(enarx_cmd_, __LINE__)(order, fn)
