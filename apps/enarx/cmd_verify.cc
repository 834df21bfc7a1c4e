// `enarx verify`: a relying party checks a keep's certificate (from a PEM file or straight from
// its TLS endpoint) against the steward CA and its expectations.
#include <filesystem>
#include <iostream>

#include "command.h"
#include "client/trust.h"
#include "core/error.h"
#include "core/file.h"
#include "core/x509.h"
#include "exit_codes.h"
#include "steward/replay.h"
#include "verify/verify.h"

namespace enarx::cli {
namespace {

struct VerifyArgs {
  std::string target;
  std::vector<std::string> ca_files;
  verify::Expectations expect;
  std::string expect_slug, expect_digest, expect_app_digest, expect_config_digest, expect_signer, expect_measurement;
  std::string at;
  bool json = false;
  int timeout_seconds = 10;
  bool offline = false;
  std::string policy_file;
  std::vector<std::string> crl_files;
  bool no_revocation_check = false;
  std::string revocation_ca;
};

// --crl / --no-revocation-check / --revocation-ca: how the leaf's revocation is checked
// (verify.h RevocationOptions). https revocation services are trusted like steward and
// drawbridge URLs: the embedded web roots unless --revocation-ca names others, never the
// host's store.
verify::RevocationOptions revocation_options(const VerifyArgs& a) {
  verify::RevocationOptions out;
  out.enabled = !a.no_revocation_check;
  for (const auto& f : a.crl_files) out.status.crls.push_back(Crl::from_bytes(read_file(f, out.status.max_crl_size)));
  out.status.fetch.timeout = std::chrono::seconds(a.timeout_seconds);
  out.status.fetch.ca_pem = a.revocation_ca.empty() ? client::embedded_roots().pem : read_text_file(a.revocation_ca);
  return out;
}

// --offline: re-run the attestation from the evidence inside the certificate, under `policy`,
// at the verification time steward recorded, and compare with what steward claimed.
nlohmann::json replay_offline(const Certificate& leaf, const std::string& policy_file, bool& accepted) {
  const steward::Policy policy =
      policy_file.empty() ? steward::Policy::parse("") : steward::Policy::load(policy_file, true);
  const steward::ReplayResult r = steward::replay(leaf, policy);
  accepted = r.accepted;
  return {{"accepted", r.accepted},
          {"mismatches", r.mismatches},
          {"policy", policy_file.empty() ? "(built-in defaults)" : policy_file},
          {"verified_at", r.recorded_claims.value("verified_at", nlohmann::json())}};
}

// "host:port" (or "[v6]:port") unless it names an existing file.
bool split_endpoint(const std::string& target, std::string& host, int& port) {
  if (std::filesystem::exists(target)) return false;
  auto colon = target.rfind(':');
  if (colon == std::string::npos || colon + 1 == target.size()) return false;
  std::string port_text = target.substr(colon + 1);
  if (port_text.find_first_not_of("0123456789") != std::string::npos) return false;
  host = target.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  port = std::stoi(port_text);
  return port > 0 && port < 65536 && !host.empty();
}

int run_verify(VerifyArgs& a) {
  try {
    std::vector<Certificate> cas;
    for (const auto& f : a.ca_files) {
      auto certs = Certificate::chain_from_pem(read_text_file(f));
      require(!certs.empty(), ErrorKind::kPolicyRejected, "verify.no_trust_anchor", "no certificate in " + f);
      cas.insert(cas.end(), certs.begin(), certs.end());
    }
    std::vector<Certificate> chain;
    std::string host;
    int port = 0;
    if (split_endpoint(a.target, host, port)) {
      chain = verify::fetch_peer_chain(host, port, std::chrono::seconds(a.timeout_seconds));
    } else {
      chain = Certificate::chain_from_pem(read_text_file(a.target));
      require(!chain.empty(), ErrorKind::kInvalidInput, "verify.no_certificate", "no certificate in " + a.target);
    }
    if (!a.expect_slug.empty()) a.expect.slug = a.expect_slug;
    if (!a.expect_digest.empty()) a.expect.digest = a.expect_digest;
    if (!a.expect_app_digest.empty()) a.expect.app_digest = a.expect_app_digest;
    if (!a.expect_config_digest.empty()) a.expect.config_digest = a.expect_config_digest;
    if (!a.expect_signer.empty()) a.expect.signer = a.expect_signer;
    if (!a.expect_measurement.empty()) a.expect.measurement = a.expect_measurement;
    TimePoint at = a.at.empty() ? std::chrono::system_clock::now() : parse_rfc3339(a.at);
    auto peer = verify::verify_peer(chain, cas, at, a.expect, revocation_options(a));
    nlohmann::json replay;
    bool replay_accepted = true;
    if (a.offline) replay = replay_offline(chain.front(), a.policy_file, replay_accepted);
    if (a.json) {
      auto out = peer.to_json();
      if (a.offline) out["replay"] = replay;
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "verified: " << a.target << "\n" << peer.to_text();
      if (a.offline) {
        std::cout << "offline replay:  " << (replay_accepted ? "evidence re-verified, matches the claims" : "MISMATCH")
                  << " (policy " << replay["policy"].get<std::string>() << ")\n";
        for (const auto& m : replay["mismatches"]) std::cout << "  - " << m.get<std::string>() << "\n";
      }
    }
    if (!replay_accepted) {
      std::cerr << "verification failed: verify.replay_mismatch: the evidence in the certificate does not "
                   "support what steward claimed\n";
      return exit_codes::kVerification;
    }
    return exit_codes::kOk;
  } catch (const Error& e) {
    if (a.json) {
      std::cout << nlohmann::json{{"verified", false}, {"code", e.code()}, {"message", e.what()}}.dump(2)
                << "\n";
    }
    std::cerr << "verification failed: " << e.describe() << "\n";
    return exit_code_for(e);
  }
}

void register_verify(CLI::App& root) {
  auto a = std::make_shared<VerifyArgs>();
  auto* cmd = root.add_subcommand(
      "verify", "Verify a keep's attested certificate (relying party): PEM chain file or host:port");
  cmd->add_option("target", a->target, "PEM certificate chain (leaf first) or host:port to connect to")
      ->required();
  cmd->add_option("--ca", a->ca_files, "Steward CA certificate(s) to trust (PEM); repeatable")
      ->required();
  cmd->add_option("--expect-slug", a->expect_slug, "Require this [host/]user/repo[:tag]");
  cmd->add_option("--expect-digest", a->expect_digest, "Require this workload digest (<alg>:<hex> or hex)");
  cmd->add_option("--expect-app-digest", a->expect_app_digest,
                  "Require this application digest (sha-256:<hex> or hex: SHA-256 of main.wasm), any configuration");
  cmd->add_option("--expect-config-digest", a->expect_config_digest,
                  "Require this configuration digest (sha-256:<hex> or hex; docs/oids.md)");
  cmd->add_option("--expect-signer", a->expect_signer, "Require this publisher key fingerprint (hex)");
  cmd->add_option("--expect-measurement", a->expect_measurement, "Require this launch measurement (hex)");
  cmd->add_flag("--allow-simulated", a->expect.allow_simulated,
                "Accept keeps attested by a simulated platform (test roots)");
  cmd->add_flag("--allow-insecure", a->expect.allow_insecure,
                "Accept certificates issued without hardware attestation (KVM/nil)");
  cmd->add_option("--at", a->at, "Check validity at this RFC 3339 time instead of now");
  cmd->add_option("--timeout", a->timeout_seconds, "Connect/handshake timeout in seconds")->default_val(10);
  cmd->add_flag("--json", a->json, "Print the verified identity (or the failure) as JSON");
  cmd->add_flag("--offline", a->offline,
                "Also replay the attestation from the evidence the certificate carries (TCG DICE "
                "tagged evidence) at steward's recorded time, without trusting steward's claims");
  cmd->add_option("--policy", a->policy_file,
                  "Steward policy TOML for --offline (default: built-in strict defaults)");
  cmd->add_option("--crl", a->crl_files,
                  "CRL (DER or PEM) to check the certificate against instead of its OCSP responder or CRL "
                  "distribution point; repeatable (the one from the certificate's issuer is used)");
  cmd->add_flag("--no-revocation-check", a->no_revocation_check,
                "Do not check revocation (by default it is checked when the certificate names an OCSP "
                "responder or a CRL distribution point, or a --crl is given; a revoked certificate exits 4, "
                "an unanswered check 6)");
  cmd->add_option("--revocation-ca", a->revocation_ca,
                  "PEM CA bundle trusted for https OCSP/CRL URLs (default: the embedded web roots)");
  cmd->callback([a] { set_exit_code(run_verify(*a)); });
}

ENARX_COMMAND(60, register_verify);

}  // namespace
}  // namespace enarx::cli
