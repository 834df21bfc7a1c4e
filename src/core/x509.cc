#include "core/x509.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/der.h"
#include "core/error.h"

namespace enarx {

namespace {

constexpr const char* kOidSan = "2.5.29.17";
constexpr const char* kOidEku = "2.5.29.37";
constexpr const char* kOidAnyEku = "2.5.29.37.0";

std::shared_ptr<X509> share(ossl::X509Ptr p) {
  return std::shared_ptr<X509>(p.release(), X509_free);
}



std::string name_to_string(const X509_NAME* name) {
  if (!name) return {};
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) ossl::throw_error(ErrorKind::kInternal, "x509.internal", "BIO_new failed");
  // RFC 2253 order (most specific first) but keep UTF-8 readable instead of \XX escapes.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return ossl::bio_to_string(bio.get());
}

// TimePoint counts nanoseconds in 64 bits, so it spans 1677..2262, while RFC 5280 validity runs to
// 9999-12-31T23:59:59Z (its value for "no well-defined expiration", common on CA certificates).
// Times outside the span saturate to TimePoint::min()/max() instead of wrapping: a CA valid
// "until 9999" then reads as valid forever, not as expired in 1830. TimePoint::max() is written
// back as 9999-12-31T23:59:59Z.
constexpr std::time_t kAsn1EndOfTime = 253402300799;  // 9999-12-31T23:59:59Z

TimePoint from_unix_seconds(std::time_t secs) {
  using std::chrono::seconds;
  constexpr auto max_s = std::chrono::duration_cast<seconds>(TimePoint::max().time_since_epoch()).count();
  constexpr auto min_s = std::chrono::duration_cast<seconds>(TimePoint::min().time_since_epoch()).count();
  if (secs >= max_s) return TimePoint::max();
  if (secs <= min_s) return TimePoint::min();
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds(secs)));
}

TimePoint asn1_time_to_point(const ASN1_TIME* t, std::string_view what) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
    ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", std::string("invalid ") + std::string(what));
  }
  return from_unix_seconds(timegm(&tm));
}

std::time_t to_time_t(TimePoint t) {
  if (t == TimePoint::max()) return kAsn1EndOfTime;
  return static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

std::string obj_to_dotted(const ASN1_OBJECT* obj) {
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n < 0) ossl::throw_error(ErrorKind::kInvalidInput, "x509.malformed", "bad OID");
  if (static_cast<std::size_t>(n) >= sizeof buf) {
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    OBJ_obj2txt(big.data(), n + 1, obj, 1);
    big.resize(static_cast<std::size_t>(n));
    return big;
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

Extension to_extension(X509_EXTENSION* ext) {
  Extension e;
  e.oid = obj_to_dotted(X509_EXTENSION_get_object(ext));
  e.critical = X509_EXTENSION_get_critical(ext) > 0;
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(ext);
  e.value.assign(ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v));
  return e;
}

ossl::X509ExtPtr make_extension(const std::string& oid, bool critical, ByteView value) {
  ossl::Asn1ObjectPtr obj(OBJ_txt2obj(oid.c_str(), 1));
  if (!obj) ossl::throw_error(ErrorKind::kInvalidInput, "x509.extension", "invalid extension OID \"" + oid + "\"");
  ossl::Asn1OctetPtr os(ASN1_OCTET_STRING_new());
  ossl::check(os && ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size())) == 1, ErrorKind::kInvalidInput,
              "x509.extension", "cannot build extension value");
  ossl::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, os.get()));
  if (!ext) ossl::throw_error(ErrorKind::kInvalidInput, "x509.extension", "cannot build extension " + oid);
  return ext;
}

const char* verify_error_code(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return "x509.chain.untrusted";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "x509.chain.expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "x509.chain.not_yet_valid";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
      return "x509.chain.bad_signature";
    case X509_V_ERR_CERT_REVOKED:
      return "x509.chain.revoked";
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
      return "x509.chain.crl_missing";
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return "x509.chain.crl_expired";
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return "x509.chain.crl_not_yet_valid";
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
      return "x509.chain.crl_bad_signature";
    case X509_V_ERR_INVALID_PURPOSE:
      return "x509.chain.purpose";
    default:
      return "x509.chain.invalid";
  }
}

// Our own CRL application for "use CRLs when present" mode: OpenSSL's CRL_CHECK insists on a
// CRL for every certificate, so it is only used when CRLs are required.
void apply_crls(const std::vector<Certificate>& path, const std::vector<Crl>& crls, TimePoint at) {
  // The anchor is trusted explicitly; only certificates below it are checked.
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const Certificate& cert = path[i];
    const Certificate& issuer = path[i + 1];
    const X509_NAME* issuer_name = X509_get_issuer_name(cert.get());
    std::vector<const Crl*> candidates;
    for (const Crl& crl : crls) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), issuer_name) == 0) candidates.push_back(&crl);
    }
    if (candidates.empty()) continue;
    const PublicKey issuer_key = issuer.public_key();
    std::vector<const Crl*> current;
    bool expired = false;
    bool not_yet = false;
    for (const Crl* crl : candidates) {
      if (!crl->signed_by(issuer_key)) {
        throw Error(ErrorKind::kUntrusted, "x509.chain.crl_bad_signature",
                    "CRL from " + crl->issuer() + " is not signed by " + issuer.subject());
      }
      if (crl->this_update() > at) {
        not_yet = true;
        continue;
      }
      auto next = crl->next_update();
      if (next && *next < at) {
        expired = true;
        continue;
      }
      current.push_back(crl);
    }
    if (current.empty()) {
      if (expired) {
        throw Error(ErrorKind::kUntrusted, "x509.chain.crl_expired",
                    "the CRL from " + issuer.subject() + " is past its nextUpdate");
      }
      (void)not_yet;
      throw Error(ErrorKind::kUntrusted, "x509.chain.crl_not_yet_valid",
                  "the CRL from " + issuer.subject() + " is not yet valid");
    }
    for (const Crl* crl : current) {
      if (crl->is_revoked(cert)) {
        throw Error(ErrorKind::kUntrusted, "x509.chain.revoked", "certificate " + cert.subject() + " serial " +
                                              cert.serial_hex() + " is revoked");
      }
    }
  }
}

void check_eku(const Certificate& leaf, const std::string& required) {
  if (required.empty()) return;
  auto ext = leaf.extension(kOidEku);
  if (!ext) return;  // no EKU extension: any purpose
  try {
    der::Reader outer(ext->value);
    der::Reader seq = outer.read_sequence();
    outer.expect_end();
    while (!seq.empty()) {
      const std::string oid = seq.read_oid();
      if (oid == required || oid == kOidAnyEku) return;
    }
  } catch (const Error& e) {
    throw Error(ErrorKind::kUntrusted, "x509.chain.purpose", std::string("malformed extendedKeyUsage: ") + e.what());
  }
  throw Error(ErrorKind::kUntrusted, "x509.chain.purpose",
              "leaf certificate " + leaf.subject() + " does not allow usage " + required);
}

std::string eku_oid(const std::string& name) {
  if (name == "serverAuth") return "1.3.6.1.5.5.7.3.1";
  if (name == "clientAuth") return "1.3.6.1.5.5.7.3.2";
  if (name == "codeSigning") return "1.3.6.1.5.5.7.3.3";
  if (name == "emailProtection") return "1.3.6.1.5.5.7.3.4";
  if (name == "timeStamping") return "1.3.6.1.5.5.7.3.8";
  if (name == "OCSPSigning") return "1.3.6.1.5.5.7.3.9";
  // Validate the dotted form now so a typo fails at build time.
  der::encode_oid(name);
  return name;
}

int key_usage_bit(const std::string& name) {
  static const char* kNames[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                 "dataEncipherment", "keyAgreement",  "keyCertSign",
                                 "cRLSign",          "encipherOnly",  "decipherOnly"};
  for (int i = 0; i < 9; ++i) {
    if (name == kNames[i]) return i;
  }
  throw Error(ErrorKind::kInvalidInput, "x509.builder", "unknown key usage \"" + name + "\"");
}

}  // namespace

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

// ---------------- verify_chain ----------------

std::vector<Certificate> verify_chain(const Certificate& leaf,
                                      std::span<const Certificate> intermediates,
                                      std::span<const Certificate> anchors,
                                      const ChainVerifyOptions& options) {
  require(static_cast<bool>(leaf), ErrorKind::kUntrusted, "x509.chain.invalid", "no leaf certificate");
  require(!anchors.empty(), ErrorKind::kUntrusted, "x509.chain.untrusted", "no trust anchors given");

  ossl::X509StorePtr store(X509_STORE_new());
  ossl::check(store != nullptr, ErrorKind::kInternal, "x509.internal", "X509_STORE_new failed");
  for (const Certificate& a : anchors) {
    require(static_cast<bool>(a), ErrorKind::kUntrusted, "x509.chain.invalid", "empty trust anchor");
    ossl::check(X509_STORE_add_cert(store.get(), a.get()) == 1, ErrorKind::kInternal, "x509.internal",
                "cannot add trust anchor");
  }
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  ossl::check(untrusted != nullptr, ErrorKind::kInternal, "x509.internal", "sk_X509_new_null failed");
  for (const Certificate& c : intermediates) {
    require(static_cast<bool>(c), ErrorKind::kUntrusted, "x509.chain.invalid", "empty intermediate certificate");
    ossl::check(X509_add_cert(untrusted.get(), c.get(), X509_ADD_FLAG_UP_REF) == 1, ErrorKind::kInternal,
                "x509.internal", "cannot add intermediate");
  }
  ossl::CrlStackPtr crls(sk_X509_CRL_new_null());
  ossl::check(crls != nullptr, ErrorKind::kInternal, "x509.internal", "sk_X509_CRL_new_null failed");

  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  ossl::check(ctx && X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) == 1, ErrorKind::kInternal,
              "x509.internal", "X509_STORE_CTX_init failed");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, to_time_t(options.at));
  X509_VERIFY_PARAM_set_depth(param, options.max_depth);
  if (options.partial_chain) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (options.require_crls) {
    for (const Crl& crl : options.crls) {
      ossl::check(X509_CRL_up_ref(crl.get()) == 1, ErrorKind::kInternal, "x509.internal", "X509_CRL_up_ref failed");
      if (!sk_X509_CRL_push(crls.get(), crl.get())) {
        X509_CRL_free(crl.get());
        ossl::throw_error(ErrorKind::kInternal, "x509.internal", "sk_X509_CRL_push failed");
      }
    }
    X509_STORE_CTX_set0_crls(ctx.get(), crls.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }

  const int rc = X509_verify_cert(ctx.get());
  if (rc != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    std::string msg = std::string(X509_verify_cert_error_string(err)) + " (depth " +
                      std::to_string(depth);
    if (bad) msg += ", " + name_to_string(X509_get_subject_name(bad));
    msg += ")";
    ERR_clear_error();
    throw Error(ErrorKind::kUntrusted, verify_error_code(err), msg);
  }

  std::vector<Certificate> path;
  {
    ossl::X509StackPtr chain(X509_STORE_CTX_get1_chain(ctx.get()));
    ossl::check(chain != nullptr, ErrorKind::kInternal, "x509.internal", "no chain after verification");
    for (int i = 0; i < sk_X509_num(chain.get()); ++i) {
      X509* c = sk_X509_value(chain.get(), i);
      X509_up_ref(c);
      path.emplace_back(ossl::X509Ptr(c));
    }
  }
  if (!options.require_crls && !options.crls.empty()) apply_crls(path, options.crls, options.at);
  check_eku(path.front(), options.required_eku);
  return path;
}

// ---------------- CertificateBuilder ----------------

CertificateBuilder& CertificateBuilder::subject(std::vector<std::pair<std::string, std::string>> rdns) {
  rdns_ = std::move(rdns);
  subject_der_.reset();
  return *this;
}

CertificateBuilder& CertificateBuilder::subject_der(ByteView x509_name_der) {
  subject_der_ = Bytes(x509_name_der.begin(), x509_name_der.end());
  rdns_.clear();
  return *this;
}

CertificateBuilder& CertificateBuilder::public_key(const PublicKey& key) {
  key_ = key;
  return *this;
}

CertificateBuilder& CertificateBuilder::serial(ByteView big_endian) {
  serial_ = Bytes(big_endian.begin(), big_endian.end());
  return *this;
}

CertificateBuilder& CertificateBuilder::validity(TimePoint not_before, TimePoint not_after) {
  not_before_ = not_before;
  not_after_ = not_after;
  return *this;
}

CertificateBuilder& CertificateBuilder::ca(bool is_ca, std::optional<int> path_len) {
  basic_constraints_ = std::make_pair(is_ca, path_len);
  return *this;
}

CertificateBuilder& CertificateBuilder::key_usage(std::vector<std::string> usages, bool critical) {
  for (const auto& u : usages) key_usage_bit(u);  // validate early
  key_usage_ = std::move(usages);
  key_usage_critical_ = critical;
  return *this;
}

CertificateBuilder& CertificateBuilder::extended_key_usage(std::vector<std::string> usages,
                                                           bool critical) {
  for (const auto& u : usages) eku_oid(u);  // validate early
  eku_ = std::move(usages);
  eku_critical_ = critical;
  return *this;
}

CertificateBuilder& CertificateBuilder::subject_alt_names(const SubjectAltNames& sans,
                                                          bool critical) {
  sans_ = sans;
  sans_critical_ = critical;
  return *this;
}

CertificateBuilder& CertificateBuilder::add_extension(Extension ext) {
  der::encode_oid(ext.oid);
  extensions_.push_back(std::move(ext));
  return *this;
}

CertificateBuilder& CertificateBuilder::subject_key_identifier(bool enabled) {
  ski_ = enabled;
  return *this;
}

ossl::X509NamePtr CertificateBuilder::subject_name() const {
  if (subject_der_) {
    const unsigned char* p = subject_der_->data();
    ossl::X509NamePtr n(d2i_X509_NAME(nullptr, &p, static_cast<long>(subject_der_->size())));
    if (!n || p != subject_der_->data() + subject_der_->size()) {
      ossl::throw_error(ErrorKind::kInvalidInput, "x509.builder", "invalid DER subject name");
    }
    return n;
  }
  ossl::X509NamePtr n(X509_NAME_new());
  ossl::check(n != nullptr, ErrorKind::kInternal, "x509.internal", "X509_NAME_new failed");
  for (const auto& [field, value] : rdns_) {
    if (X509_NAME_add_entry_by_txt(n.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      ossl::throw_error(ErrorKind::kInvalidInput, "x509.builder", "invalid subject attribute " + field + "=" + value);
    }
  }
  return n;
}

CertificateBuilder& CertificateBuilder::crl_distribution_point(std::string_view uri) {
  // CRLDistributionPoints ::= SEQUENCE OF DistributionPoint { distributionPoint [0] (a CHOICE,
  // so explicitly tagged) fullName [0] IMPLICIT GeneralNames { uniformResourceIdentifier [6] } }
  der::Writer name;
  name.add(0x86, as_bytes(uri));
  der::Writer full_name;
  full_name.add(der::context(0, true), name.bytes());
  der::Writer point;
  point.add(der::context(0, true), full_name.bytes());
  der::Writer points;
  points.add(der::kSequence, point.bytes());
  return add_extension(Extension{"2.5.29.31", false, points.wrap(der::kSequence)});
}

Certificate CertificateBuilder::sign(const PrivateKey& issuer_key, const Certificate* issuer) const {
  require(static_cast<bool>(issuer_key), ErrorKind::kInvalidInput, "x509.builder", "no signing key");
  require(not_before_.has_value() && not_after_.has_value(), ErrorKind::kInvalidInput, "x509.builder",
          "validity must be set explicitly");
  require(!issuer || static_cast<bool>(*issuer), ErrorKind::kInvalidInput, "x509.builder", "empty issuer certificate");
  const PublicKey subject_key = key_ ? key_ : issuer ? PublicKey() : issuer_key.public_key();
  require(static_cast<bool>(subject_key), ErrorKind::kInvalidInput, "x509.builder", "no subject public key");

  ossl::X509Ptr x(X509_new());
  ossl::check(x != nullptr, ErrorKind::kInternal, "x509.internal", "X509_new failed");
  ossl::check(X509_set_version(x.get(), X509_VERSION_3) == 1, ErrorKind::kInvalidInput, "x509.builder", "set version");

  Bytes serial = serial_ ? *serial_ : random_bytes(16);
  if (!serial_) serial[0] &= 0x7f;
  ossl::BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  ossl::Asn1IntegerPtr ai(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  ossl::check(ai && X509_set_serialNumber(x.get(), ai.get()) == 1, ErrorKind::kInvalidInput, "x509.builder", "set serial");

  ossl::check(ASN1_TIME_set(X509_getm_notBefore(x.get()), to_time_t(*not_before_)) != nullptr &&
                  ASN1_TIME_set(X509_getm_notAfter(x.get()), to_time_t(*not_after_)) != nullptr, ErrorKind::kInvalidInput,
              "x509.builder", "set validity");

  auto name = subject_name();
  ossl::check(X509_set_subject_name(x.get(), name.get()) == 1, ErrorKind::kInvalidInput, "x509.builder", "set subject");
  ossl::check(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer->get())
                                                   : name.get()) == 1, ErrorKind::kInvalidInput,
              "x509.builder", "set issuer");
  ossl::check(X509_set_pubkey(x.get(), subject_key.get()) == 1, ErrorKind::kInvalidInput, "x509.builder", "set public key");

  auto add = [&](const std::string& oid, bool critical, ByteView value) {
    auto ext = make_extension(oid, critical, value);
    ossl::check(X509_add_ext(x.get(), ext.get(), -1) == 1, ErrorKind::kInvalidInput, "x509.builder",
                "cannot add extension " + oid);
  };

  if (basic_constraints_) {
    der::Writer bc;
    if (basic_constraints_->first) bc.add_boolean(true);
    if (basic_constraints_->second) bc.add_integer(*basic_constraints_->second);
    add("2.5.29.19", basic_constraints_->first, bc.wrap(der::kSequence));
  }
  if (!key_usage_.empty()) {
    unsigned bits = 0;
    int highest = 0;
    for (const auto& u : key_usage_) {
      const int b = key_usage_bit(u);
      bits |= 1u << b;
      highest = std::max(highest, b);
    }
    // BIT STRING, named bits: bit 0 is the MSB of the first byte; trailing zero bits trimmed.
    const int nbytes = highest / 8 + 1;
    Bytes content(1 + static_cast<std::size_t>(nbytes), 0);
    for (int b = 0; b <= highest; ++b) {
      if (bits & (1u << b)) content[1 + static_cast<std::size_t>(b / 8)] |= static_cast<std::uint8_t>(0x80 >> (b % 8));
    }
    content[0] = static_cast<std::uint8_t>(nbytes * 8 - 1 - highest);
    der::Writer ku;
    ku.add(der::kBitString, content);
    add("2.5.29.15", key_usage_critical_, ku.bytes());
  }
  if (!eku_.empty()) {
    der::Writer eku;
    for (const auto& u : eku_) eku.add_oid(eku_oid(u));
    add(kOidEku, eku_critical_, eku.wrap(der::kSequence));
  }
  if (sans_) add(kOidSan, sans_critical_, encode_subject_alt_names(*sans_));

  std::optional<Bytes> ski;
  if (ski_) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
    ossl::check(X509_pubkey_digest(x.get(), EVP_sha1(), md, &len) == 1, ErrorKind::kInvalidInput, "x509.builder",
                "cannot compute subject key identifier");
    ski = Bytes(md, md + len);
    der::Writer w;
    w.add_octet_string(*ski);
    add("2.5.29.14", false, w.bytes());
  }
  std::optional<Bytes> authority_kid;
  if (issuer) {
    const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(issuer->get());
    if (id) authority_kid = Bytes(ASN1_STRING_get0_data(id), ASN1_STRING_get0_data(id) + ASN1_STRING_length(id));
  } else {
    authority_kid = ski;
  }
  if (authority_kid) {
    der::Writer w;
    w.add(der::context(0, false), *authority_kid);
    add("2.5.29.35", false, w.wrap(der::kSequence));
  }
  for (const Extension& e : extensions_) add(e.oid, e.critical, e.value);

  const EVP_MD* md = nullptr;
  switch (issuer_key.type()) {
    case KeyType::Ed25519:
      md = nullptr;
      break;
    case KeyType::EcP384:
      md = EVP_sha384();
      break;
    default:
      md = EVP_sha256();
  }
  if (X509_sign(x.get(), issuer_key.get(), md) <= 0) {
    ossl::throw_error(ErrorKind::kInvalidInput, "x509.builder", "signing the certificate failed");
  }
  // Round-trip through DER so the object carries exactly the encoding others will see.
  Bytes der = ossl::to_der(i2d_X509, x.get(), "x509.encode");
  return Certificate::from_der(der);
}

// ---------------- SubjectAltName encoding ----------------

Bytes encode_subject_alt_names(const SubjectAltNames& sans) {
  der::Writer w;
  auto ia5 = [&](std::uint8_t tag, const std::string& s) {
    for (unsigned char c : s) {
      require(c < 0x80, ErrorKind::kInvalidInput, "x509.san", "non-ASCII character in subject alternative name \"" + s + "\"");
    }
    w.add(der::context(tag, false), as_bytes(s));
  };
  for (const auto& d : sans.dns) ia5(2, d);
  for (const auto& u : sans.uris) ia5(6, u);
  for (const auto& ip : sans.ips) {
    ossl::Asn1OctetPtr os(a2i_IPADDRESS(ip.c_str()));
    if (!os) {
      ERR_clear_error();
      throw Error(ErrorKind::kInvalidInput, "x509.san", "invalid IP address \"" + ip + "\"");
    }
    w.add(der::context(7, false),
          ByteView(ASN1_STRING_get0_data(os.get()), static_cast<std::size_t>(ASN1_STRING_length(os.get()))));
  }
  for (const auto& e : sans.emails) ia5(1, e);
  require(!w.bytes().empty(), ErrorKind::kInvalidInput, "x509.san", "empty subject alternative names");
  return w.wrap(der::kSequence);
}

SubjectAltNames decode_subject_alt_names(ByteView der_bytes) {
  SubjectAltNames out;
  try {
    der::Reader outer(der_bytes);
    der::Reader seq = outer.read_sequence();
    outer.expect_end();
    while (!seq.empty()) {
      const der::Element e = seq.read_any();
      const std::string text(as_string(e.value));
      switch (e.tag) {
        case der::context(1, false):
          out.emails.push_back(text);
          break;
        case der::context(2, false):
          out.dns.push_back(text);
          break;
        case der::context(6, false):
          out.uris.push_back(text);
          break;
        case der::context(7, false): {
          char buf[INET6_ADDRSTRLEN] = {};
          if (e.value.size() == 4) {
            inet_ntop(AF_INET, e.value.data(), buf, sizeof buf);
          } else if (e.value.size() == 16) {
            inet_ntop(AF_INET6, e.value.data(), buf, sizeof buf);
          } else {
            throw Error(ErrorKind::kInvalidInput, "x509.san", "iPAddress of " + std::to_string(e.value.size()) + " bytes");
          }
          out.ips.emplace_back(buf);
          break;
        }
        default:
          break;  // otherName, directoryName, ...: not used here
      }
    }
  } catch (const Error& e) {
    if (e.code() == "x509.san") throw;
    throw Error(ErrorKind::kInvalidInput, "x509.san", std::string("malformed subjectAltName: ") + e.what());
  }
  return out;
}

}  // namespace enarx
