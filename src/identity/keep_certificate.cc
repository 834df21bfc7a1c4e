#include "identity/keep_certificate.h"

#include "core/der.h"
#include "core/error.h"
#include "attest/enarx/oids.h"

namespace enarx::identity {
namespace {

std::string string_field(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

nlohmann::json parse_claims(const Extension& ext) {
  nlohmann::json claims;
  try {
    const auto element = der::parse_single(ext.value);
    require(element.tag == der::kUtf8String, ErrorKind::kInvalidInput, "verify.claims_malformed", "claims are not a UTF8String");
    claims = nlohmann::json::parse(as_string(element.value));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kInvalidInput, "verify.claims_malformed", std::string("claims are not JSON: ") + e.what());
  } catch (const Error& e) {
    if (e.code() == "verify.claims_malformed") throw;
    throw Error(ErrorKind::kInvalidInput, "verify.claims_malformed", std::string("claims extension: ") + e.what());
  }
  require(claims.is_object(), ErrorKind::kInvalidInput, "verify.claims_malformed", "claims must be a JSON object");
  return claims;
}

}  // namespace

std::optional<KeepFacts> read_keep_facts(const Certificate& leaf) {
  KeepFacts facts;
  auto ext = leaf.extension(oids::kAttestedClaims);
  if (!ext) {
    ext = leaf.extension(oids::kLegacyAttestedClaims);
    facts.legacy_oids = ext.has_value();
  }
  if (!ext) return std::nullopt;
  facts.claims = parse_claims(*ext);
  facts.platform = string_field(facts.claims, "platform");
  facts.measurement = string_field(facts.claims, "measurement");
  facts.signer = string_field(facts.claims, "signer");
  facts.tcb_status = string_field(facts.claims, "tcb_status");
  const auto insecure = facts.claims.find("insecure");
  require(insecure == facts.claims.end() || insecure->is_boolean(), ErrorKind::kInvalidInput, "verify.claims_malformed",
          "claims: insecure must be a boolean");
  facts.insecure = insecure != facts.claims.end() && insecure->get<bool>();
  facts.insecure_reason = string_field(facts.claims, "insecure_reason");
  if (auto ev = facts.claims.find("evidence"); ev != facts.claims.end() && ev->is_object()) {
    const auto sim = ev->find("simulated");
    facts.simulated = sim != ev->end() && sim->is_boolean() && sim->get<bool>();
  }
  // The marker extension and the claims must tell the same story; a simulated root is always
  // insecure issuance.
  const bool marker = leaf.extension(oids::kInsecureAttestation).has_value() ||
                      leaf.extension(oids::kLegacyInsecureAttestation).has_value();
  require(marker == facts.insecure, ErrorKind::kInvalidInput, "verify.claims_malformed", "insecure marker and claims disagree");
  require(!facts.simulated || facts.insecure, ErrorKind::kInvalidInput, "verify.claims_malformed",
          "claims say simulated but not insecure");
  return facts;
}

std::vector<std::string> keep_certificate_extension_oids() {
  return {std::string(oids::kAttestedClaims),       std::string(oids::kLegacyAttestedClaims),
          std::string(oids::kInsecureAttestation),  std::string(oids::kLegacyInsecureAttestation),
          std::string(oids::kTcgDiceTaggedEvidence), std::string(oids::kKvmEvidence)};
}

}  // namespace enarx::identity
