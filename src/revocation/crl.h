// RFC 5280 CRLs: what steward signs (build_crl) and what relying parties check (check_crl).
#pragma once

#include <chrono>
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
// serial, next_update before this_update, a number over 2^63 - 1 (what Crl::number() reads), or
// a key that does not match ca_cert.
Bytes build_crl(const PrivateKey& ca_key, const Certificate& ca_cert, std::span<const CrlEntry> entries,
                std::uint64_t number, TimePoint this_update, TimePoint next_update);

// ---------------- relying party ----------------

struct CrlCheckOptions {
  // Accept a CRL this long past its nextUpdate (a steward that is briefly late publishing).
  std::chrono::seconds grace{0};
  // Accept a thisUpdate this far in the future (clock skew between steward and us).
  std::chrono::seconds max_clock_skew{60};
};

// What a CRL says about one certificate (and about itself).
struct CrlVerdict {
  bool revoked = false;
  TimePoint revoked_at{};                 // when revoked
  Reason reason = Reason::kUnspecified;   // when revoked (no reasonCode: kUnspecified)
  std::optional<std::int64_t> number{};   // cRLNumber
  TimePoint this_update{};
  TimePoint next_update{};
};

// Checks that `crl` may speak for `issuer` at `at`, without looking at any certificate:
//   revocation.crl.wrong_issuer   (kUntrusted) the CRL's issuer name is not issuer's subject, or
//                                 issuer has a keyUsage without cRLSign
//   revocation.crl.bad_signature  (kUntrusted) not signed by issuer's key
//   revocation.crl.unsupported    (kUntrusted) no nextUpdate, or a critical CRL or entry
//                                 extension (delta, indirect or partitioned CRLs: RFC 5280 5.2
//                                 says such a CRL must not be used by who cannot process it)
//   revocation.crl.not_yet_valid  (kUntrusted) thisUpdate > at + max_clock_skew
//   revocation.crl.expired        (kUntrusted) nextUpdate + grace < at
// Returns the CRL's verdict fields (revoked = false).
CrlVerdict verify_crl(const Crl& crl, const Certificate& issuer, TimePoint at, const CrlCheckOptions& options = {});

// `cert`'s entry in `crl` (by serial), with no check of the CRL itself: for a CRL already
// verified with verify_crl. nullopt when not listed (or listed as removeFromCRL).
struct CrlRevocation {
  TimePoint revoked_at{};
  Reason reason = Reason::kUnspecified;
};
std::optional<CrlRevocation> find_revocation(const Crl& crl, const Certificate& cert);

// verify_crl, then `cert`'s entry (by serial): revoked, when and why. `cert` must name `issuer`
// as its issuer (else revocation.wrong_issuer, kInvalidInput). A listed removeFromCRL entry is
// not a revocation; certificateHold (a suspension, which steward never uses) is reported as
// revoked with reason kUnspecified: fail closed.
CrlVerdict check_crl(const Crl& crl, const Certificate& cert, const Certificate& issuer, TimePoint at,
                     const CrlCheckOptions& options = {});

}  // namespace enarx::revocation
