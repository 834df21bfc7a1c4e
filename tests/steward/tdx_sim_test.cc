// TDX through steward with a simulated DCAP platform (src/simulation/dcap.h): the key
// binding contract of docs/oids.md — REPORTDATA[0..48] = SHA-384(DER SPKI of the CSR),
// REPORTDATA[48..64] = 0, CSR key EC P-384 — exactly as the platform side (src/platform,
// report_data_for_spki) fills it, is accepted; other digests are refused.
#include <nlohmann/json.hpp>

#include "attest/enarx/crl_list.h"
#include "core/openssl.h"
#include "simulation/dcap.h"
#include "attest/enarx/tdx_evidence.h"
#include "steward/replay.h"
#include "support/dcap_cache.h"
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

  Policy policy(const std::string& extra = "", const std::string& issuance = "") const {
    return Policy::parse("[issuance]\nallow_insecure = true\n" + issuance + "[simulated]\nroots = [\"" +
                         (dir_->path() / "root.pem").string() + "\"]\n" + extra);
  }

  std::unique_ptr<Steward> make_steward(const std::string& extra = "", const std::string& issuance = "") const {
    auto s = std::make_unique<Steward>(make_ca(std::chrono::system_clock::now()), policy(extra, issuance));
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

// TdxEvidence whose collateral comes from `from` (the quote always from `sim`).
Bytes tdx_evidence_from(const dcap::SimulatedPlatform& sim, const dcap::SimulatedPlatform& from, const Bytes& report_data,
                        std::vector<attest::CrlListEntry> crls = {}) {
  dcap::TdFields td;
  td.report_data = report_data;
  attest::TdxEvidence ev;
  ev.quote = sim.tdx_quote(td);
  ev.crls = crls.empty() ? std::vector<attest::CrlListEntry>{{std::string(dcap::kSimulatedRootCrlUrl), from.root_crl()},
                                                             {std::string(dcap::kSimulatedPckCrlUrl), from.pck_ca_crl()}}
                         : std::move(crls);
  ev.tcb = attest::TcbPackage{{from.tcb_signer(), from.root()}, to_bytes(from.tcb_info_document(true))};
  ev.qe_identity = to_bytes(from.qe_identity_document(true));
  return attest::encode_tdx_evidence(ev);
}

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
  EXPECT_EQ(platform::keep_key_type(platform::Platform::Tdx), KeyType::EcP384);
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

namespace enarx::steward {
namespace {

// The attack: after a TCB recovery, a platform replays the previous Intel-signed TCB info that
// still says UpToDate. Steward's cache has the new one; the newer document wins.
TEST_F(TdxSim, AReplayedOlderTcbInfoLosesToStewardsCache) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes rd = contract_report_data(key.public_key().spki_der());
  const auto recovery = support::later_collateral(*sim_, "OutOfDate", 2, sim_->options().not_before + std::chrono::hours(1), sim_->options().not_after);
  TempDir cache("steward-tdx-cache");
  support::write_intel_cache(cache.path(), recovery);
  auto steward = make_steward("", "intel_collateral_dir = \"" + cache.path().string() + "\"\n");
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kTdxEvidence), false, tdx_evidence_from(*sim_, *sim_, rd)});
  auto r = steward->handle(kPkcs10, b.build_der(key));
  EXPECT_EQ(r.status, 400) << body_text(r);
  EXPECT_NE(body_text(r).find("OutOfDate"), std::string::npos) << body_text(r);

  // The other way round the client's copy is the newer one, and the claims say so and why.
  TempDir old_cache("steward-tdx-cache-old");
  support::write_intel_cache(old_cache.path(), *sim_);
  auto s2 = make_steward("", "intel_collateral_dir = \"" + old_cache.path().string() + "\"\n");
  const auto uptodate_recovery = support::later_collateral(*sim_, "UpToDate", 2, sim_->options().not_before + std::chrono::hours(1), sim_->options().not_after);
  CsrBuilder b2;
  b2.add_extension(Extension{std::string(oids::kTdxEvidence), false, tdx_evidence_from(*sim_, uptodate_recovery, rd)});
  auto ok = s2->handle(kPkcs10, b2.build_der(key));
  ASSERT_EQ(ok.status, 200) << body_text(ok);
  const auto leaf = pkipath(ok)[1];
  const auto claims_ext = leaf.extension(oids::kAttestedClaims);
  ASSERT_TRUE(claims_ext);
  der::Reader claims_reader(claims_ext->value);
  const auto claims = nlohmann::json::parse(claims_reader.read_utf8_string());
  bool seen = false;
  for (const auto& c : claims["collateral"]) {
    if (c["kind"] != "tcb_info") continue;
    seen = true;
    EXPECT_EQ(c["source"], "evidence");
    EXPECT_NE(c["reason"].get<std::string>().find("tcbEvaluationDataNumber 2"), std::string::npos) << c.dump();
  }
  EXPECT_TRUE(seen) << claims.dump();
}

// The attack: a revoked PCK replays the CRL from before its revocation. Per issuer the newest
// CRL applies, whoever supplied it.
TEST_F(TdxSim, AReplayedOlderCrlLosesToStewardsCache) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes rd = contract_report_data(key.public_key().spki_der());
  TempDir cache("steward-tdx-crl");
  support::write_intel_cache(cache.path(), support::later_collateral(*sim_, "UpToDate", 1, sim_->options().not_before + std::chrono::hours(1), sim_->options().not_after), {sim_->pck()});
  auto steward = make_steward("", "intel_collateral_dir = \"" + cache.path().string() + "\"\n");
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kTdxEvidence), false, tdx_evidence_from(*sim_, *sim_, rd)});
  auto r = steward->handle(kPkcs10, b.build_der(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "dcap.pck.revoked") << body_text(r);
}

TEST_F(TdxSim, ReplayBoundsInPolicy) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  const auto ask = [&](const std::string& tdx_table) {
    auto steward = make_steward("[tdx]\n" + tdx_table);
    return steward->handle(kPkcs10, csr(key, contract_report_data(key.public_key().spki_der())));
  };
  EXPECT_EQ(ask("min_tcb_evaluation_data_number = 1\n").status, 200);
  EXPECT_EQ(ask("min_tcb_evaluation_data_number = 2\n").code, "dcap.collateral.tcb_evaluation_too_old");
  // The simulated collateral was issued a day ago.
  EXPECT_EQ(ask("tcb_info_max_age_seconds = 3600\n").code, "dcap.collateral.too_old");
  EXPECT_EQ(ask("qe_identity_max_age_seconds = 3600\n").code, "dcap.collateral.too_old");
  EXPECT_EQ(ask("crl_max_age_seconds = 3600\n").code, "dcap.crl.too_old");
  EXPECT_EQ(ask("tcb_info_max_age_seconds = 172800\ncrl_max_age_seconds = 172800\n").status, 200);
}

// The CRL wrapper is checked as strictly as what it wraps.
TEST_F(TdxSim, SuppliedCrlsMustComeFromAKnownCaUnderItsLabel) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes rd = contract_report_data(key.public_key().spki_der());
  auto steward = make_steward();
  const auto ask = [&](std::vector<attest::CrlListEntry> crls) {
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kTdxEvidence), false, tdx_evidence_from(*sim_, *sim_, rd, std::move(crls))});
    return steward->handle(kPkcs10, b.build_der(key));
  };
  const dcap::SimulatedPlatform stranger(sim_->options());  // another PKI: nobody steward knows
  // A junk CRL beside the real ones: from a CA nobody knows, or under a known name without its key.
  auto mallory = PrivateKey::generate(KeyType::EcP256);
  ossl::X509CrlPtr c(X509_CRL_new());
  X509_CRL_set_version(c.get(), 1);
  ossl::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Mallory CA"), -1, -1, 0);
  X509_CRL_set_issuer_name(c.get(), name.get());
  ossl::Asn1TimePtr t(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(sim_->options().not_before)));
  X509_CRL_set1_lastUpdate(c.get(), t.get());
  X509_CRL_sign(c.get(), mallory.get(), EVP_sha256());
  const std::vector<attest::CrlListEntry> real = {{std::string(dcap::kSimulatedRootCrlUrl), sim_->root_crl()},
                                                  {std::string(dcap::kSimulatedPckCrlUrl), sim_->pck_ca_crl()}};
  auto with = [&](attest::CrlListEntry extra) {
    auto crls = real;
    crls.push_back(std::move(extra));
    return crls;
  };
  auto unknown = ask(with({"", Crl(std::move(c))}));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.code, "dcap.crl.unknown_issuer") << body_text(unknown);
  auto forged = ask(with({std::string(dcap::kSimulatedRootCrlUrl), stranger.root_crl()}));
  EXPECT_EQ(forged.code, "dcap.crl.bad_signature") << body_text(forged);
  auto label = ask({{"https://evil.example/root.crl", sim_->root_crl()},
                    {std::string(dcap::kSimulatedPckCrlUrl), sim_->pck_ca_crl()}});
  EXPECT_EQ(label.code, "dcap.crl.bad_url") << body_text(label);
}

}  // namespace
}  // namespace enarx::steward

namespace enarx::steward {
namespace {

std::size_t rss_kib() {
  const std::string status = read_text_file("/proc/self/status");
  const auto pos = status.find("VmRSS:");
  return pos == std::string::npos ? 0 : std::stoul(status.substr(pos + 6));
}

// The attack from the review: 2,000 CSRs that differ by one junk CRL grew steward's RSS from
// 12.6 to 38.4 MB, never evicted. Every one is refused, and the memory stays flat.
TEST_F(TdxSim, JunkCrlCsrsLeaveStewardsMemoryFlat) {
  auto steward = make_steward();
  auto key = PrivateKey::generate(KeyType::EcP384);
  const Bytes rd = contract_report_data(key.public_key().spki_der());
  auto junk_key = PrivateKey::generate(KeyType::EcP256);
  // One quote for all (as one keep would send it); only the junk CRL differs.
  attest::TdxEvidence base = attest::decode_tdx_evidence(tdx_evidence_from(*sim_, *sim_, rd));
  const auto csr_with_junk = [&](int n) {
    ossl::X509CrlPtr c(X509_CRL_new());
    X509_CRL_set_version(c.get(), 1);
    ossl::X509NamePtr name(X509_NAME_new());
    const std::string cn = "junk " + std::to_string(n);
    X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()),
                               -1, -1, 0);
    X509_CRL_set_issuer_name(c.get(), name.get());
    ossl::Asn1TimePtr t(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(sim_->options().not_before)));
    X509_CRL_set1_lastUpdate(c.get(), t.get());
    X509_CRL_sign(c.get(), junk_key.get(), EVP_sha256());
    attest::TdxEvidence ev = base;
    ev.crls.push_back({"", Crl(std::move(c))});
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kTdxEvidence), false, attest::encode_tdx_evidence(ev)});
    return b.build_der(key);
  };
  // Warm up: OpenSSL's and the allocator's one-time growth, and steward's bounded caches.
  for (int i = 0; i < 200; ++i) steward->handle(kPkcs10, csr_with_junk(i));
  const std::size_t before = rss_kib();
  for (int i = 200; i < 2200; ++i) {
    auto r = steward->handle(kPkcs10, csr_with_junk(i));
    ASSERT_EQ(r.code, "dcap.crl.unknown_issuer") << body_text(r);
  }
  const std::size_t after = rss_kib();
#if defined(ENARX_SANITIZED)
  // ASan's quarantine keeps up to 256 MiB of freed memory resident, so RSS says nothing here;
  // DcapVerify.JunkCrlsDoNotGrowTheCaches checks the same bound on the caches themselves.
  (void)before;
  (void)after;
#else
  EXPECT_LT(after, before + 1024) << before << " KiB -> " << after << " KiB";
#endif
}

}  // namespace
}  // namespace enarx::steward
