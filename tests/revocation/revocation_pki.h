// Test PKI for the revocation tests: a steward-like CA, keep certificates naming an OCSP
// responder (authorityInfoAccess) and a CRL distribution point, OCSP responses forged with
// OpenSSL's API (any signer, nonce and times), and a temporary directory.
#pragma once

#include <openssl/ocsp.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/der.h"
#include "core/x509.h"
#include "revocation/ocsp.h"
#include "support/pki.h"

namespace enarx::revocation::test {

using namespace std::chrono_literals;
using support::Issued;

using OcspRequestPtr = ossl::Ptr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = ossl::Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = ossl::Ptr<OCSP_CERTID, OCSP_CERTID_free>;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "revocation-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, ByteView data) const {
    std::ofstream(file(name), std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return file(name);
  }
  std::string write(const std::string& name, std::string_view text) const { return write(name, as_bytes(text)); }
  Bytes read(const std::string& name) const {
    std::ifstream in(file(name), std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::filesystem::path path_;
};

// authorityInfoAccess with one id-ad-ocsp URI (RFC 5280 4.2.2.1).
inline Extension ocsp_aia(const std::string& url) {
  der::Writer location;
  location.add(0x86, as_bytes(url));  // uniformResourceIdentifier [6] IA5String
  der::Writer description;
  description.add_oid("1.3.6.1.5.5.7.48.1").add_raw(location.bytes());
  der::Writer access;
  access.add(der::kSequence, description.bytes());
  return Extension{"1.3.6.1.5.5.7.1.1", false, access.wrap(der::kSequence)};
}

inline Issued make_ca(const std::string& cn = "Test Steward CA") { return support::issue(cn, nullptr, {.ca = true}); }

// A keep-like leaf of `ca`, naming an OCSP responder and/or a CRL distribution point.
inline Issued make_leaf(const Issued& ca, const std::string& cn, std::optional<std::string> ocsp_url = std::nullopt,
                        std::optional<std::string> crl_url = std::nullopt, std::vector<std::string> eku = {"serverAuth", "clientAuth"}) {
  support::CertOptions o{.eku = std::move(eku)};
  if (ocsp_url) o.extensions.push_back(ocsp_aia(*ocsp_url));
  if (crl_url) {
    // CertificateBuilder's distribution point, borrowed through a throwaway certificate.
    const auto now = std::chrono::system_clock::now();
    const Certificate donor = CertificateBuilder().subject({{"CN", "x"}}).validity(now, now + 1h).crl_distribution_point(*crl_url).sign(ca.key);
    o.extensions.push_back(*donor.extension("2.5.29.31"));
  }
  return support::issue(cn, &ca, std::move(o));
}

// An OCSP response forged field by field.
struct Forge {
  const Certificate* cert = nullptr;     // the certificate answered about
  const Certificate* issuer = nullptr;   // its issuer (for the CertID)
  int status = V_OCSP_CERTSTATUS_GOOD;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  TimePoint revoked_at{};
  TimePoint this_update{};
  std::optional<TimePoint> next_update{};
  const Issued* signer = nullptr;        // signs; its certificate goes in the response unless no_certs
  bool no_certs = false;
  std::optional<Bytes> nonce{};          // echoed as given (raw nonce value)
  const OcspRequest* echo = nullptr;     // or: copy the nonce of this request
};

inline ossl::Asn1TimePtr asn1(TimePoint t) {
  return ossl::Asn1TimePtr(ASN1_TIME_set(nullptr, static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count())));
}

inline Bytes forge(const Forge& f) {
  OcspBasicPtr basic(OCSP_BASICRESP_new());
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), f.cert->get(), f.issuer->get()));
  auto thisupd = asn1(f.this_update);
  ossl::Asn1TimePtr nextupd = f.next_update ? asn1(*f.next_update) : nullptr;
  ossl::Asn1TimePtr revtime = f.status == V_OCSP_CERTSTATUS_REVOKED ? asn1(f.revoked_at) : nullptr;
  OCSP_basic_add1_status(basic.get(), id.get(), f.status, f.reason, revtime.get(), thisupd.get(), nextupd.get());
  if (f.echo) {
    const unsigned char* p = f.echo->der.data();
    OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(f.echo->der.size())));
    OCSP_copy_nonce(basic.get(), req.get());
  } else if (f.nonce) {
    OCSP_basic_add1_nonce(basic.get(), const_cast<unsigned char*>(f.nonce->data()), static_cast<int>(f.nonce->size()));
  }
  OCSP_basic_sign(basic.get(), f.signer->cert.get(), f.signer->key.get(), EVP_sha256(), nullptr,
                  OCSP_RESPID_KEY | (f.no_certs ? OCSP_NOCERTS : 0));
  OcspResponsePtr resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  return ossl::to_der(i2d_OCSP_RESPONSE, resp.get());
}

inline Bytes ocsp_error_response(int status) {
  OcspResponsePtr resp(OCSP_response_create(status, nullptr));
  return ossl::to_der(i2d_OCSP_RESPONSE, resp.get());
}

}  // namespace enarx::revocation::test
