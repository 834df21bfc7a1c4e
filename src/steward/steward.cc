#include "steward/steward.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include "core/csr.h"
#include "core/der.h"
#include "core/error.h"
#include "core/problem.h"
#include "core/log.h"
#include "core/openssl.h"
#include "steward/cbor.h"
#include "attest/enarx/csr.h"
#include "identity/workload.h"
#include "attest/enarx/oids.h"
#include "net/http.h"

namespace enarx::steward {
namespace {

// A rejection on its way to becoming a problem response.
struct Rejection {
  Rejection(int st, std::string c, std::string m, std::vector<attest::Failure> f = {},
            std::optional<std::size_t> i = std::nullopt, std::string p = "unknown")
      : status(st),
        code(std::move(c)),
        message(std::move(m)),
        failures(std::move(f)),
        csr_index(i),
        platform(std::move(p)) {}
  int status;
  std::string code;
  std::string message;
  std::vector<attest::Failure> failures;
  std::optional<std::size_t> csr_index;
  std::string platform = "unknown";
  // What is known about the failing request, for the audit record.
  std::vector<std::string> sans;
  std::string measurement;
  std::string keep_identity;
};

// The names a CSR asked for, for the audit record of its rejection ("" when unreadable).
std::vector<std::string> requested_names(ByteView der) {
  std::vector<std::string> out;
  try {
    const auto names = CertificationRequest::from_der(der).subject_alt_names();
    for (const auto& u : names.uris) out.push_back("URI:" + u);
    for (const auto& d : names.dns) out.push_back("DNS:" + d);
  } catch (const Error&) {
    // Unreadable: the record just has none.
  }
  return out;
}

[[noreturn]] void reject(int status, std::string code, std::string message) {
  throw Rejection(status, std::move(code), std::move(message));
}

std::string platform_for_oid(std::string_view oid) {
  const auto p = attest::evidence_platform(oid);
  return p ? to_string(*p) : "unknown";
}

std::uint64_t cbor_tag_for_oid(std::string_view oid) {
  if (oid == oids::kKvmEvidence) return oids::kCborTagKvmEvidence;
  if (oid == oids::kSgxEvidence) return oids::kCborTagSgxEvidence;
  if (oid == oids::kSnpEvidence) return oids::kCborTagSnpEvidence;
  if (oid == oids::kTdxEvidence) return oids::kCborTagTdxEvidence;
  throw Error(ErrorKind::kInternal, "steward.internal", "no CBOR tag for evidence OID " + std::string(oid));
}

// "Application/PKCS10; charset=binary" -> "application/pkcs10".
std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view base = content_type.substr(0, semi);
  while (!base.empty() && std::isspace(static_cast<unsigned char>(base.front())))
    base.remove_prefix(1);
  while (!base.empty() && std::isspace(static_cast<unsigned char>(base.back())))
    base.remove_suffix(1);
  std::string out(base);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Bytes subject_with_insecure_marker(ByteView subject_der) {
  const unsigned char* p = subject_der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(subject_der.size())));
  ossl::check(name != nullptr, ErrorKind::kInternal, "steward.internal", "cannot decode the CSR subject");
  ossl::check(X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>("INSECURE"), -1, -1,
                                         0) == 1, ErrorKind::kInternal,
              "steward.internal", "cannot mark the subject insecure");
  return ossl::to_der(i2d_X509_NAME, name.get(), "steward.internal");
}

// The whole of `elements` (each a complete DER CSR) from a bundle body, with the count limit
// applied while reading so a huge bundle costs nothing.
std::vector<ByteView> split_bundle(ByteView body, std::size_t max_count) {
  std::vector<ByteView> out;
  try {
    der::Reader outer(body);
    der::Reader seq = outer.read_sequence();
    outer.expect_end();
    while (!seq.empty()) {
      if (out.size() == max_count) {
        reject(413, "steward.bundle_too_large",
               "the bundle has more than " + std::to_string(max_count) + " requests");
      }
      out.push_back(seq.read(der::kSequence).whole);
    }
  } catch (const Error& e) {
    reject(400, "steward.bundle_malformed",
           std::string("the bundle is not a DER SEQUENCE OF "
                       "CertificationRequest: ") +
               e.what());
  }
  if (out.empty()) reject(400, "steward.bundle_empty", "the bundle contains no request");
  return out;
}

}  // namespace

std::unique_ptr<EvidenceVerifier> make_snp_verifier(const Policy& policy) {
  return attest::make_snp_verifier(policy.evidence);
}
std::unique_ptr<EvidenceVerifier> make_sgx_verifier(const Policy& policy) {
  return attest::make_sgx_verifier(policy.evidence);
}
std::unique_ptr<EvidenceVerifier> make_tdx_verifier(const Policy& policy) {
  return attest::make_tdx_verifier(policy.evidence);
}

void register_default_verifiers(Steward& steward) {
  steward.register_verifier(make_kvm_verifier());
  steward.register_verifier(make_snp_verifier(steward.policy()));
  steward.register_verifier(make_sgx_verifier(steward.policy()));
  steward.register_verifier(make_tdx_verifier(steward.policy()));
}

bool is_evidence_oid(std::string_view oid) { return platform_for_oid(oid) != "unknown"; }

Bytes encode_tagged_evidence(std::string_view evidence_oid, ByteView evidence,
                             DigestAlgorithm pubkey_hash_alg, ByteView spki_der) {
  // claims-buffer: { "pubkey-hash": bstr .cbor [ hash-alg-id, bstr hash(SPKI) ] } (CCC
  // interoperable RA-TLS); then tag(T, [ bstr evidence, bstr claims-buffer ]) as Gramine.
  Bytes hash_entry;
  cbor::append_array_head(hash_entry, 2);
  cbor::append_uint(hash_entry, pubkey_hash_alg == DigestAlgorithm::Sha384 ? oids::kIanaHashSha384
                                                                           : oids::kIanaHashSha256);
  cbor::append_bytes(hash_entry, digest(pubkey_hash_alg, spki_der));
  Bytes claims;
  cbor::append_map_head(claims, 1);
  cbor::append_text(claims, "pubkey-hash");
  cbor::append_bytes(claims, hash_entry);
  Bytes out;
  cbor::append_tag(out, cbor_tag_for_oid(evidence_oid));
  cbor::append_array_head(out, 2);
  cbor::append_bytes(out, evidence);
  cbor::append_bytes(out, claims);
  return out;
}

struct Steward::Checked {
  CertificationRequest csr;
  const EvidenceVerifier* verifier = nullptr;
  std::string evidence_oid;
  Bytes evidence_value;
  VerifiedEvidence evidence;
  SubjectAltNames sans;  // the names the CSR asked for, already judged by check_names
  // Why the keep may carry its workload names: the allow-list that admitted its runtime, or
  // "identity.any_measurement" (insecure); "" when it asked for none.
  std::string names_allowed_by;
  std::optional<std::string> insecure_reason;  // the evidence's, plus the names', if any
  std::optional<RegistryCheckResult> registry;  // when the registry check vouched for the names
  Bytes spki;
  std::size_t index = 0;
};

// One request's way through handle()/handle_async(): what prepare() made, kept until the index
// commit has completed, and the response once there is one.
struct Steward::Issuance {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  Outcome outcome;
  bool bundle = false;
  std::vector<Checked> checked;
  std::vector<Bytes> issued;
  std::vector<IssuedCertificate> rows;      // the index's
  std::vector<nlohmann::json> records;      // the audit records, one per certificate
  std::optional<Response> response;
};

Steward::Steward(CertificateAuthority ca, Policy policy, std::shared_ptr<const Clock> clock,
                 StewardLimits limits)
    : ca_(std::move(ca)),
      signer_(ca_.key(), ca_.certificate()),
      policy_(std::move(policy)),
      clock_(clock ? std::move(clock) : system_clock()),
      limits_(limits) {
  if (!policy_.registry.rules.empty()) registry_ = std::make_unique<RegistryChecker>(policy_.registry);
}

Steward::~Steward() {
  std::unique_lock lock(async_mutex_);
  async_idle_.wait(lock, [&] { return async_pending_ == 0; });
}

void Steward::set_public_url(std::string url) {
  std::lock_guard lock(public_url_mutex_);
  public_url_ = std::move(url);
}

std::string Steward::public_url() const {
  std::lock_guard lock(public_url_mutex_);
  return public_url_;
}

void Steward::register_verifier(std::unique_ptr<EvidenceVerifier> verifier) {
  std::string oid(verifier->oid());
  verifiers_[oid] = std::move(verifier);
}

bool Steward::accepts(std::string_view oid) const {
  return verifiers_.find(oid) != verifiers_.end();
}

std::vector<std::string> Steward::platforms() const {
  std::vector<std::string> out;
  for (const auto& [oid, v] : verifiers_) out.push_back(attest::to_string(v->platform()));
  std::sort(out.begin(), out.end());
  return out;
}

void Steward::set_audit_log(std::shared_ptr<AuditLog> audit) { audit_ = std::move(audit); }
void Steward::set_cert_index(std::shared_ptr<CertIndex> index) { index_ = std::move(index); }
void Steward::set_revocation_urls(std::string crl_url, std::string ocsp_url) {
  std::lock_guard lock(public_url_mutex_);
  crl_url_ = std::move(crl_url);
  ocsp_url_ = std::move(ocsp_url);
}
void Steward::set_observer(std::function<void(const Outcome&)> observer) {
  observer_ = std::move(observer);
}

Steward::Checked Steward::check_csr(ByteView der, std::size_t index, TimePoint now) const {
  Checked c;
  c.index = index;
  bool parsed = false;
  std::string platform = "unknown";
  try {
    // The CSR rules every verifier of a keep's CSR shares (attest/enarx/csr.h).
    attest::KeepCsr keep = attest::read_keep_csr(der);
    c.csr = keep.csr;
    parsed = true;
    if (keep.evidence.empty())
      reject(401, "steward.csr.no_evidence", "the CSR carries no attestation evidence extension");
    const Extension& ext = keep.single_evidence();
    platform = platform_for_oid(ext.oid);
    auto it = verifiers_.find(ext.oid);
    if (it == verifiers_.end())
      reject(400, "steward.platform_disabled",
             platform + " evidence is not accepted by this steward");
    c.verifier = it->second.get();
    const auto allowed = c.verifier->allowed_key_types();
    keep.check_key(allowed, platform);
    c.sans = keep.names();

    c.evidence_oid = ext.oid;
    c.evidence_value = ext.value;
    c.spki = c.csr.spki_der();
    try {
      c.evidence = c.verifier->verify(VerifyContext{c.evidence_value, c.spki, now});
    } catch (const Rejection&) {
      throw;
    } catch (const Error& e) {
      reject(400, e.code(), e.what());
    }
    if (!c.evidence.failures.empty()) {
      const auto& first = c.evidence.failures.front();
      Rejection r(400, first.code,
                  std::to_string(c.evidence.failures.size()) +
                      " policy check(s) failed; first: " + first.message,
                  c.evidence.failures, index, platform);
      r.measurement = c.evidence.measurement;
      r.keep_identity = c.evidence.keep_identity;
      throw r;
    }
    if (c.evidence.insecure_reason && !policy_.issuance.allow_insecure)
      reject(400, "steward.insecure_not_allowed",
             *c.evidence.insecure_reason +
                 "; this steward only issues for hardware-attested keeps (issuance.allow_insecure "
                 "is off)");
    c.insecure_reason = c.evidence.insecure_reason;
    check_names(c);
    check_registry(c);
  } catch (Rejection& r) {
    if (parsed) {
      r.measurement = c.evidence.measurement;
      r.keep_identity = c.evidence.keep_identity;
    }
    r.csr_index = index;
    r.platform = platform;
    if (r.sans.empty()) r.sans = requested_names(der);
    throw;
  } catch (const Error& e) {
    // A CSR rule (attest/enarx/csr.h), or a malformed extension or key inside a parseable CSR.
    Rejection r(400, e.code(), e.what(), {}, index, platform);
    r.sans = requested_names(der);
    throw r;
  }
  return c;
}

void Steward::check_names(Checked& c) const {
  const auto& ev = c.evidence;
  // URI names: only the documented forms, each well-formed and at most once
  // (src/identity/workload.h); the keep name is steward's own.
  bool slug = false, digest = false, signer = false, app_digest = false, config_digest = false;
  for (const auto& uri : c.sans.uris) {
    bool* seen = nullptr;
    try {
      switch (identity::classify_workload_uri(uri)) {
        case identity::WorkloadUri::Slug: seen = &slug; break;
        case identity::WorkloadUri::Digest: seen = &digest; break;
        case identity::WorkloadUri::Signer: seen = &signer; break;
        case identity::WorkloadUri::AppDigest: seen = &app_digest; break;
        case identity::WorkloadUri::ConfigDigest: seen = &config_digest; break;
        case identity::WorkloadUri::Keep:
          reject(400, "steward.csr.san_uri",
                 "URI " + uri.substr(0, 200) + " is steward's own name for a keep; a CSR may not ask for it");
        case identity::WorkloadUri::Other:
          reject(400, "steward.csr.san_uri",
                 "URI " + uri.substr(0, 200) +
                     " is not a workload name (slug://, urn:enarx:workload-digest:, urn:enarx:signer:, "
                     "urn:enarx:app-digest:, urn:enarx:config-digest:)");
      }
    } catch (const Rejection&) {
      throw;
    } catch (const Error& e) {
      reject(400, "steward.csr.san_uri", "malformed workload name " + uri.substr(0, 200) + ": " + e.what());
    }
    if (*seen) reject(400, "steward.csr.san_uri", "the CSR names two workload names of the same kind");
    *seen = true;
  }
  // DNS names: only those a grant gives this very runtime.
  for (const auto& name : c.sans.dns) {
    if (!dns_name_granted(name, ev))
      reject(400, "steward.csr.san_dns_not_allowed",
             "DNS name " + name.substr(0, 253) + " is not granted to " + attest::to_string(ev.platform) +
                 " measurement " + (ev.measurement.empty() ? "(none)" : ev.measurement) +
                 " by [[identity.dns]]");
  }
  if (c.sans.uris.empty()) return;  // an attested keep without workload names
  if (!ev.runtime_allowed_by.empty()) {
    c.names_allowed_by = ev.runtime_allowed_by;
    return;
  }
  if (!policy_.identity.any_measurement)
    reject(400, "steward.identity.unknown_runtime",
           "the CSR asks for workload names, but its " + attest::to_string(ev.platform) +
               " runtime (measurement " + (ev.measurement.empty() ? "none" : ev.measurement) +
               ") is in no allow-list of this steward's policy; only a known, measured runtime "
               "may name a workload (docs/steward.md \"Trust rules\")");
  c.names_allowed_by = "identity.any_measurement";
  const std::string why = "identity: workload names for a runtime in no allow-list (identity.any_measurement)";
  c.insecure_reason = c.insecure_reason ? *c.insecure_reason + "; " + why : why;
}

void Steward::check_registry(Checked& c) const {
  if (!registry_ || c.sans.uris.empty()) return;  // off, or no workload names to vouch for
  const auto platform = attest::to_string(c.evidence.platform);
  const RegistryCheckRule* rule = policy_.registry.rule_for(platform, c.evidence.measurement);
  if (!rule) return;
  try {
    c.registry = registry_->check(identity::WorkloadIdentity::from_uris(c.sans.uris), *rule);
  } catch (const Error& e) {
    log::warn("steward.registry_refused", {{"code", e.code()},
                                           {"platform", platform},
                                           {"measurement", c.evidence.measurement},
                                           {"error", e.what()}});
    reject(net::http_status(e.kind()), e.code(), e.what());
  }
  log::info("steward.registry_checked", {{"drawbridge", c.registry->drawbridge},
                                         {"tag", c.registry->tag},
                                         {"digest", c.registry->digest},
                                         {"signer", c.registry->signer}});
}

bool Steward::dns_name_granted(const std::string& name, const VerifiedEvidence& ev) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (lower.empty() || lower.starts_with("*.")) return false;  // keeps ask for names, not patterns
  const std::string platform = attest::to_string(ev.platform);
  for (const auto& g : policy_.identity.dns) {
    if (g.platform != platform) continue;
    if (g.measurement.empty() ? g.signer != ev.signer || ev.signer.empty() : g.measurement != ev.measurement)
      continue;
    for (const auto& pattern : g.names) {
      if (pattern == lower) return true;
      if (pattern.starts_with("*.")) {
        const std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
        if (lower.size() > suffix.size() && lower.ends_with(suffix) &&
            lower.substr(0, lower.size() - suffix.size()).find('.') == std::string::npos)
          return true;
      }
    }
  }
  return false;
}

Bytes Steward::issue(const Checked& c, TimePoint now, IssuedCertificate* facts,
                     std::string* subject_text) const {
  const auto& ev = c.evidence;
  const bool insecure = c.insecure_reason.has_value();

  nlohmann::json claims = {
      {"version", 1},
      {"platform", attest::to_string(ev.platform)},
      {"insecure", insecure},
      {"keep_identity", ev.keep_identity},
      {"evidence_oid", c.evidence_oid},
      {"evidence_sha256", to_hex(sha256(c.evidence_value))},
      {"evidence", ev.claims},
      {"policy_sha256", policy_.digest},
      {"verified_at", format_rfc3339(now)},
  };
  if (insecure) claims["insecure_reason"] = *c.insecure_reason;
  if (!c.names_allowed_by.empty()) claims["names_allowed_by"] = c.names_allowed_by;
  if (!ev.measurement.empty()) claims["measurement"] = ev.measurement;
  if (!ev.signer.empty()) claims["signer"] = ev.signer;
  if (!ev.tcb_status.empty()) claims["tcb_status"] = ev.tcb_status;
  if (auto url = public_url(); !url.empty()) claims["steward"] = std::move(url);
  if (c.registry)
    claims["registry_check"] = {{"drawbridge", c.registry->drawbridge},
                                {"tag", c.registry->tag},
                                {"digest", c.registry->digest},
                                {"signer", c.registry->signer}};
  nlohmann::json collateral = nlohmann::json::array();
  for (const auto& ref : ev.collateral) {
    nlohmann::json item = {{"kind", ref.kind}, {"sha256", ref.sha256}, {"source", ref.source}};
    if (!ref.id.empty()) item["id"] = ref.id;
    if (!ref.reason.empty()) item["reason"] = ref.reason;
    collateral.push_back(std::move(item));
  }
  claims["collateral"] = std::move(collateral);
  const std::string claims_text =
      claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  SubjectAltNames sans;
  sans.uris = c.sans.uris;
  // Every keep certificate names the attested keep, so it always has a subjectAltName (RFC 5280
  // 4.1.2.6: an empty subject needs one, critical) and strict X.509 verifiers accept it.
  sans.uris.push_back(identity::format_keep_urn(attest::to_string(ev.platform), ev.keep_identity));
  sans.dns = c.sans.dns;
  for (const auto& d : policy_.issuance.extra_dns_sans)
    if (std::find(sans.dns.begin(), sans.dns.end(), d) == sans.dns.end()) sans.dns.push_back(d);

  Bytes subject = c.csr.subject_der();
  // An empty RDNSequence (Enarx's CSRs) is the DER 30 00.
  const bool empty_subject = subject.size() == 2 && subject[0] == 0x30 && subject[1] == 0x00;
  if (insecure) subject = subject_with_insecure_marker(subject);
  if (subject_text) *subject_text = x509_name_to_string(subject);

  auto not_after = now + policy_.issuance.certificate_lifetime;
  not_after = std::min(not_after, ca_.certificate().not_after());

  LeafProfile profile;
  profile.serial = new_serial(now);
  profile.not_before = now - policy_.issuance.backdate;
  profile.not_after = not_after;
  profile.subject_der = std::move(subject);
  profile.spki_der = c.spki;
  profile.sans = std::move(sans);
  // RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
  profile.sans_critical = empty_subject && !insecure;
  der::Writer claims_value;
  claims_value.add_utf8_string(claims_text);
  profile.extra.push_back(
      Extension{std::string(oids::kAttestedClaims), false, claims_value.take()});
  profile.extra.push_back(Extension{std::string(oids::kTcgDiceTaggedEvidence), false,
                                    encode_tagged_evidence(c.evidence_oid, c.evidence_value,
                                                           c.verifier->binding_digest(), c.spki)});
  if (insecure) {
    der::Writer reason;
    reason.add_utf8_string(*c.insecure_reason);
    profile.extra.push_back(
        Extension{std::string(oids::kInsecureAttestation), false, reason.take()});
  }
  {
    std::lock_guard lock(public_url_mutex_);
    if (!crl_url_.empty()) profile.extra.push_back(crl_distribution_point_extension(crl_url_));
    if (!ocsp_url_.empty()) profile.extra.push_back(ocsp_responder_extension(ocsp_url_));
  }
  if (c.evidence_oid == oids::kKvmEvidence) {
    // Enarx's steward copies the (empty) KVM extension into the certificate; keep doing so.
    profile.extra.push_back(Extension{std::string(oids::kKvmEvidence), false, {}});
  }
  Bytes der = signer_.sign(profile);
  if (facts) {
    facts->serial = serial_key(profile.serial);
    facts->not_before = profile.not_before;
    facts->not_after = profile.not_after;
    facts->sans.clear();
    for (const auto& d : profile.sans.dns) facts->sans.push_back("dns:" + d);
    for (const auto& u : profile.sans.uris) facts->sans.push_back("uri:" + u);
    facts->der = der;
  }
  return der;
}

namespace {

// The problem response to a rejection, and its audit record in the file audit log.
Response rejection_response(const Rejection& r, Outcome& outcome, AuditLog* audit) {
  if (outcome.platform.empty() || r.platform != "unknown") outcome.platform = r.platform;
  nlohmann::ordered_json problem = problem_details(r.status, r.code, r.message);
  if (r.csr_index) problem["csr_index"] = *r.csr_index;
  if (r.platform != "unknown") problem["platform"] = r.platform;
  if (!r.failures.empty()) {
    nlohmann::json fs = nlohmann::json::array();
    for (const auto& f : r.failures) fs.push_back({{"code", f.code}, {"message", f.message}});
    problem["failures"] = std::move(fs);
  }
  if (audit && r.code != "steward.audit_failed" && r.code != "steward.index_failed") {
    try {
      nlohmann::json rec = {{"decision", "rejected"},
                            {"status", r.status},
                            {"code", r.code},
                            {"reason", r.message},
                            {"platform", r.platform}};
      if (r.csr_index) rec["csr_index"] = *r.csr_index;
      if (!r.sans.empty()) rec["sans"] = r.sans;
      if (!r.measurement.empty()) rec["measurement"] = r.measurement;
      if (!r.keep_identity.empty()) rec["keep_identity"] = r.keep_identity;
      if (!r.failures.empty()) rec["failures"] = problem["failures"];
      audit->append(std::move(rec));
    } catch (const Error& e) {
      log::error("steward.audit_failed", {{"code", e.code()}, {"error", e.what()}});
    }
  }
  Response response;
  response.status = r.status;
  response.code = r.code;
  response.content_type = std::string(kProblemContentType);
  response.body = to_bytes(to_problem_body(problem));
  if (outcome.platform.empty()) outcome.platform = "unknown";
  return response;
}

// A store (the certificate index, the audit log) failed to take an issuance: logged under `code`
// and refused, since no certificate leaves without its index row (it could never be revoked) or
// its audit record. A failure that is not an Error propagates (guarded() answers it).
[[noreturn]] void refuse_store_failure(std::exception_ptr failure, const char* code, const char* message) {
  try {
    std::rethrow_exception(failure);
  } catch (const Error& e) {
    log::error(code, {{"code", e.code()}, {"error", e.what()}});
  }
  reject(500, code, message);
}

[[noreturn]] void rethrow_audit_failure(std::exception_ptr failure) {
  refuse_store_failure(std::move(failure), "steward.audit_failed", "internal error (audit log)");
}

// Each half of an issuance runs under this guard: a failure that is not a Rejection is a bug or
// resource exhaustion, answered 500 with details in the log only.
template <typename F>
void guarded(std::optional<Response>& response, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log::error("steward.internal", {{"error", e.what()}});
    Response r;
    r.status = 500;
    r.code = "steward.internal";
    r.content_type = std::string(kProblemContentType);
    r.body = to_bytes(problem_body(500, "steward.internal", "internal error"));
    response = std::move(r);
  }
}

}  // namespace

Response Steward::handle(std::string_view content_type, ByteView body) const {
  Issuance st;
  if (!begin(content_type, body, st)) {
    std::exception_ptr index_error;
    std::vector<RevocationRecord> revoked;
    if (index_) {
      try {
        revoked = index_->record_issued(st.rows, st.records);  // a bundle's rows: one unit, all or none
      } catch (...) {
        index_error = std::current_exception();
      }
    }
    complete(st, index_error, std::move(revoked));
  }
  return finish(st);
}

void Steward::handle_async(std::string_view content_type, ByteView body, std::function<void(Response)> user_done) const {
  auto st = std::make_shared<Issuance>();
  if (begin(content_type, body, *st)) return user_done(finish(*st));
  {
    std::lock_guard lock(async_mutex_);
    ++async_pending_;
  }
  auto done = [this, user_done = std::move(user_done)](Response r) {
    struct Release {
      const Steward* steward;
      ~Release() {
        std::lock_guard lock(steward->async_mutex_);
        if (--steward->async_pending_ == 0) steward->async_idle_.notify_all();
      }
    } release{this};
    user_done(std::move(r));
  };
  // After the index commit, on its committer thread: the file audit log's lines are written
  // there, and its flusher answers once they are durable. Failures and the rare revocation
  // during issuance take the synchronous path.
  auto after_index = [this, st, done](std::exception_ptr error, std::vector<RevocationRecord> revoked) {
    if (error || !revoked.empty() || !audit_) {
      complete(*st, error, std::move(revoked));
      return done(finish(*st));
    }
    audit_->append_async(std::move(st->records), [this, st, done](std::exception_ptr audit_error) {
      guarded(st->response, [&] {
        try {
          if (audit_error) rethrow_audit_failure(audit_error);
          st->response = certificates_response(*st);
        } catch (const Rejection& r) {
          st->response = rejection_response(r, st->outcome, nullptr);
        }
      });
      done(finish(*st));
    });
  };
  if (!index_) return after_index(nullptr, {});
  // The rows and records live in `st` until the index's completion has run.
  index_->record_issued_async(st->rows, st->records, std::move(after_index));
}

Response Steward::finish(Issuance& st) const {
  Response response = std::move(*st.response);
  st.outcome.status = response.status;
  st.outcome.code = response.code;
  st.outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.start).count();
  if (observer_) {
    try {
      observer_(st.outcome);
    } catch (...) {
    }
  }
  return response;
}

bool Steward::begin(std::string_view content_type, ByteView body, Issuance& st) const {
  guarded(st.response, [&] {
    try {
      prepare(content_type, body, st);
    } catch (const Rejection& r) {
      st.response = rejection_response(r, st.outcome, audit_.get());
    }
  });
  return st.response.has_value();
}

void Steward::complete(Issuance& st, std::exception_ptr index_error, std::vector<RevocationRecord> revoked_in_flight) const {
  guarded(st.response, [&] {
    try {
      if (index_error)
        refuse_store_failure(index_error, "steward.index_failed", "internal error (certificate index)");
      st.response = respond(st, std::move(revoked_in_flight));
    } catch (const Rejection& r) {
      st.response = rejection_response(r, st.outcome, audit_.get());
    }
  });
}

// Everything before the index commit: the requests judged and signed, their index rows and
// audit records made.
void Steward::prepare(std::string_view content_type, ByteView body, Issuance& st) const {
  const TimePoint now = clock_->now();
  const std::string media = media_type(content_type);
  if (media.empty()) reject(400, "steward.content_type_missing", "a Content-Type is required");
  if (body.size() > limits_.max_body_size)
    reject(413, "steward.body_too_large",
           "the body exceeds " + std::to_string(limits_.max_body_size) + " bytes");
  std::vector<ByteView> requests;
  bool& bundle = st.bundle;
  auto& checked = st.checked;
  auto& outcome = st.outcome;
  if (media == kPkcs10) {
    requests.push_back(body);
  } else if (media == kPkcs10Bundle) {
    bundle = true;
    requests = split_bundle(body, policy_.issuance.max_bundle_size);
  } else {
    reject(400, "steward.content_type_unsupported",
           "Content-Type must be application/pkcs10 or "
           "application/vnd.steward.pkcs10-bundle.v1");
  }
  if (body.empty()) reject(400, "steward.csr.malformed", "empty body");

  for (std::size_t i = 0; i < requests.size(); ++i) {
    checked.push_back(check_csr(requests[i], i, now));
    outcome.platform = attest::to_string(checked.back().evidence.platform);
  }
  // Bundles are for one keep: same platform and the same keep identity (docs/steward.md).
  for (const auto& c : checked) {
    if (c.evidence.platform != checked.front().evidence.platform ||
        c.evidence.keep_identity != checked.front().evidence.keep_identity) {
      Rejection r(400, "steward.bundle_mixed_keeps",
                  "every request of a bundle must carry evidence from the same keep; request " +
                      std::to_string(c.index) + " differs from request 0",
                  {}, c.index, outcome.platform);
      r.measurement = c.evidence.measurement;
      r.keep_identity = c.evidence.keep_identity;
      throw r;
    }
  }

  auto& issued = st.issued;
  // The index rows and the audit records' subjects, from what issue() encoded.
  auto& rows = st.rows;
  rows.resize(checked.size());
  std::vector<std::string> subjects(checked.size());
  issued.reserve(checked.size());
  try {
    for (std::size_t i = 0; i < checked.size(); ++i)
      issued.push_back(issue(checked[i], now, &rows[i], index_ || audit_ ? &subjects[i] : nullptr));
  } catch (const Error& e) {
    log::error("steward.issue_failed", {{"code", e.code()}, {"error", e.what()}});
    reject(500, "steward.internal", "internal error while issuing");
  }

  // One audit record per certificate: into the index's shared trail in the same transaction
  // as the rows, and into this replica's audit log file.
  auto& records = st.records;
  if (index_ || audit_) {
    records.reserve(checked.size());
    for (std::size_t i = 0; i < checked.size(); ++i) {
      const auto& c = checked[i];
      const auto& row = rows[i];
      // The row's SANs are "dns:"/"uri:" in certificate order; the record lists URIs first.
      nlohmann::json sans = nlohmann::json::array();
      for (const char* kind : {"uri:", "dns:"})
        for (const auto& san : row.sans)
          if (san.starts_with(kind)) sans.push_back((kind[0] == 'u' ? "URI:" : "DNS:") + san.substr(4));
      nlohmann::json rec = {
          {"decision", "issued"},
          {"status", 200},
          {"serial", to_hex(serial_bytes(row.serial))},
          {"subject", subjects[i]},
          {"sans", sans},
          {"platform", attest::to_string(c.evidence.platform)},
          {"measurement", c.evidence.measurement},
          {"signer", c.evidence.signer},
          {"tcb_status", c.evidence.tcb_status},
          {"keep_identity", c.evidence.keep_identity},
          {"insecure", c.insecure_reason.has_value()},
          {"names_allowed_by", c.names_allowed_by},
          {"csr_index", c.index},
          {"bundle", bundle},
          {"not_after", format_rfc3339(row.not_after)},
          {"policy_sha256", policy_.digest},
      };
      if (c.registry)
        rec["registry_check"] = {{"drawbridge", c.registry->drawbridge},
                                 {"tag", c.registry->tag},
                                 {"digest", c.registry->digest},
                                 {"signer", c.registry->signer}};
      records.push_back(std::move(rec));
    }
  }

  if (index_) {
    const std::string by = public_url();
    for (std::size_t i = 0; i < checked.size(); ++i) {
      auto& row = rows[i];
      add_evidence_facts(row, checked[i].evidence);
      row.issued_at = now;
      row.policy_digest = policy_.digest;
      row.issued_by = by;
      if (checked[i].insecure_reason) row.insecure = true;
      records[i]["issued_by"] = by;
    }
  }
}

// After the index commit (or without an index): the file audit log, then the response.
Response Steward::respond(Issuance& st, std::vector<RevocationRecord> revoked_in_flight) const {
  auto& records = st.records;
  if (audit_) {
    try {
      for (auto& rec : records) audit_->append(std::move(rec));
    } catch (const Error&) {
      rethrow_audit_failure(std::current_exception());
    }
  }

  if (!revoked_in_flight.empty()) {
    // A `steward revoke` selector that covers this keep ran while it was being issued: the
    // certificate is recorded revoked, and handing it out would only fail later, elsewhere.
    for (const auto& r : revoked_in_flight)
      log::warn("steward.revoked_during_issuance", {{"serial", r.serial},
                                                     {"reason", std::string(revocation::reason_name(r.reason))},
                                                     {"revoked_by", r.revoked_by}});
    reject(409, "steward.revoked_during_issuance",
           "a revocation covering this platform was made while the certificate was being issued; "
           "the certificate is recorded revoked (attest again)");
  }

  return certificates_response(st);
}

// The issued certificates with the CA chain (RFC 5280 DER, as Enarx's steward answers).
Response Steward::certificates_response(Issuance& st) const {
  const auto& issued = st.issued;
  der::Writer chain;
  for (const auto& cert : ca_.chain_root_first()) chain.add_raw(cert.to_der());
  Response response;
  response.content_type = std::string(kCertificatesContentType);
  if (!st.bundle) {
    chain.add_raw(issued.front());
    response.body = chain.wrap(der::kSequence);
  } else {
    der::Writer issued_seq;
    for (const auto& der : issued) issued_seq.add_raw(der);
    der::Writer output;
    output.add_sequence(chain);
    output.add_sequence(issued_seq);
    response.body = output.wrap(der::kSequence);
  }
  st.outcome.issued = issued.size();
  return response;
}

namespace {

// The first value under `key` anywhere in `j` (depth-bounded), or null: the attestation
// library's claims nest the same facts differently per platform.
const nlohmann::json* find_claim_value(const nlohmann::json& j, std::string_view key, int depth = 0) {
  if (depth > 6 || !j.is_object()) return nullptr;
  if (auto it = j.find(key); it != j.end()) return &*it;
  for (const auto& [k, v] : j.items())
    if (const auto* found = find_claim_value(v, key, depth + 1)) return found;
  return nullptr;
}

// The same, as text: a string as it is, a number in decimal, anything else "".
std::string find_claim(const nlohmann::json& j, std::string_view key) {
  const auto* v = find_claim_value(j, key);
  if (!v) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number()) return v->dump();
  return {};
}

std::string tcb_level_of(const VerifiedEvidence& ev) {
  const auto& c = ev.claims;
  if (ev.platform == attest::Platform::Snp) {
    // The reported TCB is what AMD's VCEK was derived for and what TCB policy judges.
    const auto* tcb = find_claim_value(c, "tcb");
    if (!tcb || !tcb->is_object() || !tcb->contains("reported")) return {};
    return "reported:" + (*tcb)["reported"].value("raw", nlohmann::json()).dump();
  }
  const std::string cpusvn = find_claim(c, "pck_cpusvn");
  const std::string pcesvn = find_claim(c, "pce_svn");
  if (cpusvn.empty() && pcesvn.empty()) return {};
  return "cpusvn:" + cpusvn + ",pcesvn:" + pcesvn;
}

}  // namespace

void add_evidence_facts(IssuedCertificate& row, const VerifiedEvidence& ev) {
  row.platform = std::string(attest::to_string(ev.platform));
  row.measurement = ev.measurement;
  row.signer = ev.signer;
  row.tcb_status = ev.tcb_status;
  row.tcb_level = tcb_level_of(ev);
  if (ev.platform == attest::Platform::Snp) row.chip_id = find_claim(ev.claims, "chip_id");
  if (ev.platform == attest::Platform::Sgx || ev.platform == attest::Platform::Tdx) {
    row.fmspc = find_claim(ev.claims, "fmspc");
    row.ppid = find_claim(ev.claims, "ppid");
  }
  row.keep_identity = ev.keep_identity;
  row.collateral_digests.clear();
  for (const auto& ref : ev.collateral) row.collateral_digests.push_back(ref.sha256);
  row.insecure = ev.insecure_reason.has_value();
}

}  // namespace enarx::steward
