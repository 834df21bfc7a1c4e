// RFC 6960 OCSP: steward's responder (ocsp_respond).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

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

}  // namespace enarx::revocation
