#include "core/x509_detail.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/der.h"
#include "core/error.h"
#include "core/x509_detail.h"

namespace enarx::x509_detail {

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

}  // namespace enarx::x509_detail
