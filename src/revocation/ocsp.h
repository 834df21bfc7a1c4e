// RFC 6960 OCSP: steward's responder (ocsp_respond), and the relying party's request
// (build_ocsp_request) and check of the answer (check_ocsp_response).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/x509.h"
#include "revocation/reason.h"

namespace enarx::revocation {

enum class CertState { kGood, kRevoked, kUnknown };

struct SerialStatus {
  CertState state = CertState::kUnknown;
  TimePoint revoked_at{};
  Reason reason = Reason::kUnspecified;
};

struct OcspResponderOptions {
  std::chrono::seconds validity{3600};  // nextUpdate = now + validity
  std::size_t max_request_size = 8192;  // bytes of DER
  std::size_t max_single_requests = 16;
};

// Answers one DER OCSPRequest with a DER OCSPResponse. Never throws for bad input: a request
// that is over max_request_size, not exactly one DER OCSPRequest, or has no or more than
// max_single_requests single requests gets malformedRequest; one in which no single request is
// about ca_cert gets unauthorized. A single request is about ca_cert when its CertID's
// issuerNameHash and issuerKeyHash match ca_cert under the request's hash algorithm (SHA-1,
// SHA-224, SHA-256, SHA-384 or SHA-512); its status is then lookup(serial, big-endian
// magnitude). Single requests about another issuer (or under another hash) are answered
// `unknown`. The BasicOCSPResponse is signed by ca_key itself (responderID byKey, no certs,
// ca_key's default digest), thisUpdate = now, nextUpdate = now + validity, and echoes the
// request's nonce extension when it has one. producedAt is the signing time OpenSSL reads from
// the system clock. A revocation reason of kUnspecified is left out (revocationReason OPTIONAL).
// Exceptions thrown by `lookup` (e.g. steward's index is unavailable) propagate unchanged;
// failures to sign throw Error(kInternal, "revocation.ocsp.respond").
Bytes ocsp_respond(ByteView request_der, const PrivateKey& ca_key, const Certificate& ca_cert,
                   const std::function<SerialStatus(ByteView serial)>& lookup, TimePoint now,
                   const OcspResponderOptions& options = {});

// ---------------- relying party ----------------

struct OcspRequest {
  Bytes der;    // the DER OCSPRequest (POST it as application/ocsp-request)
  Bytes nonce;  // empty when sent without a nonce
};

// One single request for `cert` issued by `issuer` (CertID under SHA-1, which RFC 5019
// responders must support; the CertID is an identifier, not a signature), with a random
// 16-byte nonce unless `with_nonce` is false. Throws revocation.wrong_issuer (kInvalidInput)
// when `cert` does not name `issuer` as its issuer.
OcspRequest build_ocsp_request(const Certificate& cert, const Certificate& issuer, bool with_nonce = true);

struct OcspCheckOptions {
  std::size_t max_response_size = 64 * 1024;
  // Accept a response this long past its nextUpdate.
  std::chrono::seconds grace{0};
  // A response without nextUpdate (RFC 6960: "newer information is always available") is
  // accepted when its thisUpdate is at most this old.
  std::chrono::seconds max_age_without_next_update{300};
  std::chrono::seconds max_clock_skew{60};  // thisUpdate may be this far in the future
  // A request sent with a nonce needs the response to echo it; a responder that serves
  // pre-produced responses (RFC 5019) never does. Off: a missing nonce is refused.
  bool allow_missing_nonce = false;
};

struct OcspVerdict {
  CertState state = CertState::kUnknown;
  TimePoint revoked_at{};
  Reason reason = Reason::kUnspecified;
  TimePoint this_update{};
  std::optional<TimePoint> next_update{};
  bool delegated = false;  // signed by a delegated responder, not the issuer itself
};

// Checks an OCSPResponse (DER) to `request` about `cert` from `issuer`, at `at`:
//   revocation.ocsp.too_large         (kTooLarge) over max_response_size
//   revocation.ocsp.malformed         (kInvalidInput) not exactly one DER OCSPResponse with a
//                                     basic response
//   revocation.ocsp.error_status      (kUnavailable) the responder answered malformedRequest,
//                                     internalError, tryLater, sigRequired or unauthorized
//   revocation.ocsp.bad_signature     (kUntrusted) no signer found (responderID names no
//                                     certificate we know), or the signature does not verify
//   revocation.ocsp.unauthorized_signer (kUntrusted) signed by a certificate that is neither
//                                     the issuer nor a responder the issuer certified with the
//                                     OCSPSigning EKU (valid at `at`)
//   revocation.ocsp.no_status         (kUntrusted) no SingleResponse for this CertID (another
//                                     serial or issuer)
//   revocation.ocsp.nonce_mismatch    (kUntrusted) the nonce sent is not echoed (see options)
//   revocation.ocsp.not_yet_valid / revocation.ocsp.stale (kUntrusted) freshness
//   revocation.wrong_issuer           (kInvalidInput) `cert` does not name `issuer`
// Returns the certificate's state, which may be kUnknown (the responder does not know it).
OcspVerdict check_ocsp_response(ByteView response_der, const OcspRequest& request, const Certificate& cert,
                                const Certificate& issuer, TimePoint at, const OcspCheckOptions& options = {});

// The certificate's OCSP responder URLs (authorityInfoAccess id-ad-ocsp), in order.
std::vector<std::string> ocsp_urls(const Certificate& cert);

}  // namespace enarx::revocation
