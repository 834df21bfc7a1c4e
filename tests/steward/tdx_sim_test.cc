// TDX through steward with a simulated DCAP platform (src/attest/dcap/simulate.h): the key
// binding contract of docs/oids.md — REPORTDATA[0..48] = SHA-384(DER SPKI of the CSR),
// REPORTDATA[48..64] = 0, CSR key EC P-384 — exactly as the platform side (src/platform,
// report_data_for_spki) fills it, is accepted; other digests are refused.
#include <nlohmann/json.hpp>

#include "attest/crl_list.h"
#include "attest/dcap/simulate.h"
#include "attest/enarx_evidence_tdx.h"
#include "steward/replay.h"
#include "test_util.h"
#ifdef STEWARD_TEST_HAVE_PLATFORM
#include "platform/platform.h"
#endif

namespace enarx::steward {
namespace {

using namespace testing;
namespace dcap = attest::dcap;

// What the documented contract says, written out independently of both sides' code.
Bytes contract_report_data(ByteView spki) {
  Bytes rd = sha384(spki);
  rd.resize(64, 0);
  return rd;
}

class TdxSim : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto now = std::chrono::system_clock::now();
    dcap::SimulationOptions o;
    o.not_before = now - std::chrono::hours(24);
    o.not_after = now + std::chrono::hours(24 * 365);
    sim_ = new dcap::SimulatedPlatform(o);
    dir_ = new TempDir("steward-tdx");
    write_file_atomic(dir_->path() / "root.pem", sim_->root().to_pem());
  }
  static void TearDownTestSuite() {
    delete sim_;
    delete dir_;
    sim_ = nullptr;
    dir_ = nullptr;
  }

  Policy policy(const std::string& extra = "") const {
    return Policy::parse("[issuance]\nallow_insecure = true\n[simulated]\nroots = [\"" +
                         (dir_->path() / "root.pem").string() + "\"]\n" + extra);
  }

  std::unique_ptr<Steward> make_steward(const std::string& extra = "") const {
    auto s = std::make_unique<Steward>(make_ca(std::chrono::system_clock::now()), policy(extra));
    register_default_verifiers(*s);
    return s;
  }

  // TdxEvidence with everything the verifier needs attached (quote, CRLs, TCB info + signing
  // chain, TD_QE identity), as the platform's sim-tdx provider sends it.
  static Bytes evidence(const Bytes& report_data) {
    dcap::TdFields td;
    td.report_data = report_data;
    attest::TdxEvidence ev;
    ev.quote = sim_->tdx_quote(td);
    ev.crls = {{std::string(dcap::kSimulatedRootCrlUrl), sim_->root_crl()},
               {std::string(dcap::kSimulatedPckCrlUrl), sim_->pck_ca_crl()}};
    ev.tcb = attest::TcbPackage{{sim_->tcb_signer(), sim_->root()},
                                to_bytes(sim_->tcb_info_document(true))};
    ev.qe_identity = to_bytes(sim_->qe_identity_document(true));
    return attest::encode_tdx_evidence(ev);
  }

  static Bytes csr(const PrivateKey& key, const Bytes& report_data) {
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kTdxEvidence), false, evidence(report_data)});
    return b.build_der(key);
  }

  static nlohmann::json problem(const Response& r) {
    return nlohmann::json::parse(body_text(r), nullptr, false);
  }

  static dcap::SimulatedPlatform* sim_;
  static TempDir* dir_;
};

dcap::SimulatedPlatform* TdxSim::sim_ = nullptr;
TempDir* TdxSim::dir_ = nullptr;

TEST_F(TdxSim, VerifierBindsWithSha384AndPinsP384) {
  auto v = make_tdx_verifier(policy());
  EXPECT_EQ(v->binding_digest(), DigestAlgorithm::Sha384);
  EXPECT_EQ(v->allowed_key_types(), std::vector<KeyType>{KeyType::EcP384});
}

#ifdef STEWARD_TEST_HAVE_PLATFORM
TEST_F(TdxSim, PlatformFillsReportDataAsDocumented) {
  // The platform side's own function gives exactly the documented REPORTDATA and key curve.
  auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes spki = key.public_key().spki_der();
  EXPECT_EQ(platform::report_data_for_spki(platform::Platform::Tdx, spki),
            contract_report_data(spki));
  EXPECT_EQ(platform::key_curve_for(platform::Platform::Tdx), platform::KeyCurve::P384);
}
#endif

TEST_F(TdxSim, EvidenceBoundAsThePlatformBindsItIsAccepted) {
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes spki = key.public_key().spki_der();
#ifdef STEWARD_TEST_HAVE_PLATFORM
  const Bytes rd = platform::report_data_for_spki(platform::Platform::Tdx, spki);
#else
  const Bytes rd = contract_report_data(spki);
#endif
  const Bytes request = csr(key, rd);
  auto r = steward->handle(kPkcs10, request);
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 2u);
  const auto& leaf = chain[1];
  EXPECT_EQ(leaf.public_key(), key.public_key());

  const auto claims = certificate_claims(leaf);
  EXPECT_EQ(claims["platform"], "tdx");
  EXPECT_EQ(claims["insecure"], true);
  EXPECT_EQ(claims["insecure_reason"], "tdx: simulated root of trust");
  EXPECT_EQ(claims["measurement"], to_hex(Bytes(48, 0x44)));  // TdFields' MRTD
  EXPECT_EQ(claims["evidence"]["report_data"], to_hex(rd));

  // The tagged evidence carries the same SHA-384 binding (IANA hash id 7).
  const auto csr_parsed = CertificationRequest::from_der(request);
  const auto ext = leaf.extension(oids::kTcgDiceTaggedEvidence);
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->value, encode_tagged_evidence(oids::kTdxEvidence,
                                               csr_parsed.extensions().front().value,
                                               DigestAlgorithm::Sha384, spki));

  // And the decision replays offline from the certificate alone.
  const auto replayed = replay(leaf, steward->policy());
  EXPECT_TRUE(replayed.accepted);
  EXPECT_TRUE(replayed.mismatches.empty()) << replayed.mismatches.front();
}

TEST_F(TdxSim, Sha256BindingIsRefused) {
  // SHA-256(SPKI) || 32 zero bytes (the SGX rule, and what an old comment here claimed) does not
  // bind a TDX key.
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP384);
  Bytes rd = sha256(key.public_key().spki_der());
  rd.resize(64, 0);
  auto r = steward->handle(kPkcs10, csr(key, rd));
  EXPECT_EQ(r.status, 400) << body_text(r);
  EXPECT_EQ(r.code, "tdx.policy.report_data_mismatch") << body_text(r);
  EXPECT_EQ(problem(r)["platform"], "tdx");
}

TEST_F(TdxSim, OtherKeyOrDirtyPaddingIsRefused) {
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto other = PrivateKey::generate(KeyType::EcP384);
  // SHA-384 of another key.
  auto r = steward->handle(kPkcs10, csr(key, contract_report_data(other.public_key().spki_der())));
  EXPECT_EQ(r.code, "tdx.policy.report_data_mismatch") << body_text(r);
  // The right digest, but REPORTDATA[48..64] is not zero.
  Bytes rd = contract_report_data(key.public_key().spki_der());
  rd[63] = 1;
  r = steward->handle(kPkcs10, csr(key, rd));
  EXPECT_EQ(r.code, "tdx.policy.report_data_mismatch") << body_text(r);
}

TEST_F(TdxSim, P256KeyIsRefusedBeforeVerification) {
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP256);
  Bytes rd = sha256(key.public_key().spki_der());
  rd.resize(64, 0);
  auto r = steward->handle(kPkcs10, csr(key, rd));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.csr.key_algorithm") << body_text(r);
}

TEST_F(TdxSim, SimulatedRootRefusedWithoutAllowInsecure) {
  auto s = std::make_unique<Steward>(make_ca(std::chrono::system_clock::now()), Policy{});
  register_default_verifiers(*s);
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto r = s->handle(kPkcs10, csr(key, contract_report_data(key.public_key().spki_der())));
  EXPECT_EQ(r.status, 400) << body_text(r);
  EXPECT_NE(r.code.find("chain"), std::string::npos) << r.code;  // untrusted (simulated) root
}

}  // namespace
}  // namespace enarx::steward
