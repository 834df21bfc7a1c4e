// The relying party's checks: check_crl / verify_crl, build_ocsp_request /
// check_ocsp_response, including the attacks each check exists for.
#include <gtest/gtest.h>

#include "core/crypto.h"
#include "revocation/crl.h"
#include "revocation/ocsp.h"
#include "revocation_pki.h"
#include "support/error_code.h"

namespace enarx::revocation {
namespace {

using namespace test;
using support::error_code;

struct Pki {
  Issued ca = make_ca();
  Issued leaf = make_leaf(ca, "keep");
  Issued other = make_leaf(ca, "another keep");
  TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::function<SerialStatus(ByteView)> lookup = [this](ByteView s) {
    if (Bytes(s.begin(), s.end()) == leaf.cert.serial()) return SerialStatus{CertState::kRevoked, now - 2h, Reason::kSuperseded};
    return SerialStatus{CertState::kGood};
  };
  Crl crl(std::vector<CrlEntry> entries = {}, TimePoint this_update = {}, TimePoint next_update = {}) const {
    if (this_update == TimePoint{}) this_update = now - 1min;
    if (next_update == TimePoint{}) next_update = now + 1h;
    return Crl::from_der(build_crl(ca.key, ca.cert, entries, 5, this_update, next_update));
  }
};

// ---------------- CRL ----------------

TEST(CheckCrl, GoodAndRevokedWithTimeAndReason) {
  Pki p;
  const Crl crl = p.crl({{p.leaf.cert.serial(), p.now - 3h, Reason::kKeyCompromise}});
  const CrlVerdict good = check_crl(crl, p.other.cert, p.ca.cert, p.now);
  EXPECT_FALSE(good.revoked);
  EXPECT_EQ(good.number, 5);
  EXPECT_EQ(good.next_update, p.now + 1h);
  const CrlVerdict bad = check_crl(crl, p.leaf.cert, p.ca.cert, p.now);
  EXPECT_TRUE(bad.revoked);
  EXPECT_EQ(bad.revoked_at, p.now - 3h);
  EXPECT_EQ(bad.reason, Reason::kKeyCompromise);
}

TEST(CheckCrl, CrlSignedByAnotherKeyIsRefused) {
  Pki p;
  // Same issuer name, another key: a CRL an attacker made to clear (or hide) entries.
  const Issued impostor = make_ca("Test Steward CA");
  const Crl forged = Crl::from_der(build_crl(impostor.key, impostor.cert, {}, 99, p.now, p.now + 1h));
  EXPECT_EQ(error_code([&] { check_crl(forged, p.leaf.cert, p.ca.cert, p.now); }), "revocation.crl.bad_signature");
  const Issued elsewhere = make_ca("Another CA");
  const Crl foreign = Crl::from_der(build_crl(elsewhere.key, elsewhere.cert, {}, 1, p.now, p.now + 1h));
  EXPECT_EQ(error_code([&] { check_crl(foreign, p.leaf.cert, p.ca.cert, p.now); }), "revocation.crl.wrong_issuer");
  // The issuer must be the certificate's.
  const Issued foreign_leaf = make_leaf(elsewhere, "foreign");
  EXPECT_EQ(error_code([&] { check_crl(p.crl(), foreign_leaf.cert, p.ca.cert, p.now); }), "revocation.wrong_issuer");
}

TEST(CheckCrl, FreshnessAndGrace) {
  Pki p;
  const Crl stale = p.crl({}, p.now - 2h, p.now - 1h);
  EXPECT_EQ(error_code([&] { check_crl(stale, p.leaf.cert, p.ca.cert, p.now); }), "revocation.crl.expired");
  EXPECT_FALSE(check_crl(stale, p.leaf.cert, p.ca.cert, p.now, {.grace = 2h}).revoked);
  const Crl future = p.crl({}, p.now + 1h, p.now + 2h);
  EXPECT_EQ(error_code([&] { check_crl(future, p.leaf.cert, p.ca.cert, p.now); }), "revocation.crl.not_yet_valid");
}

TEST(CheckCrl, IssuerWithoutCrlSignAndCriticalExtensionsAreRefused) {
  Pki p;
  const Issued no_crl_sign = support::issue("Test Steward CA", nullptr, {.ca = true, .key_usage = {"keyCertSign"}});
  const Issued leaf = make_leaf(no_crl_sign, "keep");
  const Crl crl = Crl::from_der(build_crl(no_crl_sign.key, no_crl_sign.cert, {}, 1, p.now, p.now + 1h));
  EXPECT_EQ(error_code([&] { check_crl(crl, leaf.cert, no_crl_sign.cert, p.now); }), "revocation.crl.wrong_issuer");

  // A delta CRL (deltaCRLIndicator, critical) is not a complete list.
  ossl::X509CrlPtr delta(X509_CRL_dup(p.crl().get()));
  ossl::Asn1IntegerPtr base(ASN1_INTEGER_new());
  ASN1_INTEGER_set(base.get(), 4);
  ASSERT_EQ(X509_CRL_add1_ext_i2d(delta.get(), NID_delta_crl, base.get(), 1, 0), 1);
  ASSERT_GT(X509_CRL_sign(delta.get(), p.ca.key.get(), EVP_sha256()), 0);
  const Crl delta_crl = Crl::from_der(ossl::to_der(i2d_X509_CRL, delta.get()));
  EXPECT_EQ(error_code([&] { check_crl(delta_crl, p.leaf.cert, p.ca.cert, p.now); }), "revocation.crl.unsupported");
}

// ---------------- OCSP ----------------

TEST(CheckOcsp, GoodAndRevokedFromStewardsResponder) {
  Pki p;
  const OcspRequest for_other = build_ocsp_request(p.other.cert, p.ca.cert);
  EXPECT_EQ(for_other.nonce.size(), 16u);
  const OcspVerdict good = check_ocsp_response(ocsp_respond(for_other.der, p.ca.key, p.ca.cert, p.lookup, p.now),
                                               for_other, p.other.cert, p.ca.cert, p.now);
  EXPECT_EQ(good.state, CertState::kGood);
  EXPECT_FALSE(good.delegated);
  EXPECT_EQ(good.next_update, p.now + 1h);
  const OcspRequest for_leaf = build_ocsp_request(p.leaf.cert, p.ca.cert);
  const OcspVerdict revoked = check_ocsp_response(ocsp_respond(for_leaf.der, p.ca.key, p.ca.cert, p.lookup, p.now),
                                                  for_leaf, p.leaf.cert, p.ca.cert, p.now);
  EXPECT_EQ(revoked.state, CertState::kRevoked);
  EXPECT_EQ(revoked.revoked_at, p.now - 2h);
  EXPECT_EQ(revoked.reason, Reason::kSuperseded);
  // Without a nonce.
  const OcspRequest plain = build_ocsp_request(p.other.cert, p.ca.cert, false);
  EXPECT_TRUE(plain.nonce.empty());
  EXPECT_EQ(check_ocsp_response(ocsp_respond(plain.der, p.ca.key, p.ca.cert, p.lookup, p.now), plain, p.other.cert,
                                p.ca.cert, p.now).state,
            CertState::kGood);
}

TEST(CheckOcsp, ResponseForAnotherSerialIsRefused) {
  Pki p;
  // The good answer about `other`, replayed for the revoked `leaf`.
  const OcspRequest for_other = build_ocsp_request(p.other.cert, p.ca.cert);
  const Bytes about_other = ocsp_respond(for_other.der, p.ca.key, p.ca.cert, p.lookup, p.now);
  const OcspRequest for_leaf = build_ocsp_request(p.leaf.cert, p.ca.cert);
  EXPECT_EQ(error_code([&] { check_ocsp_response(about_other, for_leaf, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.no_status");
}

TEST(CheckOcsp, WrongOrMissingNonceIsRefused) {
  Pki p;
  const OcspRequest first = build_ocsp_request(p.other.cert, p.ca.cert);
  const OcspRequest second = build_ocsp_request(p.other.cert, p.ca.cert);
  ASSERT_NE(first.nonce, second.nonce);
  // A recorded answer to an earlier request: same certificate, another nonce.
  const Bytes recorded = ocsp_respond(first.der, p.ca.key, p.ca.cert, p.lookup, p.now);
  EXPECT_EQ(check_ocsp_response(recorded, first, p.other.cert, p.ca.cert, p.now).state, CertState::kGood);
  EXPECT_EQ(error_code([&] { check_ocsp_response(recorded, second, p.other.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.nonce_mismatch");
  // An answer without a nonce, to a request with one.
  const OcspRequest plain = build_ocsp_request(p.other.cert, p.ca.cert, false);
  const Bytes no_nonce = ocsp_respond(plain.der, p.ca.key, p.ca.cert, p.lookup, p.now);
  EXPECT_EQ(error_code([&] { check_ocsp_response(no_nonce, second, p.other.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.nonce_mismatch");
  EXPECT_EQ(check_ocsp_response(no_nonce, second, p.other.cert, p.ca.cert, p.now, {.allow_missing_nonce = true}).state,
            CertState::kGood);
}

TEST(CheckOcsp, SignedByUnrelatedKeyIsRefused) {
  Pki p;
  const OcspRequest req = build_ocsp_request(p.leaf.cert, p.ca.cert);
  // A key of its own, its certificate in the response.
  const Issued stranger = make_ca("Stranger");
  Forge f{.cert = &p.leaf.cert, .issuer = &p.ca.cert, .this_update = p.now, .next_update = p.now + 1h,
          .signer = &stranger, .echo = &req};
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.unauthorized_signer");
  // Its certificate left out: no signer to be found.
  f.no_certs = true;
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.bad_signature");
  // An impostor CA of the same name: a responderID byKey that is not the issuer's key.
  const Issued impostor = make_ca("Test Steward CA");
  f.signer = &impostor;
  f.no_certs = false;
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.unauthorized_signer");
  // Tampered: one byte of the signed data changed after signing.
  f.signer = &p.ca;
  f.no_certs = true;
  Bytes good = forge(f);
  EXPECT_EQ(check_ocsp_response(good, req, p.leaf.cert, p.ca.cert, p.now).state, CertState::kGood);
  const Bytes serial = p.leaf.cert.serial();
  auto at = std::search(good.begin(), good.end(), serial.begin(), serial.end());
  ASSERT_NE(at, good.end());
  *at ^= 1;
  const auto code = error_code([&] { check_ocsp_response(good, req, p.leaf.cert, p.ca.cert, p.now); });
  EXPECT_TRUE(code == "revocation.ocsp.bad_signature") << code;
}

// Another keep certificate from the same CA (no OCSPSigning EKU) must not vouch for anyone:
// OpenSSL's OCSP_basic_verify would accept it as "chaining to a trusted root".
TEST(CheckOcsp, SiblingCertificateOfTheIssuerIsNoResponder) {
  Pki p;
  const OcspRequest req = build_ocsp_request(p.leaf.cert, p.ca.cert);
  Forge f{.cert = &p.leaf.cert, .issuer = &p.ca.cert, .this_update = p.now, .next_update = p.now + 1h,
          .signer = &p.other, .echo = &req};
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.unauthorized_signer");
}

TEST(CheckOcsp, DelegatedResponderNeedsOcspSigningFromTheIssuer) {
  Pki p;
  const OcspRequest req = build_ocsp_request(p.leaf.cert, p.ca.cert);
  const Issued responder = support::issue("OCSP responder", &p.ca, {.eku = {"1.3.6.1.5.5.7.3.9"}});
  Forge f{.cert = &p.leaf.cert, .issuer = &p.ca.cert, .status = V_OCSP_CERTSTATUS_REVOKED,
          .reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE, .revoked_at = p.now - 1h, .this_update = p.now,
          .next_update = p.now + 1h, .signer = &responder, .echo = &req};
  const OcspVerdict v = check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now);
  EXPECT_EQ(v.state, CertState::kRevoked);
  EXPECT_EQ(v.reason, Reason::kKeyCompromise);
  EXPECT_TRUE(v.delegated);
  // The same EKU, certified by another CA.
  const Issued other_ca = make_ca("Other CA");
  const Issued foreign_responder = support::issue("OCSP responder", &other_ca, {.eku = {"1.3.6.1.5.5.7.3.9"}});
  f.signer = &foreign_responder;
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.unauthorized_signer");
  // The issuer's responder, but expired at the time of the check.
  const Issued old_responder =
      support::issue("OCSP responder", &p.ca, {.eku = {"1.3.6.1.5.5.7.3.9"}, .not_before = -48h, .not_after = -24h});
  f.signer = &old_responder;
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.leaf.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.unauthorized_signer");
}

TEST(CheckOcsp, StaleAndFutureResponsesAreRefused) {
  Pki p;
  const OcspRequest req = build_ocsp_request(p.other.cert, p.ca.cert);
  // steward's responder two hours ago, valid one hour.
  const Bytes old = ocsp_respond(req.der, p.ca.key, p.ca.cert, p.lookup, p.now - 2h);
  EXPECT_EQ(error_code([&] { check_ocsp_response(old, req, p.other.cert, p.ca.cert, p.now); }), "revocation.ocsp.stale");
  EXPECT_EQ(check_ocsp_response(old, req, p.other.cert, p.ca.cert, p.now, {.grace = 90min}).state, CertState::kGood);
  const Bytes future = ocsp_respond(req.der, p.ca.key, p.ca.cert, p.lookup, p.now + 1h);
  EXPECT_EQ(error_code([&] { check_ocsp_response(future, req, p.other.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.not_yet_valid");
  // Without nextUpdate: at most max_age_without_next_update old.
  Forge f{.cert = &p.other.cert, .issuer = &p.ca.cert, .this_update = p.now - 10min, .signer = &p.ca, .echo = &req};
  EXPECT_EQ(error_code([&] { check_ocsp_response(forge(f), req, p.other.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.stale");
  f.this_update = p.now - 1min;
  EXPECT_EQ(check_ocsp_response(forge(f), req, p.other.cert, p.ca.cert, p.now).state, CertState::kGood);
}

TEST(CheckOcsp, ErrorStatusesMalformedAndOversizedResponses) {
  Pki p;
  const OcspRequest req = build_ocsp_request(p.other.cert, p.ca.cert);
  for (int status : {OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, OCSP_RESPONSE_STATUS_INTERNALERROR,
                     OCSP_RESPONSE_STATUS_TRYLATER, OCSP_RESPONSE_STATUS_UNAUTHORIZED}) {
    EXPECT_EQ(error_code([&] { check_ocsp_response(ocsp_error_response(status), req, p.other.cert, p.ca.cert, p.now); }),
              "revocation.ocsp.error_status");
  }
  EXPECT_EQ(error_code([&] { check_ocsp_response(to_bytes("junk"), req, p.other.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.malformed");
  Bytes response = ocsp_respond(req.der, p.ca.key, p.ca.cert, p.lookup, p.now);
  EXPECT_EQ(error_code([&] {
              check_ocsp_response(response, req, p.other.cert, p.ca.cert, p.now,
                                  {.max_response_size = response.size() - 1});
            }),
            "revocation.ocsp.too_large");
  response.push_back(0);
  EXPECT_EQ(error_code([&] { check_ocsp_response(response, req, p.other.cert, p.ca.cert, p.now); }),
            "revocation.ocsp.malformed");
}

TEST(CheckOcsp, UrlsFromAuthorityInfoAccess) {
  Pki p;
  const Issued named = make_leaf(p.ca, "named", std::string("http://steward.example/ocsp"),
                                 std::string("http://steward.example/crl"));
  EXPECT_EQ(ocsp_urls(named.cert), std::vector<std::string>{"http://steward.example/ocsp"});
  EXPECT_EQ(named.cert.crl_distribution_point(), "http://steward.example/crl");
  EXPECT_TRUE(ocsp_urls(p.leaf.cert).empty());
}

}  // namespace
}  // namespace enarx::revocation
