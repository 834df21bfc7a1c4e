// End to end with simulated SEV-SNP evidence: build a CSR, issue, verify the returned chain with
// library code and with the openssl CLI; plus the hostile SNP cases (evidence for another key,
// wrong key type, mixed bundles, untrusted root, policy rejection).
#include <nlohmann/json.hpp>

#include "simulation/snp_chain.h"
#include "steward/replay.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;
using simulation::SnpSim;

class SnpSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = parse_rfc3339("2026-11-23T10:00:00Z");
    clock_ = std::make_shared<FixedClock>(now_);
    sim_ = std::make_unique<SnpSim>(now_);
    roots_file_ = dir_.path() / "sim-roots.pem";
    write_file_atomic(roots_file_, sim_->roots_pem());
  }
  Policy policy(const std::string& extra = "", bool insecure = true) {
    std::string text;
    if (insecure) text += "[issuance]\nallow_insecure = true\n";
    text += "[simulated]\nroots = [\"" + roots_file_.string() + "\"]\n" + extra;
    return Policy::parse(text);
  }
  // The [snp] allow-list that makes the simulated runtime a known one.
  std::string known_runtime() const { return "[snp]\nhash = [\"" + to_hex(sim_->measurement) + "\"]\n"; }
  std::unique_ptr<Steward> make(Policy p) {
    auto s = std::make_unique<Steward>(make_ca(now_), std::move(p), clock_);
    register_default_verifiers(*s);
    return s;
  }
  TimePoint now_;
  std::shared_ptr<FixedClock> clock_;
  std::unique_ptr<SnpSim> sim_;
  TempDir dir_{"steward-snp"};
  std::filesystem::path roots_file_;
};

nlohmann::json claims_of(const Certificate& c) {
  auto ext = c.extension(oids::kAttestedClaims);
  if (!ext) return {};
  der::Reader rd(ext->value);
  return nlohmann::json::parse(rd.read_utf8_string());
}

TEST_F(SnpSimTest, IssuesAndChainVerifies) {
  auto steward = make(policy(known_runtime()));
  auto key = PrivateKey::generate(KeyType::EcP384);
  SubjectAltNames sans;
  sans.uris = {"slug://drawbridge.example/alice/web:1.0.0",
               "urn:enarx:workload-digest:sha-256:" + std::string(64, 'a')};
  auto r = steward->handle(kPkcs10, sim_->csr(key, sans));
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 2u);
  const auto& leaf = chain[1];

  // Library verification.
  std::vector<Certificate> anchors{chain[0]};
  ChainVerifyOptions opt;
  opt.at = now_;
  EXPECT_NO_THROW(verify_chain(leaf, {}, anchors, opt));

  auto claims = claims_of(leaf);
  EXPECT_EQ(claims["platform"], "snp");
  EXPECT_EQ(claims["insecure"], true);  // simulated root of trust
  EXPECT_EQ(claims["insecure_reason"], "snp: simulated root of trust");
  EXPECT_EQ(claims["measurement"], to_hex(sim_->measurement));
  EXPECT_EQ(claims["evidence"]["measurement"], to_hex(sim_->measurement));
  EXPECT_FALSE(claims["collateral"].empty());
  EXPECT_EQ(claims["collateral"][0]["kind"], "vcek");
  EXPECT_EQ(claims["collateral"][0]["sha256"], to_hex(sha256(sim_->vcek.to_der())));
  EXPECT_EQ(claims["names_allowed_by"], "snp.hash");
  EXPECT_NE(leaf.subject().find("O=INSECURE"), std::string::npos);
  const auto names = leaf.subject_alt_names().uris;
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], sans.uris[0]);
  EXPECT_EQ(names[1], sans.uris[1]);
  EXPECT_EQ(names[2], "urn:enarx:keep:snp:" + claims["keep_identity"].get<std::string>());

  // The DICE tagged evidence carries the CSR's evidence extension verbatim.
  auto dice = leaf.extension(oids::kTcgDiceTaggedEvidence);
  ASSERT_TRUE(dice);
  auto csr = CertificationRequest::from_der(sim_->csr(key));  // same structure, new signature
  (void)csr;

  // openssl CLI: verify the chain and render the certificate.
  write_file_atomic(dir_.path() / "ca.pem", chain[0].to_pem());
  write_file_atomic(dir_.path() / "leaf.pem", leaf.to_pem());
  std::string out;
  const std::string ca = (dir_.path() / "ca.pem").string();
  const std::string lf = (dir_.path() / "leaf.pem").string();
  EXPECT_EQ(run("openssl verify -attime " +
                    std::to_string(std::chrono::system_clock::to_time_t(now_)) +
                    " -purpose sslserver -CAfile " + ca + " " + lf,
                &out),
            0)
      << out;
  EXPECT_EQ(run("openssl verify -attime " +
                    std::to_string(std::chrono::system_clock::to_time_t(now_)) +
                    " -purpose sslclient -CAfile " + ca + " " + lf,
                &out),
            0)
      << out;
  ASSERT_EQ(run("openssl x509 -noout -text -in " + lf, &out), 0) << out;
  EXPECT_NE(out.find("Digital Signature"), std::string::npos) << out;
  EXPECT_NE(out.find("TLS Web Server Authentication"), std::string::npos);
  EXPECT_NE(out.find("TLS Web Client Authentication"), std::string::npos);
  EXPECT_NE(out.find("CA:FALSE"), std::string::npos);
  EXPECT_NE(out.find("URI:slug://drawbridge.example/alice/web:1.0.0"), std::string::npos);
  EXPECT_NE(out.find("2.23.133.5.4.9"), std::string::npos);
  EXPECT_NE(out.find(std::string(oids::kAttestedClaims)), std::string::npos);
  EXPECT_NE(out.find("X509v3 Subject Key Identifier"), std::string::npos);
  EXPECT_NE(out.find("X509v3 Authority Key Identifier"), std::string::npos);
  EXPECT_NE(out.find("\"platform\":\"snp\""), std::string::npos) << out;
}

TEST_F(SnpSimTest, SimulatedRootNeedsAllowInsecure) {
  auto steward = make(policy("", /*insecure=*/false));
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto r = steward->handle(kPkcs10, sim_->csr(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.chain.untrusted_root") << body_text(r);
}

TEST_F(SnpSimTest, EvidenceForAnotherKey) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto other = PrivateKey::generate(KeyType::EcP384);
  auto r = steward->handle(kPkcs10, sim_->csr(key, {}, other.public_key().spki_der()));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.policy.report_data_mismatch") << body_text(r);
}

TEST_F(SnpSimTest, KeyAlgorithmPinned) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, sim_->csr(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.csr.key_algorithm");
}

TEST_F(SnpSimTest, DebugRejectedByDefault) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kSnpEvidence), false,
                            sim_->evidence(key.public_key().spki_der(), true, /*debug=*/true)});
  auto r = steward->handle(kPkcs10, b.build_der(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.policy.debug_not_allowed") << body_text(r);
}

TEST_F(SnpSimTest, PolicyMeasurementAllowList) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto ok = make(policy("[snp]\nhash = [\"" + to_hex(sim_->measurement) + "\"]\n"));
  EXPECT_EQ(ok->handle(kPkcs10, sim_->csr(key)).status, 200);
  auto no = make(policy("[snp]\nhash = [\"" + std::string(96, 'b') + "\"]\n"));
  auto r = no->handle(kPkcs10, sim_->csr(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.policy.measurement_not_allowed") << body_text(r);
}

// "An empty allow-list means no identity, never any": a genuine-looking runtime that no
// allow-list names gets no workload names, and with [snp] hash listing it, it does.
TEST_F(SnpSimTest, WorkloadNamesOnlyForAnAllowListedRuntime) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  SubjectAltNames sans;
  sans.uris = {"slug://drawbridge.example/alice/secret:1.0.0"};
  auto unknown = make(policy());
  auto r = unknown->handle(kPkcs10, sim_->csr(key, sans));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.identity.unknown_runtime") << body_text(r);
  EXPECT_EQ(unknown->handle(kPkcs10, sim_->csr(key)).status, 200);  // nameless: fine

  auto known = make(policy(known_runtime()));
  EXPECT_EQ(known->handle(kPkcs10, sim_->csr(key, sans)).status, 200);
  // The signer allow-list admits by AUTHOR_KEY_DIGEST; our simulated launch has none, so a
  // signer list that does not name it refuses the evidence outright.
  auto by_signer = make(policy("[snp]\nsigner = [\"" + std::string(96, 'b') + "\"]\n"));
  EXPECT_EQ(by_signer->handle(kPkcs10, sim_->csr(key, sans)).status, 400);

  // The loud opt-in: names for any runtime, marked insecure with the reason.
  auto any = make(policy("[identity]\nany_measurement = true\n"));
  auto ra = any->handle(kPkcs10, sim_->csr(key, sans));
  ASSERT_EQ(ra.status, 200) << body_text(ra);
  const auto claims = claims_of(pkipath(ra)[1]);
  EXPECT_EQ(claims["names_allowed_by"], "identity.any_measurement");
  EXPECT_NE(claims["insecure_reason"].get<std::string>().find("identity.any_measurement"), std::string::npos);
}

TEST_F(SnpSimTest, DnsNamesOnlyAsGrantedToTheMeasurement) {
  auto key = PrivateKey::generate(KeyType::EcP384);
  const std::string m = to_hex(sim_->measurement);
  auto steward = make(policy(known_runtime() + "[[identity.dns]]\nplatform = \"snp\"\nmeasurement = \"" + m +
                             "\"\nnames = [\"*.keeps.example.com\", \"web.example.com\"]\n"
                             "[[identity.dns]]\nplatform = \"snp\"\nmeasurement = \"" + std::string(96, 'b') +
                             "\"\nnames = [\"steward.example.com\"]\n"));
  const auto ask = [&](std::vector<std::string> dns) {
    SubjectAltNames sans;
    sans.dns = std::move(dns);
    return steward->handle(kPkcs10, sim_->csr(key, sans));
  };
  EXPECT_EQ(ask({"web.example.com"}).status, 200);
  EXPECT_EQ(ask({"a1.keeps.example.com", "WEB.example.com"}).status, 200);
  for (const std::vector<std::string>& refused :
       {std::vector<std::string>{"steward.example.com"},  // granted to another measurement
        {"a.b.keeps.example.com"},                        // the wildcard is one label
        {"keeps.example.com"},
        {"*.keeps.example.com"},                          // a keep asks for names, not patterns
        {"web.example.com", "other.example.com"}}) {
    auto r = ask(refused);
    EXPECT_EQ(r.status, 400) << refused.back();
    EXPECT_EQ(r.code, "steward.csr.san_dns_not_allowed") << body_text(r);
  }
}

// The attack: one self-made CRL in the evidence used to switch steward's own (revoking) CRL
// off. Every supplied CRL must come from a trusted AMD key, and steward's cache always applies.
TEST_F(SnpSimTest, ACrlFromAnyoneElseIsRefused) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto mallory = PrivateKey::generate(KeyType::EcP384);
  ossl::X509CrlPtr c(X509_CRL_new());
  X509_CRL_set_version(c.get(), 1);
  ossl::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ARK-Mallory"), -1, -1, 0);
  X509_CRL_set_issuer_name(c.get(), name.get());
  ossl::Asn1TimePtr t(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now_)));
  X509_CRL_set1_lastUpdate(c.get(), t.get());
  X509_CRL_sign(c.get(), mallory.get(), EVP_sha384());
  attest::SnpEvidence ev;
  ev.vcek_der = sim_->vcek.to_der();
  ev.crls = {{"https://kdsintf.amd.com/vcek/v1/Milan/crl", Crl(std::move(c))}};
  ev.report = sim_->report(key.public_key().spki_der());
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kSnpEvidence), false, attest::encode_snp_evidence(ev)});
  auto r = steward->handle(kPkcs10, b.build_der(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.crl.unknown_issuer") << body_text(r);
}

TEST_F(SnpSimTest, StewardsOwnCrlAppliesWhateverTheClientSends) {
  // Steward's AMD cache holds a newer ARK CRL revoking the ASK; the client sends the older,
  // empty one (a genuine ARK signature, so it verifies).
  const auto cache = dir_.path() / "amd";
  std::filesystem::create_directories(cache);
  ossl::X509CrlPtr c(X509_CRL_new());
  X509_CRL_set_version(c.get(), 1);
  X509_CRL_set_issuer_name(c.get(), X509_get_subject_name(sim_->ark.get()));
  ossl::Asn1TimePtr t1(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(now_ - std::chrono::hours(1))));
  X509_CRL_set1_lastUpdate(c.get(), t1.get());
  X509_REVOKED* rev = X509_REVOKED_new();
  X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(sim_->ask.get()));
  X509_REVOKED_set_revocationDate(rev, t1.get());
  X509_CRL_add0_revoked(c.get(), rev);  // owned by the CRL from here
  X509_CRL_sign(c.get(), sim_->ark_key.get(), EVP_sha384());
  write_file_atomic(cache / "crl-Milan.der", Crl(std::move(c)).to_der());
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto with_cache = Policy::parse("[issuance]\nallow_insecure = true\namd_collateral_dir = \"" + cache.string() +
                                  "\"\n[simulated]\nroots = [\"" + roots_file_.string() + "\"]\n");
  auto s2 = make(with_cache);
  auto r = s2->handle(kPkcs10, sim_->csr(key));  // evidence carries the older, empty CRL
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.crl.revoked") << body_text(r);
  // Without any CRL from the client, require_crl is on by default where steward has a cache.
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kSnpEvidence), false,
                            sim_->evidence(key.public_key().spki_der(), /*with_crl=*/false)});
  EXPECT_EQ(s2->handle(kPkcs10, b.build_der(key)).code, "snp.crl.revoked");

  // An empty cache: no CRL at all is refused by default where steward keeps an AMD cache ...
  const auto empty = dir_.path() / "amd-empty";
  std::filesystem::create_directories(empty);
  const std::string base = "[issuance]\nallow_insecure = true\namd_collateral_dir = \"" + empty.string() +
                           "\"\n[simulated]\nroots = [\"" + roots_file_.string() + "\"]\n";
  CsrBuilder b2;
  b2.add_extension(Extension{std::string(oids::kSnpEvidence), false,
                             sim_->evidence(key.public_key().spki_der(), /*with_crl=*/false)});
  const Bytes no_crl = b2.build_der(key);
  EXPECT_EQ(make(Policy::parse(base))->handle(kPkcs10, no_crl).code, "snp.crl.missing");
  // ... unless the policy says otherwise explicitly.
  EXPECT_EQ(make(Policy::parse(base + "[snp]\nrequire_crl = false\n"))->handle(kPkcs10, no_crl).status, 200);
}

TEST_F(SnpSimTest, CrlLabelMustBeTheDistributionPoint) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  for (const std::string label : {"https://evil.example/crl", "", "https://kdsintf.amd.com/vcek/v1/Genoa/crl"}) {
    attest::SnpEvidence ev;
    ev.vcek_der = sim_->vcek.to_der();
    ev.crls = {{label, sim_->crl}};
    ev.report = sim_->report(key.public_key().spki_der());
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kSnpEvidence), false, attest::encode_snp_evidence(ev)});
    auto r = steward->handle(kPkcs10, b.build_der(key));
    EXPECT_EQ(r.status, 400) << label;
    EXPECT_EQ(r.code, "snp.crl.bad_url") << body_text(r);
  }
}

TEST_F(SnpSimTest, BundleForOneKeep) {
  auto steward = make(policy());
  auto k1 = PrivateKey::generate(KeyType::EcP384);
  auto k2 = PrivateKey::generate(KeyType::EcP384);
  auto r = steward->handle(kPkcs10Bundle, bundle({sim_->csr(k1), sim_->csr(k2)}));
  ASSERT_EQ(r.status, 200) << body_text(r);
  EXPECT_EQ(decode_output(r.body).issued.size(), 2u);

  // A CSR from another launch (different REPORT_ID) cannot join the bundle.
  SnpSim other_launch = *sim_;
  other_launch.report_id = Bytes(32, 0x22);
  auto mixed = steward->handle(kPkcs10Bundle, bundle({sim_->csr(k1), other_launch.csr(k2)}));
  EXPECT_EQ(mixed.status, 400);
  EXPECT_EQ(mixed.code, "steward.bundle_mixed_keeps");
  // Nor can a KVM CSR.
  auto kvm_key = PrivateKey::generate(KeyType::EcP256);
  auto with_kvm = steward->handle(kPkcs10Bundle, bundle({sim_->csr(k1), kvm_csr(kvm_key)}));
  EXPECT_EQ(with_kvm.status, 400);
  EXPECT_EQ(with_kvm.code, "steward.bundle_mixed_keeps");
}

TEST_F(SnpSimTest, TamperedReportRejected) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  attest::SnpEvidence ev;
  ev.vcek_der = sim_->vcek.to_der();
  ev.report = sim_->report(key.public_key().spki_der());
  ev.report[0x90] ^= 1;  // measurement byte, covered by the signature
  CsrBuilder b;
  b.add_extension(Extension{std::string(oids::kSnpEvidence), false, attest::encode_snp_evidence(ev)});
  auto r = steward->handle(kPkcs10, b.build_der(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "snp.report.signature_invalid") << body_text(r);
}

TEST_F(SnpSimTest, GarbageEvidence) {
  auto steward = make(policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  for (Bytes value : {Bytes{}, Bytes{0x30, 0x00}, Bytes{0x04, 0x01, 0x00}, Bytes(100, 0xff)}) {
    CsrBuilder b;
    b.add_extension(Extension{std::string(oids::kSnpEvidence), false, value});
    auto r = steward->handle(kPkcs10, b.build_der(key));
    EXPECT_EQ(r.status, 400) << body_text(r);
  }
}

TEST_F(SnpSimTest, ReplayFromTheCertificate) {
  auto p = policy("[snp]\nhash = [\"" + to_hex(sim_->measurement) + "\"]\n");
  auto steward = make(p);
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto r = steward->handle(kPkcs10, sim_->csr(key));
  ASSERT_EQ(r.status, 200) << body_text(r);
  const auto leaf = pkipath(r)[1];

  clock_->set(now_ + std::chrono::hours(24 * 400));  // replay uses the recorded time, not now
  auto ok = replay(leaf, p);
  EXPECT_TRUE(ok.accepted);
  EXPECT_TRUE(ok.mismatches.empty()) << ok.mismatches.front();
  EXPECT_EQ(ok.evidence.measurement, to_hex(sim_->measurement));

  auto other = policy("[snp]\nhash = [\"" + std::string(96, 'b') + "\"]\n");
  auto bad = replay(leaf, other);
  EXPECT_FALSE(bad.accepted);
  EXPECT_GE(bad.mismatches.size(), 2u);  // policy digest + measurement_not_allowed

  // A certificate without steward's extensions.
  try {
    replay(steward->ca().certificate(), p);
    FAIL();
  } catch (const enarx::Error& e) {
    EXPECT_EQ(e.code(), "steward.replay.not_steward");
  }
}

TEST_F(SnpSimTest, ReplayKvm) {
  auto p = policy();
  auto steward = make(p);
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  ASSERT_EQ(r.status, 200);
  auto res = replay(pkipath(r)[1], p);
  EXPECT_TRUE(res.accepted) << (res.mismatches.empty() ? "" : res.mismatches.front());
}

}  // namespace
}  // namespace enarx::steward
