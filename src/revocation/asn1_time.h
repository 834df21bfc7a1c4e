// TimePoint <-> ASN1_TIME for the revocation sources. Not part of the public API.
#pragma once

#include <openssl/asn1.h>

#include <string_view>

#include "core/clock.h"
#include "core/openssl.h"

namespace enarx::revocation::detail {

// UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5); TimePoint::max() is
// 9999-12-31T23:59:59Z.
ossl::Asn1TimePtr to_asn1_time(TimePoint t);
// Throws Error(kInvalidInput, code) when `t` is absent or malformed.
TimePoint from_asn1_time(const ASN1_TIME* t, std::string_view code);

}  // namespace enarx::revocation::detail
