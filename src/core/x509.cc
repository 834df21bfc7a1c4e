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

// ---------------- Certificate ----------------

Certificate::Certificate(ossl::X509Ptr cert) : cert_(share(std::move(cert))) {}

Certificate Certificate::from_der(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", "invalid DER certificate");
  if (p != der.data() + der.size()) {
    throw Error(ErrorKind::kInvalidInput, "x509.malformed", "trailing bytes after the certificate (" +
                                      std::to_string(der.data() + der.size() - p) + ")");
  }
  return Certificate(std::move(x));
}

Certificate Certificate::from_pem(std::string_view pem) {
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  ossl::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", "no valid PEM certificate");
  return Certificate(std::move(x));
}

bool is_pem(ByteView data) {
  // Every certificate, CRL and CSR is longer than 127 bytes, so its DER starts with a SEQUENCE
  // tag and a long-form length; no text does (0x81..0x84 after '0' is not UTF-8).
  if (data.size() >= 2 && data[0] == 0x30 && data[1] >= 0x81 && data[1] <= 0x84) return false;
  return as_string(data).find("-----BEGIN ") != std::string_view::npos;
}

Certificate Certificate::from_bytes(ByteView data) {
  if (is_pem(data)) return from_pem(as_string(data));
  return from_der(data);
}

std::vector<Certificate> Certificate::chain_from_pem(std::string_view pem) {
  std::vector<Certificate> out;
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  while (true) {
    ossl::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) {
      const unsigned long err = ERR_peek_last_error();
      if (!out.empty() && ERR_GET_LIB(err) == ERR_LIB_PEM &&
          ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", out.empty() ? "no valid PEM certificate"
                                                      : "invalid PEM certificate in bundle");
    }
    out.emplace_back(std::move(x));
  }
  return out;
}

std::vector<Certificate> Certificate::chain_from_der_sequence(ByteView der) {
  std::vector<Certificate> out;
  try {
    der::Reader outer(der);
    der::Reader seq = outer.read_sequence();
    outer.expect_end();
    while (!seq.empty()) out.push_back(from_der(seq.read(der::kSequence).whole));
  } catch (const Error& e) {
    if (e.code() == "x509.malformed") throw;
    throw Error(ErrorKind::kInvalidInput, "x509.malformed", std::string("bad SEQUENCE OF Certificate: ") + e.what());
  }
  return out;
}

Bytes Certificate::chain_to_der_sequence(std::span<const Certificate> chain) {
  der::Writer w;
  for (const Certificate& c : chain) w.add_raw(c.to_der());
  return w.wrap(der::kSequence);
}

Bytes Certificate::to_der() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return ossl::to_der(i2d_X509, cert_.get(), "x509.encode");
}

std::string Certificate::to_pem() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio && PEM_write_bio_X509(bio.get(), cert_.get()) == 1, ErrorKind::kInternal, "x509.encode",
              "PEM encoding failed");
  return ossl::bio_to_string(bio.get());
}

std::string Certificate::subject() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return name_to_string(X509_get_subject_name(cert_.get()));
}

std::string x509_name_to_string(ByteView name_der) {
  const unsigned char* p = name_der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(name_der.size())));
  require(name != nullptr && p == name_der.data() + name_der.size(), ErrorKind::kInvalidInput,
          "x509.bad_name", "not a DER Name");
  return name_to_string(name.get());
}

std::string Certificate::issuer() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return name_to_string(X509_get_issuer_name(cert_.get()));
}

std::string Certificate::subject_common_name() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  const X509_NAME* name = X509_get_subject_name(cert_.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", "common name is not convertible to UTF-8");
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Bytes Certificate::serial() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert_.get()), nullptr));
  if (!bn) ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", "bad serial number");
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  if (out.empty()) out.push_back(0);
  return out;
}

std::string Certificate::serial_hex() const { return to_hex(serial()); }

TimePoint Certificate::not_before() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return asn1_time_to_point(X509_get0_notBefore(cert_.get()), "notBefore");
}

TimePoint Certificate::not_after() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return asn1_time_to_point(X509_get0_notAfter(cert_.get()), "notAfter");
}

PublicKey Certificate::public_key() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  ossl::PkeyPtr k(X509_get_pubkey(cert_.get()));
  if (!k) ossl::throw_error(ErrorKind::kInvalidInput, "x509.public_key", "unsupported or invalid certificate public key");
  return PublicKey(std::move(k));
}

Bytes Certificate::spki_der() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return ossl::to_der(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(cert_.get()), "x509.encode");
}

Bytes Certificate::fingerprint_sha256() const { return sha256(to_der()); }

bool Certificate::is_self_issued() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return X509_NAME_cmp(X509_get_subject_name(cert_.get()), X509_get_issuer_name(cert_.get())) == 0;
}

bool Certificate::is_ca() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  return (X509_get_extension_flags(cert_.get()) & EXFLAG_CA) != 0;
}

std::vector<Extension> Certificate::extensions() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  std::vector<Extension> out;
  const int n = X509_get_ext_count(cert_.get());
  for (int i = 0; i < n; ++i) out.push_back(to_extension(X509_get_ext(cert_.get(), i)));
  return out;
}

std::optional<Extension> Certificate::extension(std::string_view oid) const {
  for (Extension& e : extensions()) {
    if (e.oid == oid) return std::move(e);
  }
  return std::nullopt;
}

SubjectAltNames Certificate::subject_alt_names() const {
  auto ext = extension(kOidSan);
  if (!ext) return {};
  return decode_subject_alt_names(ext->value);
}

std::optional<std::string> Certificate::crl_distribution_point() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  int crit = 0;
  ossl::Ptr<CRL_DIST_POINTS, CRL_DIST_POINTS_free> dps(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(cert_.get(), NID_crl_distribution_points, &crit, nullptr)));
  if (!dps) {
    ERR_clear_error();
    return std::nullopt;
  }
  for (int i = 0; i < sk_DIST_POINT_num(dps.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    if (!dp->distpoint || dp->distpoint->type != 0) continue;
    const GENERAL_NAMES* names = dp->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, j);
      if (gn->type == GEN_URI) {
        const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
        return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> Certificate::ocsp_responder() const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  ossl::Ptr<STACK_OF(OPENSSL_STRING), X509_email_free> urls(X509_get1_ocsp(cert_.get()));
  if (!urls || sk_OPENSSL_STRING_num(urls.get()) == 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  return std::string(sk_OPENSSL_STRING_value(urls.get(), 0));
}

bool Certificate::signed_by(const PublicKey& issuer_key) const {
  require(cert_ != nullptr, ErrorKind::kInvalidInput, "x509.empty", "no certificate");
  require(static_cast<bool>(issuer_key), ErrorKind::kInvalidInput, "crypto.no_key", "no issuer key");
  const bool ok = X509_verify(cert_.get(), issuer_key.get()) == 1;
  ERR_clear_error();
  return ok;
}

bool Certificate::operator==(const Certificate& other) const {
  if (!cert_ || !other.cert_) return !cert_ && !other.cert_;
  return X509_cmp(cert_.get(), other.cert_.get()) == 0;
}

}  // namespace enarx
