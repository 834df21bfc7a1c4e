// Enarx's real steward CSRs (shared test vectors) get the same decisions as Enarx's steward.
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;

// When CMake saw the vectors (STEWARD_VECTORS_REQUIRED, as in CI) a missing file fails the test;
// only a checkout without ../shared skips, and CMake says so at configure time.
#ifdef STEWARD_VECTORS_REQUIRED
#define STEWARD_VECTORS_ABSENT() FAIL()
#else
#define STEWARD_VECTORS_ABSENT() GTEST_SKIP()
#endif
#define REQUIRE_VECTORS(dir)                                                              \
  const auto dir = shared_dir() / "testvectors" / "csr";                                  \
  if (shared_dir().empty() || !std::filesystem::exists(dir / "steward_policy.toml"))      \
  STEWARD_VECTORS_ABSENT() << "shared test vectors not present under " << dir

std::unique_ptr<Steward> make_steward(Policy policy, TimePoint at) {
  auto clock = std::make_shared<FixedClock>(at);
  auto s = std::make_unique<Steward>(make_ca(at), std::move(policy), clock);
  register_default_verifiers(*s);
  return s;
}

TEST(EnarxVectors, PolicyLoadsUnchanged) {
  REQUIRE_VECTORS(dir);
  auto policy = Policy::load(dir / "steward_policy.toml");
  EXPECT_TRUE(policy.snp_toml);
  EXPECT_TRUE(policy.sgx_toml);
  EXPECT_FALSE(policy.tdx_toml);
  EXPECT_EQ(policy.digest.size(), 64u);
  EXPECT_NO_THROW(make_steward(policy, parse_rfc3339("2022-11-15T00:00:00Z")));
}

TEST(EnarxVectors, MilanSnpCsrAccepted) {
  REQUIRE_VECTORS(dir);
  auto steward = make_steward(Policy::load(dir / "steward_policy.toml"),
                              parse_rfc3339("2022-11-15T00:00:00Z"));
  auto csr = read_file(dir / "steward_milan_snp.csr");
  auto r = steward->handle(kPkcs10, csr);
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 2u);
  auto claims_ext = chain[1].extension(oids::kAttestedClaims);
  ASSERT_TRUE(claims_ext);
  der::Reader rd(claims_ext->value);
  auto claims = nlohmann::json::parse(rd.read_utf8_string());
  EXPECT_EQ(claims["platform"], "snp");
  EXPECT_EQ(claims["insecure"], false);
  EXPECT_EQ(claims["measurement"],
            "ff717ae719840c93c1fca3b7db96488454c3c21b43531488eecff51cfed3febcd91da8be87a4cbcbc52a3bae"
            "770987c3");
  EXPECT_EQ(chain[1].subject().find("INSECURE"), std::string::npos);
  EXPECT_FALSE(chain[1].extension(oids::kInsecureAttestation));
  EXPECT_TRUE(chain[1].extension(oids::kTcgDiceTaggedEvidence));

  // Enarx's CSR has an empty subject and asks for no name. The certificate still names the
  // keep, in a critical subjectAltName (RFC 5280 4.1.2.6), so strict verifiers accept it: it
  // used to have neither ("Subject name empty" from openssl verify -x509_strict).
  auto san = chain[1].extension("2.5.29.17");
  ASSERT_TRUE(san);
  EXPECT_TRUE(san->critical);
  EXPECT_EQ(chain[1].subject_alt_names().uris,
            std::vector<std::string>{"urn:enarx:keep:snp:" + claims["keep_identity"].get<std::string>()});
  EXPECT_FALSE(claims.contains("names_allowed_by"));  // no workload names asked for
  TempDir tmp("enarx-vectors-strict");
  write_file_atomic(tmp.path() / "ca.pem", chain[0].to_pem());
  write_file_atomic(tmp.path() / "leaf.pem", chain[1].to_pem());
  std::string out;
  EXPECT_EQ(run("openssl verify -x509_strict -purpose sslserver -attime " +
                    std::to_string(std::chrono::system_clock::to_time_t(parse_rfc3339("2022-11-15T00:00:00Z"))) +
                    " -CAfile " + (tmp.path() / "ca.pem").string() + " " + (tmp.path() / "leaf.pem").string(),
                &out),
            0)
      << out;
}

TEST(EnarxVectors, MilanSnpCsrRejectedForOtherMeasurement) {
  REQUIRE_VECTORS(dir);
  std::string text = read_text_file(dir / "steward_policy.toml");
  const std::string m =
      "ff717ae719840c93c1fca3b7db96488454c3c21b43531488eecff51cfed3febcd91da8be87a4cbcbc52a3bae770987c3";
  auto pos = text.find(m);
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, m.size(), std::string(96, 'a'));
  auto steward = make_steward(Policy::parse(text), parse_rfc3339("2022-11-15T00:00:00Z"));
  auto r = steward->handle(kPkcs10, read_file(dir / "steward_milan_snp.csr"));
  EXPECT_EQ(r.status, 400);
  auto p = nlohmann::json::parse(body_text(r));
  bool found = false;
  for (const auto& f : p["failures"]) found |= f["code"] == "snp.policy.measurement_not_allowed";
  EXPECT_TRUE(found) << body_text(r);
}

TEST(EnarxVectors, MilanSnpCsrRejectedWhenCollateralExpired) {
  REQUIRE_VECTORS(dir);
  auto steward = make_steward(Policy::load(dir / "steward_policy.toml"),
                              parse_rfc3339("2026-11-23T00:00:00Z"));
  auto r = steward->handle(kPkcs10, read_file(dir / "steward_milan_snp.csr"));
  EXPECT_EQ(r.status, 400) << body_text(r);
}

// Our SGX defaults are stricter than Enarx's: a QE identity is required (Enarx never checked
// one, and its CSRs carry none) and debug enclaves need allow_debug. With the unchanged Enarx
// policy the CSR is refused for the missing QE identity; with the two explicit opt-ins it gets
// Enarx's decision.
std::string sgx_enarx_compatible(std::string text) {
  const auto pos = text.find("[sgx]\n");
  text.insert(pos + 6, "require_qe_identity = false\nallow_debug = true\n");
  return text;
}

TEST(EnarxVectors, IcelakeSgxCsrNeedsQeIdentityByDefault) {
  REQUIRE_VECTORS(dir);
  auto steward = make_steward(Policy::load(dir / "steward_policy.toml"),
                              parse_rfc3339("2023-01-28T00:00:00Z"));
  auto r = steward->handle(kPkcs10, read_file(dir / "steward_icelake_sgx_xeon.csr"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "dcap.collateral.qe_identity_missing") << body_text(r);
}

TEST(EnarxVectors, IcelakeSgxCsrAcceptedWithEnarxCompatibleOptIns) {
  REQUIRE_VECTORS(dir);
  auto text = sgx_enarx_compatible(read_text_file(dir / "steward_policy.toml"));
  auto steward = make_steward(Policy::parse(text), parse_rfc3339("2023-01-28T00:00:00Z"));
  auto r = steward->handle(kPkcs10, read_file(dir / "steward_icelake_sgx_xeon.csr"));
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 2u);
  const auto ext = chain[1].extension(oids::kAttestedClaims);
  ASSERT_TRUE(ext);
  der::Reader rd(ext->value);
  auto claims = nlohmann::json::parse(rd.read_utf8_string());
  EXPECT_EQ(claims["platform"], "sgx");
  EXPECT_EQ(claims["measurement"],
            "4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15");
  EXPECT_EQ(claims["signer"], "7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a");
}

TEST(EnarxVectors, IcelakeSgxCsrRejectedForOtherMeasurement) {
  REQUIRE_VECTORS(dir);
  auto text = sgx_enarx_compatible(read_text_file(dir / "steward_policy.toml"));
  const std::string m = "4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15";
  text.replace(text.find(m), m.size(), std::string(64, 'c'));
  auto steward = make_steward(Policy::parse(text), parse_rfc3339("2023-01-28T00:00:00Z"));
  auto r = steward->handle(kPkcs10, read_file(dir / "steward_icelake_sgx_xeon.csr"));
  EXPECT_EQ(r.status, 400) << body_text(r);
}

}  // namespace
}  // namespace enarx::steward
