#include "verify/verify.h"

#include <gtest/gtest.h>

#include "core/der.h"
#include "core/error.h"
#include "attest/enarx/oids.h"
#include "support/error_code.h"

namespace enarx {
namespace {

using support::error_code;

using namespace std::chrono_literals;
using nlohmann::json;

const TimePoint kNow = parse_rfc3339("2026-06-01T12:00:00Z");

struct Pki {
  PrivateKey ca_key = PrivateKey::generate(KeyType::EcP384);
  Certificate ca;
  Pki() {
    ca = CertificateBuilder()
             .subject({{"CN", "test steward CA"}})
             .public_key(ca_key.public_key())
             .validity(kNow - 24h, kNow + 24h * 365)
             .ca(true, 0)
             .key_usage({"keyCertSign", "cRLSign"})
             .sign(ca_key);
  }

  Certificate issue(const json& claims, const std::vector<std::string>& uris, bool insecure_marker = false,
                    TimePoint not_after = kNow + 24h) const {
    PrivateKey leaf_key = PrivateKey::generate(KeyType::EcP384);
    SubjectAltNames sans;
    sans.uris = uris;
    CertificateBuilder b;
    b.subject({})
        .public_key(leaf_key.public_key())
        .validity(kNow - 1h, not_after)
        .ca(false)
        .key_usage({"digitalSignature"})
        .extended_key_usage({"serverAuth", "clientAuth"})
        .subject_alt_names(sans)
        .add_extension({std::string(oids::kAttestedClaims), false,
                        der::Writer().add_utf8_string(claims.dump()).take()});
    if (insecure_marker)
      b.add_extension({std::string(oids::kInsecureAttestation), false,
                       der::Writer().add_utf8_string("kvm").take()});
    return b.sign(ca_key, &ca);
  }
};

json snp_claims(bool simulated = false) {
  return {{"version", 1},
          {"platform", "snp"},
          {"insecure", simulated},
          {"measurement", "ab12"},
          {"tcb_status", "UpToDate"},
          {"evidence", {{"platform", "snp"}, {"simulated", simulated}}}};
}

const std::string kSigner(64, 'a');
std::vector<std::string> identity_uris() {
  return {"slug://store.example.com/alice/app:1.0.0",
          "urn:enarx:workload-digest:sha-256:" + std::string(64, 'b'),
          "urn:enarx:signer:sha-256:" + kSigner};
}

TEST(VerifyPeer, AcceptsMatchingExpectations) {
  Pki pki;
  Certificate leaf = pki.issue(snp_claims(), identity_uris());
  verify::Expectations want;
  want.slug = "store.example.com/alice/app:1.0.0";
  want.digest = "sha-256:" + std::string(64, 'b');
  want.signer = kSigner;
  want.measurement = "AB12";
  std::vector<Certificate> chain{leaf};
  std::vector<Certificate> cas{pki.ca};
  auto peer = verify::verify_peer(chain, cas, kNow, want);
  EXPECT_EQ(peer.platform, "snp");
  EXPECT_EQ(peer.tcb_status, "UpToDate");
  EXPECT_FALSE(peer.simulated);
  ASSERT_TRUE(peer.identity.slug);
  EXPECT_EQ(peer.identity.slug->repo, "app");
  EXPECT_EQ(peer.path.size(), 2u);
  EXPECT_EQ(peer.to_json()["signer"], kSigner);
  EXPECT_NE(peer.to_text().find("UpToDate"), std::string::npos);
}

TEST(VerifyPeer, EachMismatchHasItsOwnCode) {
  Pki pki;
  std::vector<Certificate> chain{pki.issue(snp_claims(), identity_uris())};
  std::vector<Certificate> cas{pki.ca};
  auto check = [&](verify::Expectations want) {
    return error_code([&] { verify::verify_peer(chain, cas, kNow, want); });
  };
  verify::Expectations w;
  w.slug = "store.example.com/alice/other:1.0.0";
  EXPECT_EQ(check(w), "verify.slug_mismatch");
  w = {};
  w.slug = "alice/app:2.0.0";
  EXPECT_EQ(check(w), "verify.slug_mismatch");
  w = {};
  w.slug = "alice/app";  // any tag, any host
  EXPECT_EQ(check(w), support::kNoError);
  w = {};
  w.digest = std::string(64, 'c');
  EXPECT_EQ(check(w), "verify.digest_mismatch");
  w = {};
  w.signer = std::string(64, 'd');
  EXPECT_EQ(check(w), "verify.signer_mismatch");
  w = {};
  w.measurement = "ffff";
  EXPECT_EQ(check(w), "verify.measurement_mismatch");
}

// "Same application, any configuration": a relying party that pins only the application digest
// accepts a keep running it under another configuration, and refuses another application.
TEST(VerifyPeer, ApplicationDigestAloneAcceptsAnyConfiguration) {
  Pki pki;
  const std::string app = "sha-256:" + std::string(64, '1');
  const auto keep = [&](const std::string& app_digest, const std::string& config_digest) {
    auto uris = identity_uris();
    uris.push_back("urn:enarx:app-digest:" + app_digest);
    uris.push_back("urn:enarx:config-digest:" + config_digest);
    return std::vector<Certificate>{pki.issue(snp_claims(), uris)};
  };
  const std::vector<Certificate> cas{pki.ca};
  const auto config_a = "sha-256:" + std::string(64, '2'), config_b = "sha-256:" + std::string(64, '3');
  verify::Expectations want;
  want.app_digest = app;
  for (const auto& config : {config_a, config_b}) {
    const auto peer = verify::verify_peer(keep(app, config), cas, kNow, want);
    EXPECT_EQ(peer.identity.app_digest, app);
    EXPECT_EQ(peer.identity.config_digest, config);
    EXPECT_EQ(peer.to_json()["app_digest"], app);
    EXPECT_EQ(peer.to_json()["config_digest"], config);
    EXPECT_NE(peer.to_text().find(config), std::string::npos);
  }
  want.app_digest = std::string(64, '1');  // bare hex
  EXPECT_EQ(error_code([&] { verify::verify_peer(keep(app, config_b), cas, kNow, want); }), support::kNoError);

  // Another application, whatever its configuration.
  EXPECT_EQ(error_code([&] { verify::verify_peer(keep("sha-256:" + std::string(64, '4'), config_a), cas, kNow, want); }),
            "verify.app_digest_mismatch");
  // Application and configuration both pinned: the other configuration is refused.
  want.config_digest = config_a;
  EXPECT_EQ(error_code([&] { verify::verify_peer(keep(app, config_a), cas, kNow, want); }), support::kNoError);
  EXPECT_EQ(error_code([&] { verify::verify_peer(keep(app, config_b), cas, kNow, want); }),
            "verify.config_digest_mismatch");
  // A certificate without the names does not satisfy an expectation of them.
  const std::vector<Certificate> nameless{pki.issue(snp_claims(), identity_uris())};
  EXPECT_EQ(error_code([&] { verify::verify_peer(nameless, cas, kNow, want); }), "verify.app_digest_mismatch");
  // An expectation that is no SHA-256 value is the caller's mistake, not a mismatch.
  want = {};
  want.app_digest = "sha-384:" + std::string(96, '1');
  EXPECT_EQ(error_code([&] { verify::verify_peer(keep(app, config_a), cas, kNow, want); }), "verify.bad_expectation");
  // A malformed application digest in the certificate is refused, not ignored.
  auto uris = identity_uris();
  uris.push_back("urn:enarx:app-digest:sha-256:" + std::string(64, 'Z'));
  const std::vector<Certificate> malformed{pki.issue(snp_claims(), uris)};
  EXPECT_EQ(error_code([&] { verify::verify_peer(malformed, cas, kNow, {}); }), "identity.malformed");
}

TEST(VerifyPeer, ChainProblems) {
  Pki pki, other;
  std::vector<Certificate> chain{pki.issue(snp_claims(), identity_uris())};
  std::vector<Certificate> wrong{other.ca};
  EXPECT_EQ(error_code([&] { verify::verify_peer(chain, wrong, kNow, {}); }), "x509.chain.untrusted");
  std::vector<Certificate> cas{pki.ca};
  EXPECT_EQ(error_code([&] { verify::verify_peer(chain, cas, kNow + 48h, {}); }), "x509.chain.expired");
}

TEST(VerifyPeer, SimulatedAndInsecureNeedOptIn) {
  Pki pki;
  std::vector<Certificate> cas{pki.ca};
  std::vector<Certificate> sim{pki.issue(snp_claims(true), identity_uris(), true)};
  EXPECT_EQ(error_code([&] { verify::verify_peer(sim, cas, kNow, {}); }), "verify.simulated_not_allowed");
  verify::Expectations allow;
  allow.allow_simulated = true;
  EXPECT_EQ(error_code([&] { verify::verify_peer(sim, cas, kNow, allow); }), support::kNoError);

  json kvm = {{"platform", "kvm"}, {"insecure", true}, {"insecure_reason", "kvm"}, {"evidence", json::object()}};
  std::vector<Certificate> insecure{pki.issue(kvm, identity_uris(), true)};
  EXPECT_EQ(error_code([&] { verify::verify_peer(insecure, cas, kNow, allow); }), "verify.insecure_not_allowed");
  verify::Expectations allow_insecure;
  allow_insecure.allow_insecure = true;
  EXPECT_EQ(error_code([&] { verify::verify_peer(insecure, cas, kNow, allow_insecure); }), support::kNoError);

  // Claims saying "secure" while the marker says otherwise is a forgery signal.
  std::vector<Certificate> mixed{pki.issue(snp_claims(), identity_uris(), true)};
  EXPECT_EQ(error_code([&] { verify::verify_peer(mixed, cas, kNow, {}); }), "verify.claims_malformed");
}

TEST(VerifyPeer, MissingOrBrokenClaims) {
  Pki pki;
  std::vector<Certificate> cas{pki.ca};
  PrivateKey k = PrivateKey::generate(KeyType::EcP256);
  std::vector<Certificate> plain{CertificateBuilder()
                                     .subject({{"CN", "x"}})
                                     .public_key(k.public_key())
                                     .validity(kNow - 1h, kNow + 1h)
                                     .extended_key_usage({"serverAuth"})
                                     .sign(pki.ca_key, &pki.ca)};
  EXPECT_EQ(error_code([&] { verify::verify_peer(plain, cas, kNow, {}); }), "verify.no_claims");

  // The claims are a UTF8String (docs/oids.md); any other wrapping is malformed.
  std::vector<Certificate> octet{CertificateBuilder()
                                     .subject({{"CN", "x"}})
                                     .public_key(k.public_key())
                                     .validity(kNow - 1h, kNow + 1h)
                                     .extended_key_usage({"serverAuth"})
                                     .add_extension({std::string(oids::kAttestedClaims), false,
                                                     der::Writer().add_octet_string(as_bytes(snp_claims().dump())).take()})
                                     .sign(pki.ca_key, &pki.ca)};
  EXPECT_EQ(error_code([&] { verify::verify_peer(octet, cas, kNow, {}); }), "verify.claims_malformed");
}

TEST(WorkloadIdentity, RoundTripAndAmbiguity) {
  identity::WorkloadIdentity id;
  id.slug = identity::parse_slug("host.example/u/r:1.2.3");
  id.digest = "sha-384:" + std::string(96, 'e');
  id.signer = kSigner;
  auto back = identity::WorkloadIdentity::from_uris(id.to_uris());
  EXPECT_EQ(back.slug, id.slug);
  EXPECT_EQ(back.digest, id.digest);
  EXPECT_EQ(back.signer, id.signer);
  EXPECT_EQ(error_code([] {
              identity::WorkloadIdentity::from_uris({"slug://a/b:1.0.0", "slug://a/c:1.0.0"});
            }),
            "identity.ambiguous");
  EXPECT_EQ(error_code([] { identity::WorkloadIdentity::from_uris({"urn:enarx:signer:sha-256:XYZ"}); }),
            "identity.malformed");
  // Unrelated URIs are ignored.
  EXPECT_FALSE(identity::WorkloadIdentity::from_uris({"https://example.com"}).slug);
}

}  // namespace
}  // namespace enarx
