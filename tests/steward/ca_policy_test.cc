// CertificateAuthority (embedded + loaded chain), Policy parsing and the DICE
// tagged-evidence encoding.
#include <sys/stat.h>

#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;

const TimePoint kNow = parse_rfc3339("2026-11-23T10:00:00Z");

TEST(Ca, EmbeddedIsGeneratedOnceWithPrivatePermissions) {
  TempDir dir("steward-ca");
  FixedClock clock(kNow);
  CertificateAuthority::GeneratedInfo info;
  auto ca = CertificateAuthority::load_or_generate(dir.path() / "state", clock, "My CA",
                                                   std::chrono::hours(24), &info);
  EXPECT_TRUE(info.created);
  struct stat st {};
  ASSERT_EQ(::stat(info.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() / "state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ca.key().type(), KeyType::EcP384);
  EXPECT_TRUE(ca.certificate().is_ca());
  EXPECT_EQ(ca.certificate().subject_common_name(), "My CA");
  EXPECT_EQ(ca.fingerprint().size(), 32u * 3 - 1);

  auto again = CertificateAuthority::load_or_generate(dir.path() / "state", clock, "ignored",
                                                      std::chrono::hours(24), &info);
  EXPECT_FALSE(info.created);
  EXPECT_EQ(again.fingerprint(), ca.fingerprint());
  // The key file must not be readable by others.
  ::chmod(info.key_path.c_str(), 0644);
  try {
    CertificateAuthority::load_or_generate(dir.path() / "state", clock);
    FAIL() << "expected an error";
  } catch (const enarx::Error& e) {
    EXPECT_EQ(e.code(), "steward.ca.state");
  }
}

TEST(Ca, IntermediateUnderOfflineRootReturnsFullChain) {
  TempDir dir("steward-ca");
  auto root_key = PrivateKey::generate(KeyType::EcP384);
  auto root = CertificateBuilder()
                  .subject({{"CN", "Offline Root"}})
                  .public_key(root_key.public_key())
                  .validity(kNow - std::chrono::hours(1), kNow + std::chrono::hours(24 * 3650))
                  .ca(true, 1)
                  .key_usage({"keyCertSign", "cRLSign"})
                  .sign(root_key);
  auto ca_key = PrivateKey::generate(KeyType::EcP256);
  auto ca_cert = CertificateBuilder()
                     .subject({{"CN", "Steward Intermediate"}})
                     .public_key(ca_key.public_key())
                     .validity(kNow - std::chrono::hours(1), kNow + std::chrono::hours(24 * 365))
                     .ca(true, 0)
                     .key_usage({"keyCertSign", "cRLSign"})
                     .sign(root_key, &root);
  write_file_atomic(dir.path() / "ca.key", ca_key.to_pem_pkcs8(), 0600);
  write_file_atomic(dir.path() / "chain.pem", ca_cert.to_pem() + root.to_pem());
  auto ca = CertificateAuthority::from_files(dir.path() / "ca.key", dir.path() / "chain.pem");
  ASSERT_EQ(ca.chain_root_first().size(), 2u);
  EXPECT_EQ(ca.chain_root_first()[0], root);

  auto clock = std::make_shared<FixedClock>(kNow);
  Steward steward(std::move(ca), insecure_policy(), clock);
  steward.register_verifier(make_kvm_verifier());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward.handle(kPkcs10, kvm_csr(key));
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 3u);  // [root, intermediate, leaf]
  EXPECT_EQ(chain[0], root);
  EXPECT_EQ(chain[1], ca_cert);
  std::vector<Certificate> anchors{root};
  std::vector<Certificate> intermediates{chain[1]};
  ChainVerifyOptions opt;
  opt.at = kNow;
  EXPECT_NO_THROW(verify_chain(chain[2], intermediates, anchors, opt));

  auto b = steward.handle(kPkcs10Bundle, bundle({kvm_csr(key)}));
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(decode_output(b.body).chain.size(), 2u);
}

TEST(Ca, RejectsMismatchedKeyAndNonCa) {
  auto a = PrivateKey::generate(KeyType::EcP384);
  auto b = PrivateKey::generate(KeyType::EcP384);
  auto cert = CertificateBuilder()
                  .subject({{"CN", "x"}})
                  .public_key(a.public_key())
                  .validity(kNow, kNow + std::chrono::hours(1))
                  .ca(true)
                  .sign(a);
  try {
    CertificateAuthority(b, {cert});
    FAIL();
  } catch (const enarx::Error& e) {
    EXPECT_EQ(e.code(), "steward.ca.key_mismatch");
  }
  auto leaf = CertificateBuilder()
                  .subject({{"CN", "x"}})
                  .public_key(a.public_key())
                  .validity(kNow, kNow + std::chrono::hours(1))
                  .ca(false)
                  .sign(a);
  try {
    CertificateAuthority(a, {leaf});
    FAIL();
  } catch (const enarx::Error& e) {
    EXPECT_EQ(e.code(), "steward.ca.not_ca");
  }
}

TEST(PolicyParse, Defaults) {
  auto p = Policy::parse("");
  EXPECT_FALSE(p.issuance.allow_insecure);
  EXPECT_EQ(p.issuance.certificate_lifetime, std::chrono::hours(24));
  EXPECT_FALSE(p.snp_toml);
  EXPECT_EQ(p.digest.size(), 64u);
}

TEST(PolicyParse, Errors) {
  auto code = [](const std::string& text, bool tolerate = false) {
    try {
      Policy::parse(text, {}, tolerate);
    } catch (const enarx::Error& e) {
      return e.code();
    }
    return std::string("ok");
  };
  EXPECT_EQ(code("[bogus]\nx = 1\n"), "steward.policy.unknown_table");
  EXPECT_EQ(code("[issuance]\nallow_insecur = true\n"), "steward.policy.unknown_key");
  EXPECT_EQ(code("[issuance]\nallow_insecure = \"yes\"\n"), "steward.policy.type");
  EXPECT_EQ(code("[issuance]\ncertificate_lifetime = \"forever\"\n"), "steward.policy.type");
  EXPECT_EQ(code("[issuance]\nmax_bundle_size = 0\n"), "steward.policy.type");
  EXPECT_EQ(code("[simulated]\nroots = [\"/nonexistent.pem\"]\n"), "steward.policy.simulated_root");
  EXPECT_EQ(code("[issuance\n"), "steward.policy.parse");
  EXPECT_EQ(code("[server]\nport = 1\n"), "steward.policy.unknown_table");
  EXPECT_EQ(code("[server]\nport = 1\n", true), "ok");
}

TEST(PolicyParse, DigestFollowsContent) {
  auto a = Policy::parse("[issuance]\ncertificate_lifetime = \"1h\"\n");
  auto b = Policy::parse("[issuance]\ncertificate_lifetime = 3600\n");
  auto c = Policy::parse("[issuance]\ncertificate_lifetime = \"2h\"\n");
  EXPECT_NE(a.digest, c.digest);
  EXPECT_EQ(a.issuance.certificate_lifetime, b.issuance.certificate_lifetime);
  // Server tables do not change the policy digest.
  auto d = Policy::parse("[server]\nport = 1\n[issuance]\ncertificate_lifetime = \"1h\"\n", {}, true);
  EXPECT_EQ(a.digest, d.digest);
}

TEST(PolicyParse, OverridesChangeTheDigest) {
  auto a = Policy::parse("");
  auto b = Policy::parse("");
  b.apply_overrides(false, {});
  EXPECT_EQ(a.digest, b.digest);
  b.apply_overrides(true, {"x.example"});
  EXPECT_TRUE(b.issuance.allow_insecure);
  EXPECT_EQ(b.issuance.extra_dns_sans, std::vector<std::string>{"x.example"});
  EXPECT_NE(a.digest, b.digest);
}

TEST(TaggedEvidence, ExactEncoding) {
  const Bytes spki = {0x30, 0x00};
  auto v = encode_tagged_evidence(oids::kKvmEvidence, {}, DigestAlgorithm::Sha256, spki);
  const Bytes h = sha256(spki);
  Bytes hash_entry = {0x82, 0x01, 0x58, 0x20};
  hash_entry.insert(hash_entry.end(), h.begin(), h.end());
  Bytes claims = {0xa1, 0x6b};
  for (char c : std::string("pubkey-hash")) claims.push_back(static_cast<std::uint8_t>(c));
  claims.push_back(0x58);
  claims.push_back(static_cast<std::uint8_t>(hash_entry.size()));
  claims.insert(claims.end(), hash_entry.begin(), hash_entry.end());
  Bytes expect = {0xda, 0x00, 0x1a, 0x75, 0xe1, 0x82, 0x40, 0x58,
                  static_cast<std::uint8_t>(claims.size())};
  expect.insert(expect.end(), claims.begin(), claims.end());
  EXPECT_EQ(to_hex(v), to_hex(expect));
}

}  // namespace
}  // namespace enarx::steward
