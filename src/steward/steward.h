// Steward's request handler as a pure library call: (Content-Type, body) -> (status, body).
// The HTTP server (server.h) only routes, limits and counts; tests, the fuzzer and the benchmark
// call Steward::handle directly.
//
// Wire compatibility with Enarx's steward (docs/steward.md "API"):
//   application/pkcs10                      one DER CSR  -> DER SEQUENCE OF Certificate
//                                            [CA chain root-first..., issued]
//   application/vnd.steward.pkcs10-bundle.v1 DER SEQUENCE OF CSR -> DER Output { chain, issued }
//   400 malformed input / failed evidence validation, 401 no attesting extension,
//   413 too large, 500 internal. Errors carry an application/problem+json body naming the
//   failed check by its stable code.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "steward/audit.h"
#include "steward/ca.h"
#include "steward/evidence.h"
#include "steward/index/cert_index.h"
#include "steward/policy.h"
#include "steward/profile.h"
#include "steward/registry_check.h"

namespace enarx::steward {

inline constexpr std::string_view kPkcs10 = "application/pkcs10";
inline constexpr std::string_view kPkcs10Bundle = "application/vnd.steward.pkcs10-bundle.v1";
inline constexpr std::string_view kProblemJson = kProblemContentType;
// What Enarx's steward answers with (axum's default for bytes); Enarx clients ignore it.
inline constexpr std::string_view kCertificatesContentType = "application/octet-stream";

struct Response {
  int status = 200;
  std::string content_type;
  Bytes body;
  std::string code;  // stable error code when status != 200, else ""
};

// What happened to one request; for metrics (server.h) and tests.
struct Outcome {
  int status = 200;
  std::string code;        // "" when issued
  std::string platform;    // "kvm" | "snp" | "sgx" | "tdx" | "unknown"
  std::size_t issued = 0;  // certificates issued
  double seconds = 0;      // time spent in handle()
};

struct StewardLimits {
  std::size_t max_body_size = 4u << 20;  // bytes; larger -> 413 steward.body_too_large
};

class Steward {
 public:
  Steward(CertificateAuthority ca, Policy policy, std::shared_ptr<const Clock> clock = nullptr,
          StewardLimits limits = {});
  ~Steward();

  // Accepts evidence with verifier->oid() from now on (replacing an earlier one). Not
  // thread-safe: register everything before serving.
  void register_verifier(std::unique_ptr<EvidenceVerifier> verifier);
  bool accepts(std::string_view oid) const;
  std::vector<std::string> platforms() const;  // registered platform names

  // Every decision is appended here (optional; without it nothing is audited).
  void set_audit_log(std::shared_ptr<AuditLog> audit);
  // Called once per handle() (optional).
  void set_observer(std::function<void(const Outcome&)> observer);
  // Steward's own public URL, recorded in every certificate's claims as "steward" (optional;
  // the service always sets it: server.public_url). Thread-safe.
  void set_public_url(std::string url);
  std::string public_url() const;
  // Every issued certificate is recorded here before it is returned (optional; without it
  // nothing is indexed, so nothing can be revoked). A failing index refuses the request:
  // 500 steward.index_failed — no certificate without its index row.
  void set_cert_index(std::shared_ptr<CertIndex> index);
  const std::shared_ptr<CertIndex>& cert_index() const { return index_; }
  // The CRL distribution point and OCSP responder URLs written into every issued certificate
  // ("" = leave the extension out). Thread-safe.
  void set_revocation_urls(std::string crl_url, std::string ocsp_url);

  // Thread-safe. Never throws: every failure becomes a Response.
  Response handle(std::string_view content_type, ByteView body) const;
  // The same, without waiting for the index commit: verification and signing run on this
  // thread, then `done` runs once with the response — here at once when there is nothing to
  // commit (a rejection, no index), else on the index's committer thread once the rows are
  // durable. `body` need only live until this returns. A server's workers call it so none
  // sleeps in a disk flush while requests wait.
  void handle_async(std::string_view content_type, ByteView body, std::function<void(Response)> done) const;

  const CertificateAuthority& ca() const { return ca_; }
  // The registry check's client, when the policy turns the check on (nullptr otherwise).
  const RegistryChecker* registry_checker() const { return registry_.get(); }
  const Policy& policy() const { return policy_; }
  const Clock& clock() const { return *clock_; }

 private:
  struct Checked;
  Checked check_csr(ByteView der, std::size_t index, TimePoint now) const;
  void check_names(Checked& checked) const;
  void check_registry(Checked& checked) const;
  bool dns_name_granted(const std::string& name, const VerifiedEvidence& evidence) const;
  // The DER certificate; `facts` and `subject_text` (optional) get what the index and the audit
  // record say of it, without parsing the certificate again (issuance's hot path).
  Bytes issue(const Checked& checked, TimePoint now, IssuedCertificate* facts = nullptr,
              std::string* subject_text = nullptr) const;
  struct Issuance;
  // handle()'s steps: begin() runs prepare() (judge, sign, make the index rows and audit
  // records) and returns true when it already has the response (a rejection); complete() takes
  // the index commit's outcome and runs respond(); finish() reports the outcome.
  bool begin(std::string_view content_type, ByteView body, Issuance& issuance) const;
  void prepare(std::string_view content_type, ByteView body, Issuance& issuance) const;
  void complete(Issuance& issuance, std::exception_ptr index_error,
                std::vector<RevocationRecord> revoked_in_flight) const;
  Response respond(Issuance& issuance, std::vector<RevocationRecord> revoked_in_flight) const;
  Response finish(Issuance& issuance) const;
  Response certificates_response(Issuance& issuance) const;

  CertificateAuthority ca_;
  LeafSigner signer_;
  Policy policy_;
  std::shared_ptr<const Clock> clock_;
  StewardLimits limits_;
  std::map<std::string, std::unique_ptr<EvidenceVerifier>, std::less<>> verifiers_;
  std::shared_ptr<AuditLog> audit_;
  std::function<void(const Outcome&)> observer_;
  mutable std::mutex public_url_mutex_;
  std::string public_url_;
  std::string crl_url_, ocsp_url_;
  std::shared_ptr<CertIndex> index_;
  std::unique_ptr<RegistryChecker> registry_;  // when [[registry.check]] names any runtime
  // handle_async calls whose completion has not run yet: the destructor waits for them (their
  // completions run on the index's and the audit log's threads and use this object).
  mutable std::mutex async_mutex_;
  mutable std::condition_variable async_idle_;
  mutable std::size_t async_pending_ = 0;
};

// Registers KVM, SNP, SGX and TDX verifiers configured from steward.policy() (throws the
// attestation library's policy errors for a bad [snp]/[sgx]/[tdx] table).
void register_default_verifiers(Steward& steward);

// Fills the attested facts of an index row from `evidence` (fields the evidence does not give
// stay ""); the certificate's own fields (serial, validity, SANs, DER) are the caller's.
void add_evidence_facts(IssuedCertificate& row, const VerifiedEvidence& evidence);

// Helpers shared with replay and tests.
// The evidence OIDs steward knows (registered or not).
bool is_evidence_oid(std::string_view oid);
// The TCG DICE tagged-evidence extension value steward emits (docs/oids.md).
Bytes encode_tagged_evidence(std::string_view evidence_oid, ByteView evidence,
                             DigestAlgorithm pubkey_hash_alg, ByteView spki_der);

}  // namespace enarx::steward
