// steward: the attestation server and certificate authority. Argument parsing only; the service
// and the administrative commands live in src/steward (service.h, admin.h). See docs/steward.md.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

#include "core/error.h"
#include "steward/admin.h"
#include "steward/service.h"

namespace {

// The attested facts a revocation or a listing can select by (all must match).
void add_selector(CLI::App* cmd, enarx::steward::CertSelector& s) {
  cmd->add_option("--serial", s.serial, "Certificate serial number (hex, as openssl prints it)");
  cmd->add_option("--platform", s.platform, "kvm | snp | sgx | tdx");
  cmd->add_option("--measurement", s.measurement, "Launch measurement (hex)");
  cmd->add_option("--signer", s.signer, "Runtime signer (hex: SNP author key digest, SGX MRSIGNER)");
  cmd->add_option("--chip-id", s.chip_id, "SNP CHIP_ID (hex)");
  cmd->add_option("--ppid", s.ppid, "SGX/TDX PCK PPID (hex)");
  cmd->add_option("--fmspc", s.fmspc, "SGX/TDX FMSPC (hex)");
  cmd->add_option("--tcb-status", s.tcb_status, "TCB status at issuance, e.g. OutOfDate");
  cmd->add_option("--keep-identity", s.keep_identity, "Keep identity (hex, as in the certificate)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "steward: verifies hardware attestation evidence in PKCS#10 CSRs and issues X.509 "
      "certificates (Enarx Steward wire protocol); without a command it serves.\n"
      "Configuration precedence: flags > environment > --config TOML > defaults."};
  app.set_version_flag("--version", std::string("steward ") + ENARX_VERSION);
  app.fallthrough();  // server options (--config, --index, ...) also after a command
  std::string config_file;
  app.add_option("--config", config_file,
                 "TOML configuration ([server] [tls] [ca] [policy] [audit] [index] [revocation] "
                 "[log]) which may also hold the policy tables ([snp] [sgx] [tdx] [issuance] "
                 "[simulated]); an Enarx steward.toml works as is")
      ->envname("STEWARD_CONFIG");
  bool print_config = false;
  app.add_flag("--print-config", print_config, "Print the resolved configuration and exit");
  enarx::config::Loader loader;
  enarx::steward::declare_config(loader);
  loader.bind(app);

  enarx::steward::RevokeCommand revoke;
  auto* revoke_cmd = app.add_subcommand(
      "revoke",
      "Revoke certificates in the index (every replica sees it): one by --serial, or every "
      "unexpired one matching all the given selectors");
  add_selector(revoke_cmd, revoke.selector);
  revoke_cmd->add_option("--reason", revoke.reason,
                         "RFC 5280 reason: unspecified, keyCompromise, cACompromise, "
                         "affiliationChanged, superseded, cessationOfOperation, "
                         "privilegeWithdrawn, aACompromise")
      ->capture_default_str();
  revoke_cmd->add_option("--detail", revoke.detail, "Why (recorded in the audit trail)");
  revoke_cmd->add_flag("--dry-run", revoke.dry_run, "List what would be revoked; change nothing");

  enarx::steward::ListCommand list;
  auto* list_cmd = app.add_subcommand("list", "List unexpired issued certificates");
  add_selector(list_cmd, list.selector);
  list_cmd->add_flag("--all", list.include_revoked, "Include revoked certificates");
  list_cmd->add_flag("--json", list.json, "JSON output");
  list_cmd->add_option("--limit", list.limit, "At most this many (1..10000)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();

  enarx::steward::ReevaluateCommand reevaluate;
  auto* reevaluate_cmd = app.add_subcommand(
      "reevaluate",
      "Judge every unexpired certificate's evidence again under the current policy and "
      "collateral, and revoke those whose platform no longer passes");
  reevaluate_cmd->add_flag("--dry-run", reevaluate.dry_run, "List what would be revoked; change nothing");
  reevaluate_cmd->add_flag("--json", reevaluate.json, "JSON report");
  app.require_subcommand(0, 1);
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
  if (*revoke_cmd) return enarx::steward::run_revoke(cfg, revoke, std::cout);
  if (*list_cmd) return enarx::steward::run_list(cfg, list, std::cout);
  if (*reevaluate_cmd) return enarx::steward::run_reevaluate(cfg, file, reevaluate, std::cout);
  return enarx::steward::run_service(cfg, file);
}
