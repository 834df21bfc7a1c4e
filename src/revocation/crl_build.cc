// build_crl: steward's CRL, assembled and signed with OpenSSL's X509_CRL API.
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits>

#include "core/error.h"
#include "core/signing.h"
#include "revocation/asn1_time.h"
#include "revocation/crl.h"

namespace enarx::revocation {

namespace {

using RevokedPtr = ossl::Ptr<X509_REVOKED, X509_REVOKED_free>;
using AkidPtr = ossl::Ptr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using EnumeratedPtr = ossl::Ptr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;

constexpr std::size_t kMaxSerialOctets = 20;  // RFC 5280 4.1.2.2

[[noreturn]] void fail(std::string_view message) {
  ossl::throw_error(ErrorKind::kInvalidInput, "revocation.crl.build", message);
}

ossl::Asn1IntegerPtr serial_integer(ByteView big_endian) {
  std::size_t skip = 0;
  while (skip < big_endian.size() && big_endian[skip] == 0) ++skip;
  if (big_endian.empty() || big_endian.size() - skip > kMaxSerialOctets)
    fail("a CRL entry's serial must be 1 to 20 octets");
  ossl::BignumPtr bn(BN_bin2bn(big_endian.data(), static_cast<int>(big_endian.size()), nullptr));
  ossl::Asn1IntegerPtr ai(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!ai) ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "serial encoding failed");
  return ai;
}

// RFC 5280 5.2.1: the CA's subjectKeyIdentifier, or (a CA without one) method 1 of 4.2.1.2.
AkidPtr authority_key_id(const Certificate& ca_cert) {
  AkidPtr akid(AUTHORITY_KEYID_new());
  ossl::Asn1OctetPtr id(ASN1_OCTET_STRING_new());
  if (!akid || !id) ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "allocation failed");
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca_cert.get())) {
    if (ASN1_STRING_copy(id.get(), ski) != 1) ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "copy");
  } else {
    ERR_clear_error();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(ca_cert.get(), EVP_sha1(), md, &len) != 1 ||
        ASN1_OCTET_STRING_set(id.get(), md, static_cast<int>(len)) != 1)
      ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "key identifier");
  }
  akid->keyid = id.release();
  return akid;
}

}  // namespace

Bytes build_crl(const PrivateKey& ca_key, const Certificate& ca_cert, std::span<const CrlEntry> entries,
                std::uint64_t number, TimePoint this_update, TimePoint next_update) {
  if (!ca_key || !ca_cert) fail("no CA key or certificate");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) fail("the CA key does not match the CA certificate");
  if (next_update < this_update) fail("nextUpdate is before thisUpdate");
  if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) fail("cRLNumber over 2^63 - 1");

  ossl::X509CrlPtr crl(X509_CRL_new());
  if (!crl) ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "X509_CRL_new failed");
  const auto this_time = detail::to_asn1_time(this_update);
  const auto next_time = detail::to_asn1_time(next_update);
  if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_time.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_time.get()) != 1)
    ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "CRL fields");

  for (const CrlEntry& entry : entries) {
    RevokedPtr revoked(X509_REVOKED_new());
    if (!revoked) ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "X509_REVOKED_new failed");
    const auto serial = serial_integer(entry.serial);
    const auto when = detail::to_asn1_time(entry.revoked_at);
    if (X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1)
      ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "CRL entry");
    if (entry.reason != Reason::kUnspecified) {
      EnumeratedPtr code(ASN1_ENUMERATED_new());
      if (!code || ASN1_ENUMERATED_set(code.get(), static_cast<long>(entry.reason)) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(), 0, 0) != 1)
        ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "reasonCode");
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1)
      ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "adding a CRL entry");
    revoked.release();  // owned by the CRL now
  }

  const auto akid = authority_key_id(ca_cert);
  ossl::Asn1IntegerPtr crl_number(ASN1_INTEGER_new());
  if (!crl_number || ASN1_INTEGER_set_uint64(crl_number.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0, 0) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1)
    ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "CRL extensions");

  if (X509_CRL_sort(crl.get()) != 1) ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "sort");
  if (X509_CRL_sign(crl.get(), ca_key.get(), signature_digest(ca_key.type())) <= 0)
    ossl::throw_error(ErrorKind::kInternal, "revocation.crl.build", "signing the CRL failed");
  return ossl::to_der(i2d_X509_CRL, crl.get(), "revocation.crl.build");
}

}  // namespace enarx::revocation
