// `enarx evidence verify`: verify raw hardware evidence (or a whole Enarx CSR) against the
// vendor roots and an optional policy, printing the attested claims.
#include "command.h"
#include "evidence_cli.h"
#include "exit_codes.h"

namespace enarx::cli {
namespace {

void register_evidence(CLI::App& root) {
  auto* evidence = root.add_subcommand("evidence", "Inspect and verify hardware attestation evidence");
  evidence->require_subcommand(1);
  auto args = std::make_shared<EvidenceVerifyArgs>();
  auto* verify = evidence->add_subcommand(
      "verify", "Verify an SEV-SNP report or an SGX/TDX quote (or a CSR carrying one)");
  verify->add_option("--platform", args->platform, "Evidence type")
      ->check(CLI::IsMember({"snp", "sgx", "tdx"}));
  verify->add_option("--report", args->report, "SEV-SNP attestation report (1184+ bytes; raw or hex)");
  verify->add_option("--vcek", args->vcek, "VCEK or VLEK certificate (DER or PEM)");
  verify->add_option("--chain", args->chain, "AMD ASK/ARK (or ASVK/ARK) chain as served by KDS");
  verify->add_option("--crl", args->crls, "CRL file (DER or PEM); repeatable");
  verify->add_option("--quote", args->quote, "SGX or TDX DCAP quote (raw or hex)");
  verify->add_option("--tcb-info", args->tcb_info, "Intel TCB info JSON as served by PCS");
  verify->add_option("--qe-identity", args->qe_identity, "Intel QE identity JSON as served by PCS");
  verify->add_option("--tcb-chain", args->tcb_chain, "Intel TCB signing chain (PEM)");
  verify->add_option("--collateral-dir", args->collateral_dir,
                     "Collateral cache directory (layout of `enarx platform ... cache`)");
  verify->add_option("--policy", args->policy, "Policy TOML (steward.toml sections)");
  verify->add_option("--csr", args->csr, "Enarx CSR (DER or PEM) carrying evidence");
  verify->add_option("--at", args->at, "Verify as of this RFC 3339 time instead of now");
  verify->add_flag("--json", args->json, "Print the claims (or the failure) as JSON");
  verify->callback([args] {
    if (!args->csr.empty()) {
      set_exit_code(evidence_verify_csr(*args));
    } else if (args->platform == "snp") {
      set_exit_code(evidence_verify_snp(*args));
    } else if (args->platform == "sgx" || args->platform == "tdx") {
      set_exit_code(evidence_verify_dcap(*args));
    } else {
      throw CLI::ValidationError("--platform", "give --platform snp|sgx|tdx, or --csr FILE");
    }
  });
}

ENARX_COMMAND(30, register_evidence);

}  // namespace
}  // namespace enarx::cli
