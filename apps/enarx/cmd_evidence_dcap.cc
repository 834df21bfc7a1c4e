// `enarx evidence verify --platform sgx|tdx ...`: verify an Intel DCAP quote with its collateral
// (files, a cache directory, or Enarx SgxEvidence from a CSR) against the pinned Intel root and
// an optional policy, printing the claims or the failed check.
#include <iostream>
#include <optional>

#include "attest/enarx/oids.h"
#include "attest/dcap/appraise.h"
#include "attest/dcap/collateral.h"
#include "attest/dcap/pck.h"
#include "attest/dcap/policy.h"
#include "attest/dcap/verify.h"
#include "attest/enarx/sgx_evidence.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "evidence_cli.h"
#include "exit_codes.h"

namespace enarx::cli {

namespace dcap = enarx::attest::dcap;

namespace {

void print_error(const Error& e, bool json) {
  if (json) {
    nlohmann::json out = {{"accepted", false}, {"error", {{"code", e.code()}, {"message", e.what()}}}};
    std::cout << out.dump(2) << "\n";
  }
  std::cerr << "error: " << e.describe() << "\n";
}

// --tcb-info accepts the PCS document ({"tcbInfo":...}) or a whole dcap-qvl collateral JSON.
void add_tcb_info_file(const std::string& path, dcap::Collateral& c) {
  const std::string text = read_text_file(path, 16u << 20);
  if (dcap::json_member_span(text, "tcb_info")) {
    dcap::Collateral all = dcap::parse_dcap_qvl_collateral(text);
    c.tcb_info = all.tcb_info;
    if (all.qe_identity) c.qe_identity = all.qe_identity;
    for (auto& cert : all.tcb_signing_chain) c.tcb_signing_chain.push_back(cert);
    for (auto& crl : all.crls) c.crls.push_back(crl);
    return;
  }
  c.tcb_info = dcap::parse_tcb_info_document(text);
}

// The FMSPC names the TCB info file in a collateral directory; it comes from the (not yet
// verified) PCK certificate, which verification then checks against the TCB info.
Bytes quote_fmspc(const dcap::Quote& q) {
  std::string text(as_string(q.cert_data));
  const auto end = text.rfind("-----END CERTIFICATE-----");
  if (end == std::string::npos) throw Error(ErrorKind::kInvalidInput, "dcap.pck.chain_malformed", "no PEM certificate in the quote");
  const auto chain = Certificate::chain_from_pem(text.substr(0, end + 25));
  if (chain.empty()) throw Error(ErrorKind::kInvalidInput, "dcap.pck.chain_malformed", "no PEM certificate in the quote");
  return dcap::parse_pck_extension(chain.front()).fmspc;
}

template <typename Policy>
Policy load_policy(const EvidenceVerifyArgs& args, const char* section) {
  if (args.policy.empty()) return Policy{};
  toml::table doc;
  try {
    doc = toml::parse(read_text_file(args.policy));
  } catch (const toml::parse_error& e) {
    throw Error(ErrorKind::kInvalidInput, "dcap.policy.invalid", args.policy + ": " + std::string(e.description()));
  }
  if (const auto* t = doc[section].as_table()) return Policy::from_toml(*t);
  return Policy{};
}

void print_summary(const nlohmann::json& c) {
  const bool tdx = c["platform"] == "tdx";
  std::cout << "verified: " << (tdx ? "Intel TDX" : "Intel SGX") << " quote v" << c["quote_version"].get<int>()
            << (c["simulated"].get<bool>() ? " (SIMULATED)" : "") << "\n"
            << "measurement: " << c["measurement"].get<std::string>() << "\n"
            << "signer: " << (c["signer"].is_null() ? std::string("-") : c["signer"].get<std::string>()) << "\n"
            << "tcb_status: " << (c["tcb_status"].is_null() ? std::string("-") : c["tcb_status"].get<std::string>())
            << "\n"
            << "advisory_ids: " << c["advisory_ids"].dump() << "\n"
            << "debug: " << (c["debug"].get<bool>() ? "yes" : "no") << "\n"
            << "report_data: " << c["report_data"].get<std::string>() << "\n"
            << "verified_at: " << c["verified_at"].get<std::string>() << "\n";
}

int verify_and_print(const dcap::Quote& quote, const dcap::Collateral& collateral,
                     const std::optional<Bytes>& spki, const EvidenceVerifyArgs& args) {
  const TimePoint at = args.at.empty() ? system_clock()->now() : parse_rfc3339(args.at);
  attest::Appraisal appraisal;
  if (quote.is_tdx()) {
    const auto policy = load_policy<dcap::TdxPolicy>(args, "tdx");
    const auto v = dcap::verify_quote(quote, collateral, dcap::TrustStore::intel(), policy.verify_options(at));
    appraisal = dcap::appraise(v, policy, spki ? std::optional<ByteView>(*spki) : std::nullopt);
  } else {
    const auto policy = load_policy<dcap::SgxPolicy>(args, "sgx");
    const auto v = dcap::verify_quote(quote, collateral, dcap::TrustStore::intel(), policy.verify_options(at));
    appraisal = dcap::appraise(v, policy, spki ? std::optional<ByteView>(*spki) : std::nullopt);
  }
  if (appraisal.accepted()) {
    if (args.json) {
      std::cout << appraisal.claims.dump(2) << "\n";
    } else {
      print_summary(appraisal.claims);
    }
    return exit_codes::kOk;
  }
  if (args.json) {
    nlohmann::json out = {{"accepted", false}, {"failures", nlohmann::json::array()}, {"claims", appraisal.claims}};
    for (const auto& f : appraisal.failures) out["failures"].push_back({{"code", f.code}, {"message", f.message}});
    std::cout << out.dump(2) << "\n";
  }
  for (const auto& f : appraisal.failures) std::cerr << "policy: " << f.code << ": " << f.message << "\n";
  return exit_codes::kPolicy;
}

void add_file_collateral(const EvidenceVerifyArgs& args, dcap::Collateral& c) {
  if (!args.tcb_info.empty()) add_tcb_info_file(args.tcb_info, c);
  if (!args.qe_identity.empty()) {
    c.qe_identity = dcap::parse_enclave_identity_document(read_text_file(args.qe_identity, 4u << 20));
  }
  if (!args.tcb_chain.empty()) {
    const Bytes data = read_file(args.tcb_chain, 1u << 20);
    if (is_pem(data)) {
      for (auto& cert : Certificate::chain_from_pem(as_string(data))) c.tcb_signing_chain.push_back(cert);
    } else {
      c.tcb_signing_chain.push_back(Certificate::from_der(data));
    }
  }
  for (const auto& path : args.crls) c.crls.push_back(dcap::load_crl_file(path));
}

}  // namespace

int evidence_verify_dcap(const EvidenceVerifyArgs& args) {
  try {
    if (args.quote.empty()) {
      throw Error(ErrorKind::kInvalidInput, "cli.missing_quote", "--platform " + args.platform + " needs --quote FILE (or use --csr FILE)");
    }
    const dcap::Quote quote = dcap::parse_quote(dcap::decode_quote_file(read_file(args.quote, 1u << 20)));
    if (quote.is_tdx() != (args.platform == "tdx")) {
      throw Error(ErrorKind::kUntrusted, "dcap.quote.platform_mismatch", "--platform " + args.platform + " but the quote is " +
                                                      (quote.is_tdx() ? "a TDX" : "an SGX") + " quote");
    }
    dcap::Collateral collateral;
    if (!args.collateral_dir.empty()) {
      collateral = dcap::load_collateral_dir(args.collateral_dir, quote_fmspc(quote), quote.is_tdx());
    }
    add_file_collateral(args, collateral);
    return verify_and_print(quote, collateral, std::nullopt, args);
  } catch (const Error& e) {
    print_error(e, args.json);
    return exit_code_for(e);
  }
}

}  // namespace enarx::cli
