// Helpers shared by the parts of core/x509 (certificate, CRL, chain, builder, SAN codec).
// Not part of the public API.
#pragma once

#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/openssl.h"
#include "core/x509.h"

namespace enarx::x509_detail {

inline constexpr const char* kOidSan = "2.5.29.17";
inline constexpr const char* kOidEku = "2.5.29.37";
inline constexpr const char* kOidAnyEku = "2.5.29.37.0";
constexpr std::time_t kAsn1EndOfTime = 253402300799;  // 9999-12-31T23:59:59Z

std::shared_ptr<X509> share(ossl::X509Ptr p);
std::string name_to_string(const X509_NAME* name);
TimePoint from_unix_seconds(std::time_t secs);
TimePoint asn1_time_to_point(const ASN1_TIME* t, std::string_view what);
std::time_t to_time_t(TimePoint t);
std::string obj_to_dotted(const ASN1_OBJECT* obj);
Extension to_extension(X509_EXTENSION* ext);
ossl::X509ExtPtr make_extension(const std::string& oid, bool critical, ByteView value);
const char* verify_error_code(int err);
void apply_crls(const std::vector<Certificate>& path, const std::vector<Crl>& crls, TimePoint at);
void check_eku(const Certificate& leaf, const std::string& required);
std::string eku_oid(const std::string& name);
int key_usage_bit(const std::string& name);

}  // namespace enarx::x509_detail
