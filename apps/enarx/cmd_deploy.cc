// `enarx deploy <slug>[@<alg>:<hex>]`: attest, fetch over mutual TLS, verify, run.
#include <iostream>

#include "cli_util.h"
#include "client/deploy.h"
#include "command.h"

namespace enarx::cli {
namespace {

int exit_code_for_step(client::DeployStep step) {
  switch (step) {
    case client::DeployStep::Slug: return exit_codes::kDeploySlug;
    case client::DeployStep::Metadata: return exit_codes::kDeployMetadata;
    case client::DeployStep::DigestPin: return exit_codes::kDeployDigestPin;
    case client::DeployStep::Signature: return exit_codes::kDeploySignature;
    case client::DeployStep::Platform: return exit_codes::kDeployPlatform;
    case client::DeployStep::Attestation: return exit_codes::kDeployAttestation;
    case client::DeployStep::Fetch: return exit_codes::kDeployFetch;
    case client::DeployStep::Run: return exit_codes::kDeployRun;
  }
  return exit_codes::kFailure;
}

void register_deploy(CLI::App& root) {
  struct Args {
    client::DeployOptions opts;
    RegistryFlags reg;
    std::string steward_ca, steward_identity_ca, workload_ca, platform, sim_dir;
    double time_limit = 0;
    double cpu_limit = 0;
    std::uint64_t max_memory_mib = 0;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("deploy", "Attest, fetch and run a published workload: [host/]user/repo:tag[@alg:hex]");
  cmd->add_option("package", a->opts.package, "Package slug, optionally pinned: host/user/repo:tag@sha-256:<hex>, or file://<dir> for a local package directory")
      ->required();
  cmd->add_option("--steward", a->opts.steward_url, "Steward URL (default: the signed tag's, else the repository's, else the registry's default, else the package's Enarx.toml `steward`)")
      ->envname("ENARX_STEWARD");
  cmd->add_option("--steward-ca", a->steward_ca, "PEM CA bundle to trust for steward's HTTPS (not its keep CA)");
  cmd->add_option("--steward-identity-ca", a->steward_identity_ca,
                  "PEM CA bundle the issued keep certificate must chain to (steward's keep CA)")
      ->envname("ENARX_STEWARD_IDENTITY_CA");
  cmd->add_option("--signer", a->opts.signer,
                  "Require the tag to be signed by this publisher key (PEM file) or fingerprint (hex)");
  cmd->add_flag("--self-signed", a->opts.self_signed, "Do not attest: use a self-signed certificate");
  cmd->add_option("--platform", a->platform, "auto | nil | kvm | snp | tdx | sgx | sim-snp | sim-tdx | sim-sgx")->envname("ENARX_PLATFORM");
  cmd->add_option("--sim-dir", a->sim_dir, "Simulated platform directory (enarx platform sim init)")
      ->envname("ENARX_SIM_DIR");
  cmd->add_option("--workload-ca", a->workload_ca, "PEM CA bundle for the workload's connect+tls sockets");
  cmd->add_option("--time-limit", a->time_limit, "Stop the workload after this many seconds")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cpu-limit", a->cpu_limit,
                  "Stop the workload once its thread has used this many seconds of CPU time")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-memory", a->max_memory_mib, "Maximum linear memory in MiB");
  cmd->add_flag("--quiet,-q", a->quiet, "Do not narrate the steps");
  a->reg.add_to(cmd);
  cmd->callback([a] {
    auto& o = a->opts;
    try {
      const auto trust = a->reg.trust();
      o.registry_ca_pem = trust.replace_pem;
      o.extra_ca_pem = trust.extra_pem;
      o.system_roots = trust.system_roots;
      o.token = a->reg.resolved_token();
      if (!a->steward_ca.empty()) o.steward_ca_pem = read_text_file(a->steward_ca);
      if (!a->steward_identity_ca.empty()) o.steward_identity_ca_pem = read_text_file(a->steward_identity_ca);
      if (!a->workload_ca.empty()) o.workload_ca_pem = read_text_file(a->workload_ca);
    } catch (const Error& e) {
      set_exit_code(report_error(e));
      return;
    }
    if (!a->platform.empty()) o.platform.platform = a->platform;
    if (!a->sim_dir.empty()) o.platform.sim_dir = a->sim_dir;
    o.run.time_limit = seconds_limit(a->time_limit);
    o.run.cpu_time_limit = seconds_limit(a->cpu_limit);
    if (a->max_memory_mib > 0) o.run.max_memory = a->max_memory_mib << 20;
    bool quiet = a->quiet;
    o.on_step = [quiet](client::DeployStep step, const std::string& msg) {
      if (!quiet) std::cerr << "[" << client::to_string(step) << "] " << msg << "\n";
    };
    o.run.on_listening = [quiet](const std::vector<runtime::ListenInfo>& ls) {
      if (quiet) return;
      for (const auto& l : ls)
        std::cerr << "[run] listening: " << l.name << " port " << l.port << " ("
                  << runtime::to_string(l.prot) << ")\n";
    };
    try {
      auto outcome = client::deploy(o);
      const auto& r = outcome.result;
      // As `enarx run`: stderr may be full of the workload's output, nobody reading it.
      if (r.status != runtime::RunResult::Status::Exited)
        runtime::write_within(2,
                              "[run] " + std::string(runtime::to_string(r.status)) + ": " +
                                  r.message + "\n",
                              std::chrono::seconds(1));
      set_exit_code(r.exit_code);
    } catch (const client::DeployError& e) {
      std::cerr << "deploy failed at step '" << client::to_string(e.step()) << "': " << e.describe() << "\n";
      set_exit_code(exit_code_for_step(e.step()));
    }
  });
}

ENARX_COMMAND(20, register_deploy);

}  // namespace
}  // namespace enarx::cli
