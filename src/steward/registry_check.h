// The registry check (docs/steward.md "Registry check"): before certifying a keep's workload
// names, steward reads the tag the slug names from the drawbridge that serves it and confirms
// that the tag exists, that its root entry has the CSR's workload digest, and that it is signed
// by the CSR's signer, a key the policy allows. Without it steward certifies whatever names an
// allow-listed runtime states.
//
// Every refusal is an Error with a stable code (kind -> HTTP status, net::http_status):
//   steward.registry.names_missing       the CSR names a workload but not all of slug (with a
//                                        tag), workload digest and signer        (policy_rejected)
//   steward.registry.no_host             the slug names no host: it would grant reads on every
//                                        registry, but steward asked only one     (policy_rejected)
//   steward.registry.host_not_allowed    only_listed_hosts, and the host is not listed
//   steward.registry.signer_not_allowed  the CSR's signer is not in the rule's allowed_signers
//   steward.registry.tag_not_found       404: no such complete tag, or a private repository
//                                        steward may not read                     (policy_rejected)
//   steward.registry.unsigned            the tag is a plain entry, not a JWS      (policy_rejected)
//   steward.registry.bad_signature       the JWS does not verify                  (untrusted)
//   steward.registry.signer_mismatch     the tag is not signed by the CSR's signer (policy_rejected)
//   steward.registry.digest_mismatch     the root entry's digest is not the CSR's (policy_rejected)
//   steward.registry.unreachable         transport failure, TLS failure, timeout  (unavailable)
//   steward.registry.unauthorized        401/403: steward's token was refused     (unavailable)
//   steward.registry.bad_answer          any other status, an oversized or malformed answer
//   steward.registry.token_unreadable    the configured token file cannot be read (internal)
#pragma once

#include <map>
#include <memory>
#include <string>

#include "identity/workload.h"
#include "steward/policy.h"

namespace enarx::net {
class HttpClient;
}

namespace enarx::steward {

// What the check established, recorded in the certificate's claims (`registry_check`).
struct RegistryCheckResult {
  std::string drawbridge;  // base URL of the drawbridge that answered
  std::string tag;         // the slug, "host/user/repo:tag"
  std::string digest;      // "<alg>:<hex>", the root entry's digest (= the CSR's)
  std::string signer;      // hex SHA-256 of the signing key's SPKI (= the CSR's)
};

class RegistryChecker {
 public:
  explicit RegistryChecker(const RegistryPolicy& policy);
  ~RegistryChecker();
  RegistryChecker(const RegistryChecker&) = delete;
  RegistryChecker& operator=(const RegistryChecker&) = delete;

  // Thread-safe. Throws Error("steward.registry.*") (above) unless every check passes.
  RegistryCheckResult check(const identity::WorkloadIdentity& names,
                            const RegistryCheckRule& rule) const;

  // Where a slug host's tags are read: its [registry.hosts] url, else https://<host>.
  std::string base_url(const std::string& host) const;

  // Reads every configured token file once; throws steward.registry.token_unreadable (start-up).
  void check_token_files() const;

 private:
  struct Endpoint;
  const Endpoint& endpoint_for(const std::string& host) const;

  RegistryPolicy policy_;
  std::map<std::string, std::unique_ptr<Endpoint>> listed_;  // by lower-case host
  std::unique_ptr<Endpoint> unlisted_;                        // base URL filled per request
};

}  // namespace enarx::steward
