// check_crl / verify_crl: a relying party's use of a CRL, on OpenSSL's X509_CRL API.
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "revocation/asn1_time.h"
#include "revocation/crl.h"

namespace enarx::revocation {

namespace {

using EnumeratedPtr = ossl::Ptr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;

[[noreturn]] void untrusted(std::string_view code, const std::string& message) {
  ERR_clear_error();
  throw Error(ErrorKind::kUntrusted, std::string(code), message);
}

template <typename Get, typename Count>
bool any_critical(Count count, Get get) {
  for (int i = 0; i < count; ++i)
    if (X509_EXTENSION_get_critical(get(i)) > 0) return true;
  return false;
}

Reason reason_of(X509_REVOKED* entry) {
  int crit = 0;
  EnumeratedPtr code(static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &crit, nullptr)));
  ERR_clear_error();
  if (!code) return Reason::kUnspecified;
  const long value = ASN1_ENUMERATED_get(code.get());
  if (value < 0 || value > 255) return Reason::kUnspecified;
  return parse_reason(std::to_string(value)).value_or(Reason::kUnspecified);
}

}  // namespace

CrlVerdict verify_crl(const Crl& crl, const Certificate& issuer, TimePoint at, const CrlCheckOptions& options) {
  require(static_cast<bool>(crl) && static_cast<bool>(issuer), ErrorKind::kInvalidInput, "revocation.empty",
          "no CRL or issuer certificate");
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer.get())) != 0)
    untrusted("revocation.crl.wrong_issuer", "the CRL is issued by " + crl.issuer() + ", not " + issuer.subject());
  if ((X509_get_extension_flags(issuer.get()) & EXFLAG_KUSAGE) && !(X509_get_key_usage(issuer.get()) & KU_CRL_SIGN))
    untrusted("revocation.crl.wrong_issuer", issuer.subject() + " may not sign CRLs (no cRLSign key usage)");
  if (!crl.signed_by(issuer.public_key()))
    untrusted("revocation.crl.bad_signature", "the CRL is not signed by " + issuer.subject());
  X509_CRL* raw = crl.get();
  if (any_critical(X509_CRL_get_ext_count(raw), [&](int i) { return X509_CRL_get_ext(raw, i); }))
    untrusted("revocation.crl.unsupported", "the CRL has a critical extension (delta, indirect or partitioned CRL)");
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(raw);
  for (int i = 0; entries && i < sk_X509_REVOKED_num(entries); ++i) {
    X509_REVOKED* e = sk_X509_REVOKED_value(entries, i);
    if (any_critical(X509_REVOKED_get_ext_count(e), [&](int j) { return X509_REVOKED_get_ext(e, j); }))
      untrusted("revocation.crl.unsupported", "a CRL entry has a critical extension (indirect CRL)");
  }
  CrlVerdict out;
  out.this_update = crl.this_update();
  const auto next = crl.next_update();
  if (!next) untrusted("revocation.crl.unsupported", "the CRL has no nextUpdate");
  out.next_update = *next;
  out.number = crl.number();
  if (out.this_update > at + options.max_clock_skew)
    untrusted("revocation.crl.not_yet_valid", "the CRL's thisUpdate is " + format_rfc3339(out.this_update));
  if (out.next_update != TimePoint::max() && out.next_update + options.grace < at)
    untrusted("revocation.crl.expired", "the CRL's nextUpdate was " + format_rfc3339(out.next_update));
  return out;
}

CrlVerdict check_crl(const Crl& crl, const Certificate& cert, const Certificate& issuer, TimePoint at,
                     const CrlCheckOptions& options) {
  require(static_cast<bool>(cert), ErrorKind::kInvalidInput, "revocation.empty", "no certificate");
  require(static_cast<bool>(issuer), ErrorKind::kInvalidInput, "revocation.empty", "no issuer certificate");
  if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get())) != 0)
    throw Error(ErrorKind::kInvalidInput, "revocation.wrong_issuer",
                cert.subject() + " is issued by " + cert.issuer() + ", not " + issuer.subject());
  CrlVerdict out = verify_crl(crl, issuer, at, options);
  if (const auto entry = find_revocation(crl, cert)) {
    out.revoked = true;
    out.revoked_at = entry->revoked_at;
    out.reason = entry->reason;
  }
  return out;
}

std::optional<CrlRevocation> find_revocation(const Crl& crl, const Certificate& cert) {
  require(static_cast<bool>(crl) && static_cast<bool>(cert), ErrorKind::kInvalidInput, "revocation.empty",
          "no CRL or certificate");
  X509_REVOKED* entry = nullptr;
  // 1: listed; 2: listed as removeFromCRL (not revoked); 0: not listed. A binary search.
  const int rc = X509_CRL_get0_by_serial(crl.get(), &entry, X509_get0_serialNumber(cert.get()));
  ERR_clear_error();
  if (rc != 1 || !entry) return std::nullopt;
  return CrlRevocation{detail::from_asn1_time(X509_REVOKED_get0_revocationDate(entry), "revocation.crl.malformed"),
                       reason_of(entry)};
}

}  // namespace enarx::revocation
