// RFC 5280 CRLs: what steward signs (build_crl).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/x509.h"
#include "revocation/reason.h"

namespace enarx::revocation {

struct CrlEntry {
  Bytes serial;  // big-endian magnitude
  TimePoint revoked_at;
  Reason reason = Reason::kUnspecified;
};

// An RFC 5280 v2 CRL (DER): issuer = ca_cert's subject, authorityKeyIdentifier (ca_cert's
// subjectKeyIdentifier, or the SHA-1 of its key when it has none), cRLNumber = `number`,
// thisUpdate, nextUpdate, one entry per CrlEntry (sorted by serial) with a reasonCode extension
// unless the reason is kUnspecified (RFC 5280 5.3.1: SHOULD be absent then). Signed by ca_key
// with its default digest (PrivateKey::default_digest(); none for Ed25519).
// Throws Error(kInvalidInput, "revocation.crl.build") for an empty or over-long (> 20 octets)
// serial, next_update before this_update, or a key that does not match ca_cert.
Bytes build_crl(const PrivateKey& ca_key, const Certificate& ca_cert, std::span<const CrlEntry> entries,
                std::uint64_t number, TimePoint this_update, TimePoint next_update);

}  // namespace enarx::revocation
