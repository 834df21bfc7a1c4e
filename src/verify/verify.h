// Relying-party verification of a keep's certificate: the chain leads to a trusted steward CA,
// the certificate carries steward's attested claims, and the workload identity and claims match
// what the relying party expects. Used by `enarx verify` and by relying-party programs
// (examples/relying_party.cc shows the library in use).
//
//   auto chain = verify::fetch_peer_chain("keep.example.com", 8443);
//   verify::Expectations want;
//   want.slug = "store.example.com/alice/app:1.0.0";
//   want.signer = "<hex fingerprint of alice's publisher key>";
//   auto peer = verify::verify_peer(chain, steward_cas, std::chrono::system_clock::now(), want);
//   // peer.claims, peer.identity, peer.platform ... ; throws enarx::Error on any mismatch.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/x509.h"
#include "identity/workload.h"
#include "revocation/status.h"

namespace enarx::verify {

struct Expectations {
  // "[host/]user/repo[:tag]": the certificate's slug must name the same user/repo, and the same
  // tag and host when given here.
  std::optional<std::string> slug;
  // "<alg>:<hex>" or bare hex (then any algorithm with that value).
  std::optional<std::string> digest;
  // The application digest (identity/package_digests.h: SHA-256 of main.wasm) and the
  // configuration digest, "sha-256:<hex>" or bare hex. Expecting the application alone accepts
  // the same application under any configuration.
  std::optional<std::string> app_digest;
  std::optional<std::string> config_digest;
  // Hex SHA-256 of the publisher's SPKI (jws::key_fingerprint).
  std::optional<std::string> signer;
  // Launch measurement (hex; SNP MEASUREMENT, SGX MRENCLAVE, TDX MRTD).
  std::optional<std::string> measurement;
  // Accept keeps attested by a simulated root of trust (tests, demos). Off by default.
  bool allow_simulated = false;
  // Accept certificates steward issued without hardware evidence (KVM / nil). Off by default.
  bool allow_insecure = false;
};

// Revocation checking of the leaf (its issuer is the next certificate of the verified path),
// by revocation::StatusChecker: a local CRL, else the certificate's OCSP responder, else its
// CRL distribution point; fail closed when the certificate names a service that gives no
// answer. On by default.
struct RevocationOptions {
  bool enabled = true;  // false: not checked (reported as such)
  revocation::StatusOptions status{};  // local CRLs, https trust (fetch.ca_file), timeouts, grace
  // A checker to reuse across calls (its CRL cache); null: one per call, made from `status`.
  std::shared_ptr<revocation::StatusChecker> checker{};
};

struct PeerIdentity {
  std::vector<Certificate> path;  // verified: leaf first, ending with the steward CA
  nlohmann::json claims;          // steward's claims extension
  enarx::identity::WorkloadIdentity identity;  // from the SANs
  std::string platform;           // "snp" | "sgx" | "tdx" | "kvm"
  std::string measurement;        // "" when the platform has none
  std::string tcb_status;         // "" when not reported
  bool simulated = false;
  bool insecure = false;
  std::string insecure_reason;
  TimePoint not_before, not_after;
  // The leaf's revocation status: good, or not checked (and why). Revoked and unavailable are
  // errors (see verify_peer).
  revocation::StatusReport revocation;

  nlohmann::json to_json() const;
  std::string to_text() const;  // multi-line, for people
};

// Verifies `chain` (leaf first, as a TLS peer sends it) against `steward_cas` at `at` and
// checks `expect`. Throws Error with a stable code:
//   x509.chain.* (chain to the steward CA), verify.no_claims, verify.claims_malformed,
//   verify.insecure_not_allowed, verify.simulated_not_allowed, verify.slug_mismatch,
//   verify.digest_mismatch, verify.app_digest_mismatch, verify.config_digest_mismatch,
//   verify.bad_expectation (an expected app/config digest that is not sha-256 hex),
//   verify.signer_mismatch, verify.measurement_mismatch,
//   identity.* (ambiguous or malformed identity SANs),
//   revocation.revoked (kUntrusted), revocation.unavailable (kUnavailable), revocation.crl.*
//   (a given CRL for the steward CA that does not verify or is not current) — checked last,
//   after every expectation, so a mismatch costs no network round trip.
PeerIdentity verify_peer(std::span<const Certificate> chain, std::span<const Certificate> steward_cas,
                         TimePoint at, const Expectations& expect, const RevocationOptions& revocation);
// The same with RevocationOptions{} (checked, online when the certificate names a service).
PeerIdentity verify_peer(std::span<const Certificate> chain, std::span<const Certificate> steward_cas,
                         TimePoint at, const Expectations& expect);

// Connects to host:port with TLS (any TLS version >= 1.2, SNI = host) and returns the peer's
// certificate chain, leaf first, WITHOUT trusting it: verify_peer decides. Optionally
// presents a client certificate. Throws Error("verify.connect_failed" / "verify.tls_failed").
std::vector<Certificate> fetch_peer_chain(const std::string& host, int port,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace enarx::verify
