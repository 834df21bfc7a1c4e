// `enarx evidence verify --platform snp ...`: verify a raw SEV-SNP report with its VCEK/VLEK
// (and optional chain, CRLs, policy, time) and print the claims, or the failed check.
#include <iostream>
#include <optional>

#include "attest/snp/appraise.h"
#include "attest/snp/policy.h"
#include "attest/snp/verify.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "evidence_cli.h"
#include "exit_codes.h"

namespace enarx::cli {

namespace snp = enarx::attest::snp;

namespace {

std::vector<Certificate> read_certs(const std::string& path) {
  const Bytes data = read_file(path);
  if (is_pem(data)) return Certificate::chain_from_pem(as_string(data));
  try {
    return {Certificate::from_der(data)};
  } catch (const Error&) {
    return Certificate::chain_from_der_sequence(data);
  }
}

void print_error(const Error& e, bool json) {
  if (json) {
    nlohmann::json out = {{"accepted", false},
                          {"error", {{"code", e.code()}, {"message", e.what()}}}};
    std::cout << out.dump(2) << "\n";
  }
  std::cerr << "error: " << e.describe() << "\n";
}

}  // namespace

// Verify, appraise, print; returns the exit code.
static int snp_verify_and_print(const Bytes& report, const snp::Collateral& collateral,
                                const EvidenceVerifyArgs& args) {
  try {
    snp::Policy policy = snp::Policy::strict();
    if (!args.policy.empty()) {
      policy = snp::Policy::from_toml_file_text(read_text_file(args.policy));
    }
    const TimePoint at = args.at.empty() ? system_clock()->now() : parse_rfc3339(args.at);
    const snp::Verifier verifier;
    const snp::Verified verified = verifier.verify(report, collateral, policy.verify_options(at));
    const attest::Appraisal appraisal = snp::appraise(verified, policy);
    if (appraisal.accepted()) {
      if (args.json) {
        std::cout << appraisal.claims.dump(2) << "\n";
      } else {
        const auto& c = appraisal.claims;
        std::cout << "verified: SEV-SNP evidence (" << c["snp"]["product"].get<std::string>() << ", "
                  << c["snp"]["signing_key"].get<std::string>()
                  << (c["simulated"].get<bool>() ? ", SIMULATED" : "") << ")\n"
                  << "measurement: " << c["measurement"].get<std::string>() << "\n"
                  << "report_data: " << c["report_data"].get<std::string>() << "\n"
                  << "debug: " << (c["debug"].get<bool>() ? "yes" : "no") << "\n"
                  << "reported_tcb: " << c["snp"]["tcb"]["reported"].dump() << "\n"
                  << "verified_at: " << c["verified_at"].get<std::string>() << "\n";
      }
      return exit_codes::kOk;
    }
    if (args.json) {
      nlohmann::json out = {{"accepted", false},
                            {"failures", nlohmann::json::array()},
                            {"claims", appraisal.claims}};
      for (const auto& f : appraisal.failures) {
        out["failures"].push_back({{"code", f.code}, {"message", f.message}});
      }
      std::cout << out.dump(2) << "\n";
    }
    for (const auto& f : appraisal.failures) {
      std::cerr << "policy: " << f.code << ": " << f.message << "\n";
    }
    return exit_codes::kPolicy;
  } catch (const Error& e) {
    print_error(e, args.json);
    return exit_code_for(e);
  }
}

int snp_error_exit(const Error& e, bool json) {
  print_error(e, json);
  return exit_code_for(e);
}

int evidence_verify_snp(const EvidenceVerifyArgs& args) {
  try {
    if (args.report.empty()) {
      throw Error(ErrorKind::kInvalidInput, "cli.missing_report", "--platform snp needs --report FILE (or use --csr FILE)");
    }
    const Bytes report = snp::decode_report_file(read_file(args.report));
    snp::Collateral collateral;
    if (args.vcek.empty()) {
      throw Error(ErrorKind::kUntrusted, "snp.vcek.missing", "give the VCEK or VLEK with --vcek FILE (DER or PEM)");
    }
    // A PEM bundle (e.g. Azure's VCEK+ASK+ARK) may be given as --vcek: the first certificate is
    // the VCEK, the others count as --chain.
    auto vcek_certs = read_certs(args.vcek);
    if (vcek_certs.empty()) throw Error(ErrorKind::kInvalidInput, "snp.vcek.malformed", "no certificate in " + args.vcek);
    collateral.vcek_der = vcek_certs.front().to_der();
    for (std::size_t i = 1; i < vcek_certs.size(); ++i) collateral.chain.push_back(vcek_certs[i]);
    if (!args.chain.empty()) {
      for (auto& c : read_certs(args.chain)) collateral.chain.push_back(std::move(c));
    }
    for (const auto& path : args.crls) collateral.crls.push_back(Crl::from_bytes(read_file(path)));
    return snp_verify_and_print(report, collateral, args);
  } catch (const Error& e) {
    return snp_error_exit(e, args.json);
  }
}

}  // namespace enarx::cli
