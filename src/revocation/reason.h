// RFC 5280 CRLReason codes (section 5.3.1), shared by steward's index, its CRL and OCSP
// responses, and relying parties' status checks. Names are the RFC's ASN.1 identifiers, which
// is also how `openssl crl -text` / `openssl ocsp` print them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace enarx::revocation {

enum class Reason : std::uint8_t {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  // 6 certificateHold and 8 removeFromCRL are not used: steward never suspends, it revokes.
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};

// "keyCompromise", "cACompromise", "superseded", ... (RFC 5280 spelling).
std::string_view reason_name(Reason reason);
// Accepts the RFC spelling (case-insensitive) and the decimal code; nullopt for anything else,
// including 6/certificateHold and 8/removeFromCRL.
std::optional<Reason> parse_reason(std::string_view text);

}  // namespace enarx::revocation
