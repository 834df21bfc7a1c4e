// steward: the attestation server and certificate authority. Argument parsing only; the service
// lives in src/steward (service.h). See docs/steward.md.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

#include "core/error.h"
#include "steward/service.h"

int main(int argc, char** argv) {
  CLI::App app{
      "steward: verifies hardware attestation evidence in PKCS#10 CSRs and issues X.509 "
      "certificates (Enarx Steward wire protocol).\n"
      "Configuration precedence: flags > environment > --config TOML > defaults."};
  app.set_version_flag("--version", std::string("steward ") + ENARX_VERSION);
  std::string config_file;
  app.add_option("--config", config_file,
                 "TOML configuration ([server] [tls] [ca] [policy] [audit] [log]) which may also "
                 "hold the policy tables ([snp] [sgx] [tdx] [issuance] [simulated]); an Enarx "
                 "steward.toml works as is")
      ->envname("STEWARD_CONFIG");
  bool print_config = false;
  app.add_flag("--print-config", print_config, "Print the resolved configuration and exit");
  enarx::config::Loader loader;
  enarx::steward::declare_config(loader);
  loader.bind(app);
  CLI11_PARSE(app, argc, argv);

  std::optional<std::filesystem::path> file;
  if (!config_file.empty()) file = config_file;
  enarx::config::Config cfg;
  try {
    cfg = loader.load(file);
  } catch (const enarx::Error& e) {
    std::cerr << "steward: " << e.describe() << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << cfg.dump();
    return 0;
  }
  return enarx::steward::run_service(cfg, file);
}
