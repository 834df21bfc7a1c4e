#include "core/x509.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/der.h"
#include "core/error.h"
#include "core/x509_detail.h"

namespace enarx {

using namespace x509_detail;

// ---------------- Crl ----------------

Crl::Crl(ossl::X509CrlPtr crl) : crl_(crl.release(), X509_CRL_free) {}

Crl Crl::from_der(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509CrlPtr c(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!c) ossl::throw_error(ErrorKind::kInvalidInput, "x509.crl_malformed", "invalid DER CRL");
  if (p != der.data() + der.size()) throw Error(ErrorKind::kInvalidInput, "x509.crl_malformed", "trailing bytes after CRL");
  // RFC 5280 5.1.1.2: signatureAlgorithm must equal the signature field inside tbsCertList.
  // OpenSSL verifies with the outer one and never compares them, so an altered outer
  // identifier would go unnoticed; compare the exact encodings (also proves strict DER framing).
  try {
    der::Reader outer(der);
    der::Reader list = outer.read_sequence();
    outer.expect_end();
    der::Reader tbs = list.read_sequence();
    const der::Element outer_alg = list.read(der::kSequence);
    if (tbs.peek_tag() == der::kInteger) tbs.read(der::kInteger);  // version
    const der::Element inner_alg = tbs.read(der::kSequence);
    if (!std::equal(inner_alg.whole.begin(), inner_alg.whole.end(), outer_alg.whole.begin(),
                    outer_alg.whole.end()))
      throw Error(ErrorKind::kInvalidInput, "x509.crl_malformed",
                  "the CRL's signatureAlgorithm differs from the signature field it signs");
  } catch (const Error& e) {
    if (e.code() == "x509.crl_malformed") throw;
    throw Error(ErrorKind::kInvalidInput, "x509.crl_malformed", std::string("CRL is not strict DER: ") + e.what());
  }
  return Crl(std::move(c));
}

Crl Crl::from_pem(std::string_view pem) {
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  ossl::X509CrlPtr c(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!c) ossl::throw_error(ErrorKind::kInvalidInput, "x509.crl_malformed", "no valid PEM CRL");
  return from_der(ossl::to_der(i2d_X509_CRL, c.get(), "x509.encode"));  // the same checks as DER
}

Crl Crl::from_bytes(ByteView data) {
  if (is_pem(data)) return from_pem(as_string(data));
  return from_der(data);
}

Bytes Crl::to_der() const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  return ossl::to_der(i2d_X509_CRL, crl_.get(), "x509.encode");
}

std::string Crl::issuer() const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  return name_to_string(X509_CRL_get_issuer(crl_.get()));
}

TimePoint Crl::this_update() const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  return asn1_time_to_point(X509_CRL_get0_lastUpdate(crl_.get()), "thisUpdate");
}

std::optional<TimePoint> Crl::next_update() const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(crl_.get());
  if (!t) return std::nullopt;
  return asn1_time_to_point(t, "nextUpdate");
}

std::optional<std::int64_t> Crl::number() const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  int crit = 0;
  ossl::Asn1IntegerPtr n(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl_.get(), NID_crl_number, &crit, nullptr)));
  if (!n) {
    ERR_clear_error();
    return std::nullopt;
  }
  int64_t v = 0;
  if (ASN1_INTEGER_get_int64(&v, n.get()) != 1) {
    ossl::throw_error(ErrorKind::kInvalidInput, "x509.crl_malformed", "cRLNumber does not fit 64 bits");
  }
  return v;
}

bool Crl::is_revoked(const Certificate& cert) const {
  require(crl_ != nullptr && cert, ErrorKind::kInvalidInput, "x509.empty", "no CRL or certificate");
  X509_REVOKED* rev = nullptr;
  // 1 = revoked; 2 = listed with reason removeFromCRL (not revoked).
  const int rc = X509_CRL_get0_by_serial(crl_.get(), &rev,
                                         X509_get0_serialNumber(cert.get()));
  return rc == 1;
}

std::size_t Crl::revoked_count() const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  return revoked ? static_cast<std::size_t>(sk_X509_REVOKED_num(revoked)) : 0;
}

bool Crl::signed_by(const PublicKey& issuer_key) const {
  require(crl_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no CRL");
  require(static_cast<bool>(issuer_key), ErrorKind::kInvalidInput, "crypto.no_key", "no issuer key");
  const bool ok = X509_CRL_verify(crl_.get(), issuer_key.get()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace enarx
