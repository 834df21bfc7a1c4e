// build_crl and ocsp_respond: what steward signs, read back with OpenSSL's API and checked with
// the real `openssl crl`, `openssl verify -crl_check` and `openssl ocsp`.
#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <cctype>
#include <limits>

#include "core/crypto.h"
#include "core/x509.h"
#include "revocation/crl.h"
#include "revocation/ocsp.h"
#include "support/error_code.h"
#include "support/pki.h"
#include "support/process.h"

namespace enarx::revocation {
namespace {

using namespace std::chrono_literals;
using support::issue;
using support::Issued;

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
    std::ofstream(file(name), std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                                      static_cast<std::streamsize>(data.size()));
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

Issued make_ca(const std::string& cn = "Test Steward CA") {
  return issue(cn, nullptr, {.ca = true});
}

using OcspResponsePtr = ossl::Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = ossl::Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspRequestPtr = ossl::Ptr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspCertIdPtr = ossl::Ptr<OCSP_CERTID, OCSP_CERTID_free>;

OcspResponsePtr parse_response(const Bytes& der) {
  const unsigned char* p = der.data();
  OcspResponsePtr r(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(r);
  EXPECT_EQ(p, der.data() + der.size());
  return r;
}

int response_status(const Bytes& der) { return OCSP_response_status(parse_response(der).get()); }

// A request for `cert` issued by `issuer` under `md`, with an optional nonce.
Bytes make_request(const Certificate& cert, const Certificate& issuer, const EVP_MD* md = EVP_sha1(),
                   bool nonce = true) {
  OcspRequestPtr req(OCSP_REQUEST_new());
  OCSP_CERTID* id = OCSP_cert_to_id(md, cert.get(), issuer.get());
  EXPECT_NE(id, nullptr);
  EXPECT_NE(OCSP_request_add0_id(req.get(), id), nullptr);
  if (nonce) {
    EXPECT_EQ(OCSP_request_add1_nonce(req.get(), nullptr, 16), 1);
  }
  return ossl::to_der(i2d_OCSP_REQUEST, req.get());
}

struct Fixture {
  Issued ca = make_ca();
  Issued good = issue("good keep", &ca);
  Issued bad = issue("revoked keep", &ca);
  TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::function<SerialStatus(ByteView)> lookup = [this](ByteView s) {
    const Bytes serial(s.begin(), s.end());
    if (serial == good.cert.serial()) return SerialStatus{CertState::kGood};
    if (serial == bad.cert.serial()) return SerialStatus{CertState::kRevoked, now - 1h, Reason::kKeyCompromise};
    return SerialStatus{};
  };
};

// ---------------- build_crl ----------------

TEST(BuildCrl, ParsesBackWithIssuerNumberTimesAndEntries) {
  Fixture f;
  const std::vector<CrlEntry> entries{{f.bad.cert.serial(), f.now - 1h, Reason::kKeyCompromise}};
  const Bytes der = build_crl(f.ca.key, f.ca.cert, entries, 42, f.now, f.now + 24h);
  const Crl crl = Crl::from_der(der);  // core's strict reader accepts it
  EXPECT_EQ(crl.issuer(), f.ca.cert.subject());
  EXPECT_EQ(crl.number(), 42);
  EXPECT_EQ(crl.this_update(), f.now);
  EXPECT_EQ(crl.next_update(), f.now + 24h);
  EXPECT_EQ(crl.revoked_count(), 1u);
  EXPECT_TRUE(crl.is_revoked(f.bad.cert));
  EXPECT_FALSE(crl.is_revoked(f.good.cert));
  EXPECT_TRUE(crl.signed_by(f.ca.cert.public_key()));
  EXPECT_FALSE(crl.signed_by(f.good.key.public_key()));
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  // authorityKeyIdentifier = the CA's subjectKeyIdentifier.
  int crit = 0;
  ossl::Ptr<AUTHORITY_KEYID, AUTHORITY_KEYID_free> akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, &crit, nullptr)));
  ASSERT_TRUE(akid);
  ASSERT_NE(akid->keyid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(f.ca.cert.get())), 0);
}

TEST(BuildCrl, ReasonCodeOmittedForUnspecified) {
  Fixture f;
  const std::vector<CrlEntry> entries{{f.good.cert.serial(), f.now, Reason::kUnspecified},
                                      {f.bad.cert.serial(), f.now, Reason::kSuperseded}};
  const Crl crl = Crl::from_der(build_crl(f.ca.key, f.ca.cert, entries, 1, f.now, f.now + 1h));
  for (int i = 0; i < 2; ++i) {
    X509_REVOKED* r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl.get()), i);
    int crit = 0;
    ossl::Ptr<ASN1_ENUMERATED, ASN1_ENUMERATED_free> code(
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, nullptr)));
    const bool is_bad = ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(r), X509_get0_serialNumber(f.bad.cert.get())) == 0;
    if (is_bad) {
      ASSERT_TRUE(code);
      EXPECT_EQ(ASN1_ENUMERATED_get(code.get()), 4);
    } else {
      EXPECT_FALSE(code);
    }
  }
}

TEST(BuildCrl, EmptyCrlAndOtherKeyTypes) {
  for (KeyType type : {KeyType::EcP384, KeyType::Ed25519}) {
    const auto now = std::chrono::system_clock::now();
    PrivateKey key = PrivateKey::generate(type);
    Certificate ca = CertificateBuilder()
                         .subject({{"CN", "CA " + to_string(type)}})
                         .validity(now - 1h, now + 24h)
                         .ca(true)
                         .key_usage({"keyCertSign", "cRLSign"})
                         .sign(key);
    const Crl crl = Crl::from_der(build_crl(key, ca, {}, 7, now, now + 1h));
    EXPECT_EQ(crl.revoked_count(), 0u);
    EXPECT_TRUE(crl.signed_by(ca.public_key()));
  }
}

TEST(BuildCrl, RefusesBadArguments) {
  Fixture f;
  const std::vector<CrlEntry> empty_serial{{Bytes{}, f.now, Reason::kUnspecified}};
  EXPECT_EQ(support::error_code([&] { build_crl(f.ca.key, f.ca.cert, empty_serial, 1, f.now, f.now + 1h); }),
            "revocation.crl.build");
  const std::vector<CrlEntry> long_serial{{Bytes(21, 0x11), f.now, Reason::kUnspecified}};
  EXPECT_EQ(support::error_code([&] { build_crl(f.ca.key, f.ca.cert, long_serial, 1, f.now, f.now + 1h); }),
            "revocation.crl.build");
  EXPECT_EQ(support::error_code([&] { build_crl(f.good.key, f.ca.cert, {}, 1, f.now, f.now + 1h); }),
            "revocation.crl.build");
  EXPECT_EQ(support::error_code([&] { build_crl(f.ca.key, f.ca.cert, {}, 1, f.now, f.now - 1h); }),
            "revocation.crl.build");
  EXPECT_EQ(support::error_code([&] { build_crl(f.ca.key, f.ca.cert, {}, 1ull << 63, f.now, f.now + 1h); }),
            "revocation.crl.build");
  EXPECT_EQ(Crl::from_der(build_crl(f.ca.key, f.ca.cert, {}, (1ull << 63) - 1, f.now, f.now + 1h)).number(),
            std::numeric_limits<std::int64_t>::max());
}

TEST(BuildCrl, OpensslCliShowsNumberAndReasonsAndVerifyUsesIt) {
  Fixture f;
  TempDir dir;
  const std::vector<CrlEntry> entries{{f.bad.cert.serial(), f.now - 1h, Reason::kKeyCompromise}};
  const std::string crl = dir.write("crl.der", build_crl(f.ca.key, f.ca.cert, entries, 1234, f.now - 1min, f.now + 1h));
  const auto text = support::run_shell("openssl crl -inform DER -noout -text -in " + crl);
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("X509v3 CRL Number"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("1234"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Key Compromise"), std::string::npos) << text.out;
  std::string serial = f.bad.cert.serial_hex();
  for (char& c : serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_NE(text.out.find("Serial Number: " + serial), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 Authority Key Identifier"), std::string::npos) << text.out;

  const std::string ca = dir.write("ca.pem", f.ca.cert.to_pem());
  const std::string good = dir.write("good.pem", f.good.cert.to_pem());
  const std::string bad = dir.write("bad.pem", f.bad.cert.to_pem());
  dir.write("crl.pem", "");
  ASSERT_EQ(support::run_shell("openssl crl -inform DER -in " + crl + " -out " + dir.file("crl.pem")).exit_code, 0);
  const std::string verify = "openssl verify -crl_check -CAfile " + ca + " -CRLfile " + dir.file("crl.pem") + " ";
  const auto ok = support::run_shell(verify + good + " 2>&1");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  const auto refused = support::run_shell(verify + bad + " 2>&1");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.out.find("revoked"), std::string::npos) << refused.out;
}

// ---------------- ocsp_respond ----------------

TEST(OcspRespond, AnswersGoodRevokedUnknownSignedByCaKeyWithNonce) {
  Fixture f;
  OcspRequestPtr req(OCSP_REQUEST_new());
  for (const Issued* c : {&f.good, &f.bad}) OCSP_request_add0_id(req.get(), OCSP_cert_to_id(EVP_sha1(), c->cert.get(), f.ca.cert.get()));
  const Issued stranger = issue("unknown to the index", &f.ca);
  OCSP_request_add0_id(req.get(), OCSP_cert_to_id(EVP_sha256(), stranger.cert.get(), f.ca.cert.get()));
  const Issued other_ca = make_ca("Other CA");
  const Issued foreign = issue("foreign", &other_ca);
  OCSP_request_add0_id(req.get(), OCSP_cert_to_id(EVP_sha1(), foreign.cert.get(), other_ca.cert.get()));
  ASSERT_EQ(OCSP_request_add1_nonce(req.get(), nullptr, 32), 1);
  std::vector<Bytes> looked_up;
  auto lookup = [&](ByteView s) {
    looked_up.emplace_back(s.begin(), s.end());
    return f.lookup(s);
  };
  const Bytes der = ocsp_respond(ossl::to_der(i2d_OCSP_REQUEST, req.get()), f.ca.key, f.ca.cert, lookup, f.now,
                                 {.validity = 600s});
  auto resp = parse_response(der);
  ASSERT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
  OcspBasicPtr basic(OCSP_response_get1_basic(resp.get()));
  ASSERT_TRUE(basic);
  EXPECT_EQ(looked_up.size(), 3u);  // never asked about the foreign issuer's serial
  EXPECT_EQ(OCSP_resp_count(basic.get()), 4);
  EXPECT_EQ(OCSP_check_nonce(req.get(), basic.get()), 1);
  EXPECT_EQ(OCSP_basic_verify(basic.get(), nullptr, nullptr, OCSP_NOVERIFY) , 0);  // no certs in it
  ossl::X509StackPtr certs(sk_X509_new_null());
  X509_up_ref(f.ca.cert.get());
  sk_X509_push(certs.get(), f.ca.cert.get());
  EXPECT_EQ(OCSP_basic_verify(basic.get(), certs.get(), nullptr, OCSP_NOVERIFY), 1);
  const ASN1_OCTET_STRING* key_id = nullptr;
  const X509_NAME* name = nullptr;
  ASSERT_EQ(OCSP_resp_get0_id(basic.get(), &key_id, &name), 1);
  EXPECT_NE(key_id, nullptr);  // byKey
  EXPECT_LE(sk_X509_num(OCSP_resp_get0_certs(basic.get())), 0);  // none (or no list)

  auto status_of = [&](const Certificate& c, const Certificate& issuer, const EVP_MD* md, int* reason,
                       ASN1_GENERALIZEDTIME** rev, ASN1_GENERALIZEDTIME** thisupd, ASN1_GENERALIZEDTIME** nextupd) {
    OcspCertIdPtr id(OCSP_cert_to_id(md, c.get(), issuer.get()));
    int status = -1;
    EXPECT_EQ(OCSP_resp_find_status(basic.get(), id.get(), &status, reason, rev, thisupd, nextupd), 1);
    return status;
  };
  int reason = -2;
  ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
  EXPECT_EQ(status_of(f.good.cert, f.ca.cert, EVP_sha1(), &reason, &rev, &thisupd, &nextupd), V_OCSP_CERTSTATUS_GOOD);
  int diff_days = 0, diff_secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&diff_days, &diff_secs, thisupd, nextupd), 1);
  EXPECT_EQ(diff_days * 86400 + diff_secs, 600);
  EXPECT_EQ(status_of(f.bad.cert, f.ca.cert, EVP_sha1(), &reason, &rev, &thisupd, &nextupd), V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(reason, static_cast<int>(Reason::kKeyCompromise));
  EXPECT_EQ(status_of(stranger.cert, f.ca.cert, EVP_sha256(), &reason, &rev, &thisupd, &nextupd), V_OCSP_CERTSTATUS_UNKNOWN);
  EXPECT_EQ(status_of(foreign.cert, other_ca.cert, EVP_sha1(), &reason, &rev, &thisupd, &nextupd), V_OCSP_CERTSTATUS_UNKNOWN);
}

TEST(OcspRespond, NoNonceInRequestNoneInResponse) {
  Fixture f;
  const Bytes req = make_request(f.good.cert, f.ca.cert, EVP_sha256(), false);
  auto resp = parse_response(ocsp_respond(req, f.ca.key, f.ca.cert, f.lookup, f.now));
  OcspBasicPtr basic(OCSP_response_get1_basic(resp.get()));
  ASSERT_TRUE(basic);
  EXPECT_LT(OCSP_BASICRESP_get_ext_by_NID(basic.get(), NID_id_pkix_OCSP_Nonce, -1), 0);
}

TEST(OcspRespond, MalformedAndUnauthorizedRequestsNeverThrow) {
  Fixture f;
  EXPECT_EQ(response_status(ocsp_respond({}, f.ca.key, f.ca.cert, f.lookup, f.now)), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  const Bytes garbage = to_bytes("not an OCSP request");
  EXPECT_EQ(response_status(ocsp_respond(garbage, f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  Bytes req = make_request(f.good.cert, f.ca.cert);
  Bytes trailing = req;
  trailing.push_back(0);
  EXPECT_EQ(response_status(ocsp_respond(trailing, f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  Bytes truncated(req.begin(), req.end() - 1);
  EXPECT_EQ(response_status(ocsp_respond(truncated, f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  EXPECT_EQ(response_status(ocsp_respond(req, f.ca.key, f.ca.cert, f.lookup, f.now, {.max_request_size = req.size() - 1})),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  EXPECT_EQ(response_status(ocsp_respond(req, f.ca.key, f.ca.cert, f.lookup, f.now, {.max_request_size = req.size()})),
            OCSP_RESPONSE_STATUS_SUCCESSFUL);
  // Too many single requests.
  OcspRequestPtr many(OCSP_REQUEST_new());
  for (int i = 0; i < 3; ++i) OCSP_request_add0_id(many.get(), OCSP_cert_to_id(EVP_sha1(), f.good.cert.get(), f.ca.cert.get()));
  const Bytes many_der = ossl::to_der(i2d_OCSP_REQUEST, many.get());
  EXPECT_EQ(response_status(ocsp_respond(many_der, f.ca.key, f.ca.cert, f.lookup, f.now, {.max_single_requests = 2})),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  EXPECT_EQ(response_status(ocsp_respond(many_der, f.ca.key, f.ca.cert, f.lookup, f.now, {.max_single_requests = 3})),
            OCSP_RESPONSE_STATUS_SUCCESSFUL);
  // No single request at all.
  OcspRequestPtr none(OCSP_REQUEST_new());
  EXPECT_EQ(response_status(ocsp_respond(ossl::to_der(i2d_OCSP_REQUEST, none.get()), f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  // A CertID whose hashAlgorithm parameters OpenSSL parses but cannot re-encode (found by
  // fuzz/ocsp_request_fuzz): malformed, not an exception.
  const Bytes odd_params = from_base64(
      "MGgwZjA/MD0wOzAJBgUrAQUABCAABBRuiNlpu3dPqlY1sgjJq/b1ZjdqkAQU4eXQJNt7WHF0EswnVG+WRPV9JOMCAhI0oiMwITAf"
      "BgkrBgEFBQcwAQIEEgQQgtHxqknAFzrMyhjSsMAk1Q==");
  EXPECT_EQ(response_status(ocsp_respond(odd_params, f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  // Only about another issuer, or under a hash we do not answer for.
  const Issued other_ca = make_ca("Other CA");
  const Issued foreign = issue("foreign", &other_ca);
  EXPECT_EQ(response_status(ocsp_respond(make_request(foreign.cert, other_ca.cert), f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_UNAUTHORIZED);
  EXPECT_EQ(response_status(ocsp_respond(make_request(f.good.cert, f.ca.cert, EVP_md5()), f.ca.key, f.ca.cert, f.lookup, f.now)),
            OCSP_RESPONSE_STATUS_UNAUTHORIZED);
}

TEST(OcspRespond, OpensslCliReportsGoodAndRevokedWithReason) {
  Fixture f;
  TempDir dir;
  const std::string ca = dir.write("ca.pem", f.ca.cert.to_pem());
  for (const Issued* leaf : {&f.good, &f.bad}) {
    const std::string cert = dir.write("leaf.pem", leaf->cert.to_pem());
    const std::string base = "openssl ocsp -issuer " + ca + " -cert " + cert + " ";
    const auto made = support::run_shell(base + "-reqout " + dir.file("req.der") + " 2>&1");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    const Bytes resp = ocsp_respond(dir.read("req.der"), f.ca.key, f.ca.cert, f.lookup, f.now);
    dir.write("resp.der", resp);
    // With -reqin (and no -cert, which would make openssl build a new request with a new nonce)
    // openssl checks the signature and that the response echoes the request's nonce.
    const std::string trust = " -CAfile " + ca + " -verify_other " + ca;
    const auto full = support::run_shell("openssl ocsp -reqin " + dir.file("req.der") + " -respin " +
                                         dir.file("resp.der") + trust + " -resp_text 2>&1");
    ASSERT_EQ(full.exit_code, 0) << full.out;
    EXPECT_NE(full.out.find("Response verify OK"), std::string::npos) << full.out;
    EXPECT_EQ(full.out.find("WARNING"), std::string::npos) << full.out;
    EXPECT_EQ(full.out.find("Nonce Verify error"), std::string::npos) << full.out;
    EXPECT_NE(full.out.find("OCSP Nonce"), std::string::npos) << full.out;
    EXPECT_NE(full.out.find("Responder Id: "), std::string::npos) << full.out;
    // The per-certificate summary.
    const auto summary = support::run_shell(base + "-no_nonce -respin " + dir.file("resp.der") + trust + " 2>&1");
    ASSERT_EQ(summary.exit_code, 0) << summary.out;
    EXPECT_NE(summary.out.find("Response verify OK"), std::string::npos) << summary.out;
    if (leaf == &f.good) {
      EXPECT_NE(summary.out.find(cert + ": good"), std::string::npos) << summary.out;
      EXPECT_NE(full.out.find("Cert Status: good"), std::string::npos) << full.out;
    } else {
      EXPECT_NE(summary.out.find(cert + ": revoked"), std::string::npos) << summary.out;
      EXPECT_NE(summary.out.find("Reason: keyCompromise"), std::string::npos) << summary.out;
      EXPECT_NE(full.out.find("Cert Status: revoked"), std::string::npos) << full.out;
    }
  }
}

}  // namespace
}  // namespace enarx::revocation
