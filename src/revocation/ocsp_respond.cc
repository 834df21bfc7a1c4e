// ocsp_respond: steward's OCSP responder on OpenSSL's OCSP API (parsing, CertID comparison,
// nonce echo and signing are all OpenSSL's).
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <limits>

#include "core/error.h"
#include "core/signing.h"
#include "revocation/asn1_time.h"
#include "revocation/ocsp.h"

namespace enarx::revocation {

namespace {

using OcspRequestPtr = ossl::Ptr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = ossl::Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = ossl::Ptr<OCSP_CERTID, OCSP_CERTID_free>;

Bytes status_only(int status) {
  OcspResponsePtr resp(OCSP_response_create(status, nullptr));
  if (!resp) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "OCSP_response_create failed");
  return ossl::to_der(i2d_OCSP_RESPONSE, resp.get(), "revocation.ocsp.respond");
}

// The CertID hash algorithms we answer for (RFC 6960 uses SHA-1; RFC 5019 clients may use
// SHA-256). Anything else (MD5, XOFs, unknown OIDs) matches no issuer.
const EVP_MD* certid_digest(const ASN1_OBJECT* oid) {
  switch (OBJ_obj2nid(oid)) {
    case NID_sha1: return EVP_sha1();
    case NID_sha224: return EVP_sha224();
    case NID_sha256: return EVP_sha256();
    case NID_sha384: return EVP_sha384();
    case NID_sha512: return EVP_sha512();
    default: return nullptr;
  }
}

Bytes serial_bytes(const ASN1_INTEGER* serial) {
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  if (out.empty()) out.push_back(0);  // serial 0
  return out;
}

}  // namespace

Bytes ocsp_respond(ByteView request_der, const PrivateKey& ca_key, const Certificate& ca_cert,
                   const std::function<SerialStatus(ByteView serial)>& lookup, TimePoint now,
                   const OcspResponderOptions& options) {
  if (!ca_key || !ca_cert)
    throw Error(ErrorKind::kInternal, "revocation.ocsp.respond", "no CA key or certificate");
  if (request_der.empty() || request_der.size() > options.max_request_size ||
      request_der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max()))
    return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  const unsigned char* p = request_der.data();
  OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(request_der.size())));
  if (!req || p != request_der.data() + request_der.size()) {
    ERR_clear_error();
    return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  }
  const int count = OCSP_request_onereq_count(req.get());
  if (count <= 0 || static_cast<std::size_t>(count) > options.max_single_requests)
    return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);

  // Every CertID must survive the copy the response makes of it (OpenSSL re-encodes it): one
  // whose hashAlgorithm parameters do not re-encode makes the request malformed, before any
  // lookup.
  for (int i = 0; i < count; ++i) {
    OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), i));
    OcspCertIdPtr copy(id ? OCSP_CERTID_dup(id) : nullptr);
    if (!copy) {
      ERR_clear_error();
      return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    }
  }

  const auto this_update = detail::to_asn1_time(now);
  const auto next_update = detail::to_asn1_time(now + options.validity);
  OcspBasicPtr basic(OCSP_BASICRESP_new());
  if (!basic) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "OCSP_BASICRESP_new failed");

  bool any_ours = false;
  for (int i = 0; i < count; ++i) {
    OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), i));
    ASN1_OBJECT* hash_oid = nullptr;
    ASN1_INTEGER* serial = nullptr;
    if (!id || OCSP_id_get0_info(nullptr, &hash_oid, nullptr, &serial, id) != 1 || !serial) {
      ERR_clear_error();
      return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    }
    bool ours = false;
    if (const EVP_MD* md = certid_digest(hash_oid)) {
      OcspCertIdPtr mine(OCSP_cert_id_new(md, X509_get_subject_name(ca_cert.get()),
                                          X509_get0_pubkey_bitstr(ca_cert.get()), serial));
      if (!mine) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "OCSP_cert_id_new failed");
      ours = OCSP_id_issuer_cmp(mine.get(), id) == 0;
    }
    SerialStatus status;
    if (ours) {
      any_ours = true;
      // A negative serial names no certificate (RFC 5280 4.1.2.2): unknown, never the lookup
      // of its magnitude.
      if (ASN1_STRING_type(serial) != V_ASN1_NEG_INTEGER) status = lookup(serial_bytes(serial));
    }
    int cert_status = V_OCSP_CERTSTATUS_UNKNOWN;
    int reason = OCSP_REVOKED_STATUS_NOSTATUS;
    ossl::Asn1TimePtr revoked_at;
    switch (status.state) {
      case CertState::kGood: cert_status = V_OCSP_CERTSTATUS_GOOD; break;
      case CertState::kRevoked:
        cert_status = V_OCSP_CERTSTATUS_REVOKED;
        revoked_at = detail::to_asn1_time(status.revoked_at);
        if (status.reason != Reason::kUnspecified) reason = static_cast<int>(status.reason);
        break;
      case CertState::kUnknown: break;
    }
    if (!OCSP_basic_add1_status(basic.get(), id, cert_status, reason, revoked_at.get(), this_update.get(),
                                next_update.get()))
      ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "OCSP_basic_add1_status failed");
  }
  if (!any_ours) return status_only(OCSP_RESPONSE_STATUS_UNAUTHORIZED);

  // 1 = copied, 2 = the request had no nonce; anything else is an allocation failure.
  if (const int rc = OCSP_copy_nonce(basic.get(), req.get()); rc != 1 && rc != 2)
    ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "copying the nonce failed");
  if (OCSP_basic_sign(basic.get(), ca_cert.get(), ca_key.get(), signature_digest(ca_key.type()), nullptr,
                      OCSP_RESPID_KEY | OCSP_NOCERTS) != 1)
    ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "signing the OCSP response failed");
  OcspResponsePtr resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  if (!resp) ossl::throw_error(ErrorKind::kInternal, "revocation.ocsp.respond", "OCSP_response_create failed");
  return ossl::to_der(i2d_OCSP_RESPONSE, resp.get(), "revocation.ocsp.respond");
}

}  // namespace enarx::revocation
