// enarx: run, deploy, publish and verify WebAssembly workloads in TEEs.
#include <algorithm>
#include <iostream>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "exit_codes.h"

namespace enarx::cli {
namespace {

struct Entry {
  int order;
  Registration fn;
};

std::vector<Entry>& registry() {
  static std::vector<Entry> entries;
  return entries;
}

int g_exit_code = exit_codes::kOk;

}  // namespace

CommandRegistrar::CommandRegistrar(int order, Registration fn) {
  registry().push_back({order, std::move(fn)});
}

void register_all(CLI::App& root) {
  std::stable_sort(registry().begin(), registry().end(),
                   [](const Entry& a, const Entry& b) { return a.order < b.order; });
  for (auto& e : registry()) e.fn(root);
}

void set_exit_code(int code) { g_exit_code = code; }
int exit_code() { return g_exit_code; }

}  // namespace enarx::cli

int main(int argc, char** argv) {
  CLI::App app{"enarx: run WebAssembly workloads in trusted execution environments, with remote "
               "attestation"};
  app.set_version_flag("--version", std::string("enarx ") + ENARX_VERSION);
  app.require_subcommand(1);
  enarx::cli::register_all(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return enarx::cli::exit_codes::kUsage;
  } catch (const enarx::Error& e) {
    std::cerr << "error: " << e.describe() << "\n";
    return enarx::cli::exit_codes::kFailure;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return enarx::cli::exit_codes::kFailure;
  }
  return enarx::cli::exit_code();
}
