// The relying party's OCSP: build_ocsp_request, check_ocsp_response and ocsp_urls, on OpenSSL's
// OCSP API (CertIDs, nonces, signer lookup and the signature check are OpenSSL's; which signer
// is authorized is decided here, RFC 6960 4.2.2.2, without OpenSSL's "any responder chaining to
// a trusted root" fallback).
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <limits>

#include "core/crypto.h"
#include "core/error.h"
#include "revocation/asn1_time.h"
#include "revocation/ocsp.h"

namespace enarx::revocation {

namespace {

using OcspRequestPtr = ossl::Ptr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = ossl::Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = ossl::Ptr<OCSP_CERTID, OCSP_CERTID_free>;

constexpr std::size_t kNonceSize = 16;

[[noreturn]] void fail(ErrorKind kind, std::string_view code, const std::string& message) {
  ERR_clear_error();
  throw Error(kind, std::string(code), message);
}

void require_issued_by(const Certificate& cert, const Certificate& issuer) {
  require(static_cast<bool>(cert) && static_cast<bool>(issuer), ErrorKind::kInvalidInput, "revocation.empty",
          "no certificate or issuer certificate");
  if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get())) != 0)
    fail(ErrorKind::kInvalidInput, "revocation.wrong_issuer",
         cert.subject() + " is issued by " + cert.issuer() + ", not " + issuer.subject());
}

OcspCertIdPtr cert_id(const Certificate& cert, const Certificate& issuer) {
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), cert.get(), issuer.get()));
  if (!id) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.request", "OCSP_cert_to_id failed");
  return id;
}

// RFC 6960 4.2.2.2: the issuer itself, or a responder the issuer certified for OCSP signing.
bool authorized_signer(X509* signer, const Certificate& issuer, TimePoint at, std::string& why) {
  if (X509_cmp(signer, issuer.get()) == 0) return true;
  if (EVP_PKEY_eq(X509_get0_pubkey(signer), X509_get0_pubkey(issuer.get())) == 1 &&
      X509_NAME_cmp(X509_get_subject_name(signer), X509_get_subject_name(issuer.get())) == 0)
    return true;  // the issuer, in another certificate for the same name and key
  if (X509_check_issued(issuer.get(), signer) != X509_V_OK || X509_verify(signer, X509_get0_pubkey(issuer.get())) != 1) {
    why = "the response is signed by a certificate the issuer did not issue";
    return false;
  }
  if (!(X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN)) {
    why = "the responder certificate lacks the OCSPSigning extended key usage";
    return false;
  }
  X509_up_ref(signer);
  const Certificate responder{ossl::X509Ptr(signer)};
  if (responder.not_before() > at || responder.not_after() < at) {
    why = "the responder certificate is not valid at the time of the check";
    return false;
  }
  return true;
}

Reason to_reason(int code) {
  if (code < 0 || code > 255) return Reason::kUnspecified;
  return parse_reason(std::to_string(code)).value_or(Reason::kUnspecified);
}

}  // namespace

OcspRequest build_ocsp_request(const Certificate& cert, const Certificate& issuer, bool with_nonce) {
  require_issued_by(cert, issuer);
  OcspRequestPtr req(OCSP_REQUEST_new());
  if (!req) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.request", "OCSP_REQUEST_new failed");
  auto id = cert_id(cert, issuer);
  if (!OCSP_request_add0_id(req.get(), id.get()))
    ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.request", "OCSP_request_add0_id failed");
  id.release();  // owned by the request now
  OcspRequest out;
  if (with_nonce) {
    out.nonce = random_bytes(kNonceSize);
    if (OCSP_request_add1_nonce(req.get(), out.nonce.data(), static_cast<int>(out.nonce.size())) != 1)
      ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.request", "adding the nonce failed");
  }
  out.der = ossl::to_der(i2d_OCSP_REQUEST, req.get(), "revocation.ocsp.request");
  return out;
}

OcspVerdict check_ocsp_response(ByteView response_der, const OcspRequest& request, const Certificate& cert,
                                const Certificate& issuer, TimePoint at, const OcspCheckOptions& options) {
  require_issued_by(cert, issuer);
  if (response_der.size() > options.max_response_size ||
      response_der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max()))
    fail(ErrorKind::kTooLarge, "revocation.ocsp.too_large",
         "the OCSP response is over " + std::to_string(options.max_response_size) + " bytes");
  const unsigned char* p = response_der.data();
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response_der.size())));
  if (!resp || p != response_der.data() + response_der.size())
    fail(ErrorKind::kInvalidInput, "revocation.ocsp.malformed", "not one DER OCSPResponse");
  if (const int status = OCSP_response_status(resp.get()); status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    fail(ErrorKind::kUnavailable, "revocation.ocsp.error_status",
         std::string("the OCSP responder answered ") + OCSP_response_status_str(status));
  OcspBasicPtr basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) fail(ErrorKind::kInvalidInput, "revocation.ocsp.malformed", "the OCSP response has no basic response");

  // The signer: named by the responderID, among the certificates in the response and the issuer.
  ossl::X509StackPtr extra(sk_X509_new_null());
  if (!extra || !X509_up_ref(issuer.get())) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.check", "allocation");
  if (!sk_X509_push(extra.get(), issuer.get())) {
    X509_free(issuer.get());
    ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.check", "allocation");
  }
  X509* signer = nullptr;
  if (OCSP_resp_get0_signer(basic.get(), &signer, extra.get()) != 1 || !signer)
    fail(ErrorKind::kUntrusted, "revocation.ocsp.bad_signature",
         "the OCSP response's responderID names neither the issuer nor a certificate in the response");
  ossl::X509StackPtr signer_only(sk_X509_new_null());
  if (!signer_only || !X509_up_ref(signer)) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.check", "allocation");
  if (!sk_X509_push(signer_only.get(), signer)) {
    X509_free(signer);
    ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.check", "allocation");
  }
  // Only the signature against the signer's key: which signer may speak is decided below.
  if (OCSP_basic_verify(basic.get(), signer_only.get(), nullptr, OCSP_NOINTERN | OCSP_NOVERIFY) != 1)
    fail(ErrorKind::kUntrusted, "revocation.ocsp.bad_signature", "the OCSP response's signature does not verify");
  OcspVerdict out;
  std::string why;
  if (!authorized_signer(signer, issuer, at, why))
    fail(ErrorKind::kUntrusted, "revocation.ocsp.unauthorized_signer", why);
  out.delegated = X509_cmp(signer, issuer.get()) != 0;

  // The CertID asked about, which must be this certificate's.
  const unsigned char* q = request.der.data();
  OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &q, static_cast<long>(request.der.size())));
  if (!req || OCSP_request_onereq_count(req.get()) != 1)
    fail(ErrorKind::kInvalidInput, "revocation.ocsp.request", "the OCSP request is not one of build_ocsp_request's");
  OCSP_CERTID* asked = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), 0));
  if (OCSP_id_cmp(asked, cert_id(cert, issuer).get()) != 0)
    fail(ErrorKind::kInvalidInput, "revocation.ocsp.request", "the OCSP request is about another certificate");
  const int index = OCSP_resp_find(basic.get(), asked, -1);
  if (index < 0)
    fail(ErrorKind::kUntrusted, "revocation.ocsp.no_status",
         "the OCSP response says nothing about serial " + cert.serial_hex());
  if (OCSP_resp_find(basic.get(), asked, index) >= 0)
    fail(ErrorKind::kInvalidInput, "revocation.ocsp.malformed", "the OCSP response answers twice for one certificate");
  OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), index);
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
  const int state = OCSP_single_get0_status(single, &reason, &revoked_at, &this_update, &next_update);

  if (!request.nonce.empty()) {
    const int rc = OCSP_check_nonce(req.get(), basic.get());  // 1 equal, -1 none in the response
    if (rc != 1 && !(rc == -1 && options.allow_missing_nonce))
      fail(ErrorKind::kUntrusted, "revocation.ocsp.nonce_mismatch",
           rc == -1 ? "the OCSP response does not echo the request's nonce" : "the OCSP response's nonce is not ours");
  }

  out.this_update = detail::from_asn1_time(this_update, "revocation.ocsp.malformed");
  if (next_update) out.next_update = detail::from_asn1_time(next_update, "revocation.ocsp.malformed");
  if (out.this_update > at + options.max_clock_skew)
    fail(ErrorKind::kUntrusted, "revocation.ocsp.not_yet_valid",
         "the OCSP response's thisUpdate is " + format_rfc3339(out.this_update));
  if (out.next_update ? *out.next_update != TimePoint::max() && *out.next_update + options.grace < at
                      : out.this_update + options.max_age_without_next_update < at)
    fail(ErrorKind::kUntrusted, "revocation.ocsp.stale",
         out.next_update ? "the OCSP response's nextUpdate was " + format_rfc3339(*out.next_update)
                         : "the OCSP response (without nextUpdate) is from " + format_rfc3339(out.this_update));

  switch (state) {
    case V_OCSP_CERTSTATUS_GOOD: out.state = CertState::kGood; break;
    case V_OCSP_CERTSTATUS_REVOKED:
      out.state = CertState::kRevoked;
      out.revoked_at = detail::from_asn1_time(revoked_at, "revocation.ocsp.malformed");
      out.reason = to_reason(reason);
      break;
    case V_OCSP_CERTSTATUS_UNKNOWN: out.state = CertState::kUnknown; break;
    default: fail(ErrorKind::kInvalidInput, "revocation.ocsp.malformed", "unknown certificate status");
  }
  return out;
}

std::vector<std::string> ocsp_urls(const Certificate& cert) {
  std::vector<std::string> out;
  if (!cert) return out;
  STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(cert.get());
  for (int i = 0; urls && i < sk_OPENSSL_STRING_num(urls); ++i) out.emplace_back(sk_OPENSSL_STRING_value(urls, i));
  X509_email_free(urls);
  ERR_clear_error();
  return out;
}

}  // namespace enarx::revocation
