// The keep's identity (deploy step "attest"): a fresh TLS key that never leaves memory, hardware
// evidence binding its public key, a CSR carrying that evidence and the workload identity SANs,
// and the certificate chain steward issues for it — or, with no steward (nil platform or when
// asked), a self-signed certificate as Enarx does.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/x509.h"
#include "net/http_client.h"
#include "platform/csr_evidence.h"
#include "platform/platform.h"
#include "identity/workload.h"

namespace enarx::client {

struct Identity {
  PrivateKey key;                  // the keep's TLS key: memory only
  std::vector<Certificate> chain;  // leaf first, then steward's CA chain
  bool self_signed = false;
  platform::Platform platform = platform::Platform::Nil;
  bool simulated = false;

  std::string chain_pem() const;
};

// Builds the keep's CSR: empty subject (as Enarx), the workload identity as URI SANs (no DNS
// name), the evidence extension, signed with `key`.
Bytes build_keep_csr(const PrivateKey& key, const Extension& evidence,
                     const identity::WorkloadIdentity& workload);

// POSTs one DER CSR to steward (`application/pkcs10`) and returns the issued chain leaf first
// (steward answers root-side first, a PkiPath). Errors: identity.steward_unreachable,
// identity.steward_rejected (with steward's problem code and status in the message),
// identity.steward_bad_response.
std::vector<Certificate> request_certificate(const std::string& steward_url, ByteView csr_der,
                                             const net::ClientOptions& http);

// Checks what steward issued before the keep uses it (`chain` leaf first, as request_certificate
// returns it): the leaf is for `key`, is an end-entity certificate for TLS server and client
// use, chains to one of `steward_cas` at `at` (when empty: to the root-side end of the returned
// chain itself, whose fingerprint `enarx deploy` prints), and carries exactly the workload names
// the keep asked for — the same slug, digest and signer, no other URI than steward's own
// `urn:enarx:keep:` name, and no DNS, IP or e-mail name (the keep asks for none, and a name it
// did not ask for is one it could be made to answer for). Throws Error:
//   identity.steward_bad_response (wrong key, no CA in the chain, not an end-entity TLS
//   certificate), identity.untrusted_issuer (x509.chain.* reason in the message),
//   identity.unexpected_names.
void check_issued_chain(const std::vector<Certificate>& chain, const PrivateKey& key,
                        const identity::WorkloadIdentity& asked, std::span<const Certificate> steward_cas,
                        TimePoint at);

struct IdentityOptions {
  identity::WorkloadIdentity workload;
  std::string steward_url;  // empty: self-signed certificate (no attestation)
  net::ClientOptions http;  // TLS trust for steward (CA bundle), timeouts
  // Trust anchors for the certificates steward issues (the keep CA; `enarx deploy
  // --steward-identity-ca`). Empty: see check_issued_chain.
  std::vector<Certificate> steward_cas;
  platform::HostCollateral collateral;
  TimePoint now = std::chrono::system_clock::now();
};

// Generates the key for `provider`'s platform (P-384 for SNP/TDX, P-256 otherwise), acquires
// evidence bound to it, and obtains a certificate from steward (or self-signs without one).
Identity establish_identity(platform::EvidenceProvider& provider, const IdentityOptions& options);

// Enarx's self-signed keep certificate: CN=localhost, random serial, one year, KeyUsage
// digitalSignature+keyEncipherment (critical), CA:false (critical), EKU server+client auth,
// plus the workload identity SANs.
Identity self_signed_identity(platform::Platform platform, const identity::WorkloadIdentity& workload,
                              TimePoint now);

}  // namespace enarx::client
