// Steward::handle end to end with KVM evidence (no hardware needed) and hostile inputs.
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/openssl.h"
#include "core/thread_scheduling.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FixedClock>(parse_rfc3339("2026-11-23T10:00:00Z"));
  }
  std::unique_ptr<Steward> make(Policy policy, StewardLimits limits = {}) {
    auto s = std::make_unique<Steward>(make_ca(clock_->now()), std::move(policy), clock_, limits);
    s->register_verifier(make_kvm_verifier());
    return s;
  }
  std::shared_ptr<FixedClock> clock_;
};

nlohmann::json problem(const Response& r) { return nlohmann::json::parse(body_text(r)); }

// Serials: the issuance time in milliseconds (6 bytes) then 80 random bits, so they are never
// sequential or predictable (the CA/Browser Forum's 64 random bits) yet grow with time, which
// keeps the index's serial B-trees appending at their right edge.
TEST(StewardSerial, CarriesTheIssuanceTimeThenEightyRandomBits) {
  const TimePoint t = parse_rfc3339("2026-11-23T10:00:00.123Z");
  const Bytes a = new_serial(t), b = new_serial(t);
  ASSERT_EQ(a.size(), 16u);
  EXPECT_LT(a[0], 0x80) << "a positive INTEGER without a 17th byte";
  EXPECT_NE(a[0], 0) << "no leading zero byte";
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | a[i];
  EXPECT_EQ(ms, 1795428000123u);
  EXPECT_EQ(Bytes(a.begin(), a.begin() + 6), Bytes(b.begin(), b.begin() + 6));
  EXPECT_NE(Bytes(a.begin() + 6, a.end()), Bytes(b.begin() + 6, b.end())) << "the random part repeats";
  // Later issuance sorts later, as the index's hex key too.
  const Bytes later = new_serial(t + std::chrono::milliseconds(1));
  EXPECT_LT(serial_key(a), serial_key(later));
  EXPECT_EQ(serial_key(a).size(), serial_key(later).size());
  // Before 2004 the time's first byte would be 0: still 16 bytes.
  EXPECT_EQ(new_serial(parse_rfc3339("1999-01-01T00:00:00Z")).size(), 16u);
  // Over many serials of one millisecond every random bit varies.
  Bytes seen_or(10, 0), seen_and(10, 0xff);
  for (int i = 0; i < 64; ++i) {
    const Bytes s = new_serial(t);
    for (int k = 0; k < 10; ++k) {
      seen_or[k] |= s[6 + k];
      seen_and[k] &= s[6 + k];
    }
  }
  EXPECT_EQ(seen_or, Bytes(10, 0xff));
  EXPECT_EQ(seen_and, Bytes(10, 0x00));
}

TEST_F(PipelineTest, KvmRefusedWithoutAllowInsecure) {
  auto steward = make(Policy{});
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.insecure_not_allowed");
  EXPECT_EQ(r.content_type, kProblemJson);
  auto p = problem(r);
  EXPECT_EQ(p["code"], "steward.insecure_not_allowed");
  EXPECT_EQ(p["platform"], "kvm");
  EXPECT_EQ(p["csr_index"], 0);
}

// Workload names for KVM (no measurement at all) only through the loud any_measurement opt-in.
Policy any_measurement_policy() {
  return Policy::parse("[issuance]\nallow_insecure = true\n[identity]\nany_measurement = true\n");
}

SubjectAltNames workload_names() {
  SubjectAltNames sans;
  sans.uris = {"slug://drawbridge.example/alice/app:1.0.0",
               "urn:enarx:workload-digest:sha-256:" + std::string(64, 'a'),
               "urn:enarx:signer:sha-256:" + std::string(64, 'b')};
  return sans;
}

TEST_F(PipelineTest, KvmIssuedWithAllowInsecure) {
  auto steward = make(any_measurement_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  const SubjectAltNames sans = workload_names();
  auto r = steward->handle("application/pkcs10", kvm_csr(key, sans));
  ASSERT_EQ(r.status, 200) << body_text(r);
  EXPECT_EQ(r.content_type, "application/octet-stream");
  auto chain = pkipath(r);
  ASSERT_EQ(chain.size(), 2u);  // [CA, leaf] as Enarx
  const auto& ca = chain[0];
  const auto& leaf = chain[1];
  EXPECT_EQ(ca, steward->ca().certificate());
  EXPECT_EQ(leaf.public_key(), key.public_key());
  EXPECT_FALSE(leaf.is_ca());
  EXPECT_EQ(leaf.serial().size(), 16u);

  // Chain verifies with library code, for TLS server and client use.
  std::vector<Certificate> anchors{ca};
  ChainVerifyOptions opt;
  opt.at = clock_->now();
  opt.required_eku = "1.3.6.1.5.5.7.3.1";
  EXPECT_NO_THROW(verify_chain(leaf, {}, anchors, opt));
  opt.required_eku = "1.3.6.1.5.5.7.3.2";
  EXPECT_NO_THROW(verify_chain(leaf, {}, anchors, opt));

  // Validity: default 24 h, backdated 60 s.
  EXPECT_EQ(leaf.not_before(), clock_->now() - std::chrono::seconds(60));
  EXPECT_EQ(leaf.not_after(), clock_->now() + std::chrono::hours(24));

  // Insecure marking: subject O=INSECURE and the marker extension.
  EXPECT_NE(leaf.subject().find("O=INSECURE"), std::string::npos) << leaf.subject();
  ASSERT_TRUE(leaf.extension(oids::kInsecureAttestation));
  ASSERT_TRUE(leaf.extension(oids::kKvmEvidence));  // copied, as Enarx does
  EXPECT_TRUE(leaf.extension(oids::kKvmEvidence)->value.empty());

  // The workload names, then steward's name for the keep.
  auto names = leaf.subject_alt_names();
  ASSERT_EQ(names.uris.size(), sans.uris.size() + 1);
  EXPECT_TRUE(std::equal(sans.uris.begin(), sans.uris.end(), names.uris.begin()));
  EXPECT_EQ(names.uris.back(), "urn:enarx:keep:kvm:kvm");
  EXPECT_TRUE(names.dns.empty());

  // Claims.
  auto ext = leaf.extension(oids::kAttestedClaims);
  ASSERT_TRUE(ext);
  der::Reader rd(ext->value);
  auto claims = nlohmann::json::parse(rd.read_utf8_string());
  EXPECT_EQ(claims["platform"], "kvm");
  EXPECT_EQ(claims["insecure"], true);
  EXPECT_EQ(claims["names_allowed_by"], "identity.any_measurement");
  EXPECT_NE(claims["insecure_reason"].get<std::string>().find("identity.any_measurement"), std::string::npos);
  EXPECT_EQ(claims["verified_at"], "2026-11-23T10:00:00Z");
  EXPECT_EQ(claims["policy_sha256"], steward->policy().digest);

  // TCG DICE tagged evidence: tag(0x1a75e1, [bstr(empty), bstr(claims)]).
  auto dice = leaf.extension(oids::kTcgDiceTaggedEvidence);
  ASSERT_TRUE(dice);
  EXPECT_FALSE(dice->critical);
  ASSERT_GE(dice->value.size(), 6u);
  EXPECT_EQ(dice->value[0], 0xda);  // major 6, 4-byte argument
  EXPECT_EQ(dice->value[5], 0x82);  // array(2)
  EXPECT_EQ(dice->value[6], 0x40);  // empty byte string (KVM evidence)
}

TEST_F(PipelineTest, ExtensionsHaveTheProfile) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto leaf = pkipath(r)[1];
  auto ku = leaf.extension("2.5.29.15");
  ASSERT_TRUE(ku);
  EXPECT_TRUE(ku->critical);
  auto bc = leaf.extension("2.5.29.19");
  ASSERT_TRUE(bc);  // CA:FALSE (non-critical, as RFC 5280 allows for end entities)
  EXPECT_TRUE(leaf.extension("2.5.29.37"));  // EKU
  EXPECT_TRUE(leaf.extension("2.5.29.14"));  // SKI
  EXPECT_TRUE(leaf.extension("2.5.29.35"));  // AKI
  // No names requested, none configured: only steward's name for the keep, so the certificate
  // still has a subjectAltName (not critical: the subject carries O=INSECURE).
  auto san = leaf.extension("2.5.29.17");
  ASSERT_TRUE(san);
  EXPECT_FALSE(san->critical);
  EXPECT_EQ(leaf.subject_alt_names().uris, std::vector<std::string>{"urn:enarx:keep:kvm:kvm"});
}

// The attack: with allow_insecure, a KVM CSR with empty evidence asked for another user's
// private repository and got a certificate naming it. Names need a known runtime.
TEST_F(PipelineTest, WorkloadNamesNeedAKnownRuntime) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.uris = {"slug://localhost:8443/alice/secret"};
  auto r = steward->handle(kPkcs10, kvm_csr(key, sans));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.identity.unknown_runtime") << body_text(r);
  // The same keep without names is certified (attested, insecure, nameless).
  EXPECT_EQ(steward->handle(kPkcs10, kvm_csr(key)).status, 200);
}

TEST_F(PipelineTest, OnlyDocumentedUriFormsAreAccepted) {
  auto steward = make(any_measurement_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  const std::string hex64(64, 'c');
  const std::vector<std::vector<std::string>> refused = {
      {"https://drawbridge.example/alice/app/1.0.0"},
      {"urn:example:x"},
      {"slug://drawbridge.example/alice/app:1.0.0@sha-256:" + hex64},  // digest pin inside the slug
      {"SLUG://drawbridge.example/alice/app:1.0.0"},                    // not as written by enarx
      {"slug://drawbridge.example/alice/app:1.0.0", "slug://drawbridge.example/bob/app:1.0.0"},
      {"urn:enarx:workload-digest:sha-256:" + hex64.substr(1)},
      {"urn:enarx:workload-digest:md5:" + hex64.substr(0, 32)},
      {"urn:enarx:workload-digest:sha-256:" + std::string(64, 'C')},
      {"urn:enarx:signer:sha-256:" + hex64 + "00"},
      {"urn:enarx:keep:snp:" + hex64},  // steward's own name
  };
  for (const auto& uris : refused) {
    SubjectAltNames sans;
    sans.uris = uris;
    auto r = steward->handle(kPkcs10, kvm_csr(key, sans));
    EXPECT_EQ(r.status, 400) << uris.front();
    EXPECT_EQ(r.code, "steward.csr.san_uri") << uris.front() << ": " << body_text(r);
  }
  EXPECT_EQ(steward->handle(kPkcs10, kvm_csr(key, workload_names())).status, 200);
}

TEST_F(PipelineTest, DnsNamesNeedAGrant) {
  // KVM has no measurement, so no [[identity.dns]] grant can name it.
  auto steward = make(any_measurement_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.dns = {"steward.example.com"};
  auto r = steward->handle(kPkcs10, kvm_csr(key, sans));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.csr.san_dns_not_allowed") << body_text(r);
}

TEST_F(PipelineTest, IdentityPolicyIsChecked) {
  const auto code = [](const std::string& toml) {
    try {
      Policy::parse(toml);
    } catch (const Error& e) {
      return e.code();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(code("[identity]\nany_measurement = 1\n"), "steward.policy.type");
  EXPECT_EQ(code("[identity]\nunknown = true\n"), "steward.policy.unknown_key");
  EXPECT_EQ(code("[[identity.dns]]\nplatform = \"snp\"\nnames = [\"a.example\"]\n"),
            "steward.policy.dns_grant");  // neither measurement nor signer
  EXPECT_EQ(code("[[identity.dns]]\nplatform = \"kvm\"\nmeasurement = \"ab\"\nnames = [\"a.example\"]\n"),
            "steward.policy.dns_grant");
  EXPECT_EQ(code("[[identity.dns]]\nplatform = \"snp\"\nmeasurement = \"ab\"\nnames = [\"*.*.example\"]\n"),
            "steward.policy.dns_grant");
  EXPECT_EQ(code("[[identity.dns]]\nplatform = \"snp\"\nmeasurement = \"AB\"\nnames = [\"*.Example.com\"]\n"),
            "accepted");
  // The identity table is part of the policy digest certificates record.
  EXPECT_NE(Policy::parse("[identity]\nany_measurement = true\n").digest, Policy::parse("").digest);
}

TEST_F(PipelineTest, ExtraDnsSansFromPolicy) {
  auto steward =
      make(Policy::parse("[issuance]\nallow_insecure = true\nextra_dns_sans = [\"foo.bar\"]\n"));
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(pkipath(r)[1].subject_alt_names().dns, std::vector<std::string>{"foo.bar"});
}

TEST_F(PipelineTest, CertificateLifetimeFromPolicy) {
  auto steward = make(
      Policy::parse("[issuance]\nallow_insecure = true\ncertificate_lifetime = \"2h\"\nbackdate = 0\n"));
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  ASSERT_EQ(r.status, 200);
  auto leaf = pkipath(r)[1];
  EXPECT_EQ(leaf.not_before(), clock_->now());
  EXPECT_EQ(leaf.not_after(), clock_->now() + std::chrono::hours(2));
}

TEST_F(PipelineTest, SerialsAreRandom) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto csr = kvm_csr(key);
  auto a = pkipath(steward->handle(kPkcs10, csr))[1];
  auto b = pkipath(steward->handle(kPkcs10, csr))[1];
  EXPECT_NE(a.serial_hex(), b.serial_hex());
}

TEST_F(PipelineTest, BundleReturnsOutput) {
  auto steward = make(insecure_policy());
  std::vector<Bytes> csrs;
  std::vector<PrivateKey> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(PrivateKey::generate(KeyType::EcP256));
    csrs.push_back(kvm_csr(keys.back()));
  }
  auto r = steward->handle(kPkcs10Bundle, bundle(csrs));
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto out = decode_output(r.body);
  ASSERT_EQ(out.chain.size(), 1u);
  EXPECT_EQ(out.chain[0], steward->ca().certificate());
  ASSERT_EQ(out.issued.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out.issued[i].public_key(), keys[i].public_key());
}

TEST_F(PipelineTest, NoEvidenceIs401) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, CsrBuilder().build_der(key));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.code, "steward.csr.no_evidence");
}

TEST_F(PipelineTest, ContentTypes) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto csr = kvm_csr(key);
  EXPECT_EQ(steward->handle("", csr).code, "steward.content_type_missing");
  EXPECT_EQ(steward->handle("", csr).status, 400);
  EXPECT_EQ(steward->handle("application/json", csr).status, 400);
  EXPECT_EQ(steward->handle("application/json", csr).code, "steward.content_type_unsupported");
  // Parameters and case are tolerated.
  EXPECT_EQ(steward->handle("Application/PKCS10; charset=binary", csr).status, 200);
  // A single CSR sent as a bundle is malformed (not a SEQUENCE OF CSR... it is one CSR whose
  // first element is not a CSR).
  EXPECT_EQ(steward->handle(kPkcs10Bundle, csr).status, 400);
  // A bundle sent as a single CSR.
  EXPECT_EQ(steward->handle(kPkcs10, bundle({csr})).status, 400);
}

TEST_F(PipelineTest, MalformedBodies) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto csr = kvm_csr(key);
  EXPECT_EQ(steward->handle(kPkcs10, {}).status, 400);
  EXPECT_EQ(steward->handle(kPkcs10, to_bytes("garbage")).code, "steward.csr.malformed");
  for (std::size_t n : {std::size_t{1}, std::size_t{2}, csr.size() / 2, csr.size() - 1}) {
    Bytes truncated(csr.begin(), csr.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = steward->handle(kPkcs10, truncated);
    EXPECT_EQ(r.status, 400) << n;
    EXPECT_EQ(r.code, "steward.csr.malformed") << n;
  }
  Bytes trailing = csr;
  trailing.push_back(0);
  EXPECT_EQ(steward->handle(kPkcs10, trailing).status, 400);
  auto b = bundle({csr, csr});
  Bytes truncated_bundle(b.begin(), b.end() - 3);
  EXPECT_EQ(steward->handle(kPkcs10Bundle, truncated_bundle).code, "steward.bundle_malformed");
  EXPECT_EQ(steward->handle(kPkcs10Bundle, bundle({})).code, "steward.bundle_empty");
}

TEST_F(PipelineTest, CorruptedSignature) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto csr = kvm_csr(key);
  csr[csr.size() - 5] ^= 0x01;  // inside the signature's s value
  auto r = steward->handle(kPkcs10, csr);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.code == "steward.csr.bad_signature" || r.code == "steward.csr.malformed") << r.code;
}

TEST_F(PipelineTest, SignedByAnotherKey) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto other = PrivateKey::generate(KeyType::EcP256);
  auto req = CertificationRequest::from_der(kvm_csr(key));
  ASSERT_GT(X509_REQ_sign(req.get(), other.get(), EVP_sha256()), 0);
  auto r = steward->handle(kPkcs10, req.to_der());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.csr.bad_signature");
}

TEST_F(PipelineTest, DuplicateAndUnknownExtensions) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto dup = kvm_csr(key, {}, {Extension{std::string(oids::kKvmEvidence), false, {}}});
  EXPECT_EQ(steward->handle(kPkcs10, dup).code, "steward.csr.duplicate_extension");
  auto unknown = kvm_csr(key, {}, {Extension{"1.2.3.4", false, {0x05, 0x00}}});
  EXPECT_EQ(steward->handle(kPkcs10, unknown).code, "steward.csr.unknown_extension");
  auto two = kvm_csr(key, {}, {Extension{std::string(oids::kSnpEvidence), false, {0x30, 0x00}}});
  EXPECT_EQ(steward->handle(kPkcs10, two).code, "steward.csr.multiple_evidence");
  auto critical = CsrBuilder()
                      .add_extension(Extension{std::string(oids::kKvmEvidence), true, {}})
                      .build_der(key);
  EXPECT_EQ(steward->handle(kPkcs10, critical).code, "steward.csr.critical_evidence");
  auto nonempty = CsrBuilder()
                      .add_extension(Extension{std::string(oids::kKvmEvidence), false, {0x05, 0x00}})
                      .build_der(key);
  EXPECT_EQ(steward->handle(kPkcs10, nonempty).code, "steward.kvm.value_not_empty");
}

TEST_F(PipelineTest, PlatformNotRegistered) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP384);
  auto csr = CsrBuilder()
                 .add_extension(Extension{std::string(oids::kTdxEvidence), false, {0x30, 0x00}})
                 .build_der(key);
  // Unless a TDX verifier is registered (it is not in this fixture).
  auto r = steward->handle(kPkcs10, csr);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.platform_disabled");
}

TEST_F(PipelineTest, IpSansRejected) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.ips = {"10.0.0.1"};
  auto r = steward->handle(kPkcs10, kvm_csr(key, sans));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "steward.csr.san_type");
}

TEST_F(PipelineTest, Limits) {
  StewardLimits limits;
  limits.max_body_size = 2000;
  auto steward = make(Policy::parse("[issuance]\nallow_insecure = true\nmax_bundle_size = 3\n"),
                      limits);
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto csr = kvm_csr(key);
  auto r = steward->handle(kPkcs10Bundle, bundle({csr, csr, csr, csr}));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.code, "steward.bundle_too_large");
  EXPECT_EQ(steward->handle(kPkcs10Bundle, bundle({csr, csr, csr})).status, 200);
  Bytes huge(3000, 0x30);
  EXPECT_EQ(steward->handle(kPkcs10, huge).status, 413);
  EXPECT_EQ(steward->handle(kPkcs10, huge).code, "steward.body_too_large");
}

TEST_F(PipelineTest, OneBadCsrFailsTheBundle) {
  auto steward = make(insecure_policy());
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto good = kvm_csr(key);
  auto bad = CsrBuilder().build_der(key);
  auto r = steward->handle(kPkcs10Bundle, bundle({good, bad}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(problem(r)["csr_index"], 1);
}

TEST_F(PipelineTest, ObserverSeesOutcomes) {
  auto steward = make(insecure_policy());
  std::vector<Outcome> seen;
  steward->set_observer([&](const Outcome& o) { seen.push_back(o); });
  auto key = PrivateKey::generate(KeyType::EcP256);
  steward->handle(kPkcs10, kvm_csr(key));
  steward->handle(kPkcs10, CsrBuilder().build_der(key));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_EQ(seen[0].platform, "kvm");
  EXPECT_EQ(seen[0].issued, 1u);
  EXPECT_EQ(seen[1].status, 401);
  EXPECT_EQ(seen[1].code, "steward.csr.no_evidence");
}

TEST_F(PipelineTest, AuditLogRecordsDecisions) {
  TempDir dir("steward-audit");
  auto audit = std::make_shared<AuditLog>(dir.path() / "audit.log", 0, clock_);
  auto steward = make(any_measurement_policy());
  steward->set_audit_log(audit);
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.uris = {"slug://drawbridge.example/alice/app:1.0.0"};
  auto ok = steward->handle(kPkcs10, kvm_csr(key, sans));
  ASSERT_EQ(ok.status, 200);
  steward->handle(kPkcs10, CsrBuilder().build_der(key));
  auto text = read_text_file(dir.path() / "audit.log");
  auto nl = text.find('\n');
  ASSERT_NE(nl, std::string::npos);
  auto first = nlohmann::json::parse(text.substr(0, nl));
  auto second = nlohmann::json::parse(text.substr(nl + 1, text.find('\n', nl + 1) - nl - 1));
  EXPECT_EQ(first["decision"], "issued");
  EXPECT_EQ(first["serial"], pkipath(ok)[1].serial_hex());
  EXPECT_EQ(first["platform"], "kvm");
  EXPECT_EQ(first["sans"][0], "URI:slug://drawbridge.example/alice/app:1.0.0");
  EXPECT_EQ(first["names_allowed_by"], "identity.any_measurement");
  EXPECT_EQ(first["ts"], "2026-11-23T10:00:00Z");
  EXPECT_EQ(second["decision"], "rejected");
  EXPECT_EQ(second["code"], "steward.csr.no_evidence");
  EXPECT_EQ(second["status"], 401);
}

// The record is built from what issuance encoded, not from parsing the certificate again: it
// must say what the certificate says (serial with its leading zero octet digits, subject with
// the insecure marker, SANs URIs first, notAfter), for serials of every shape.
TEST_F(PipelineTest, AuditRecordsSayWhatTheCertificateSays) {
  TempDir dir("steward-audit");
  auto audit = std::make_shared<AuditLog>(dir.path() / "audit.log", 0, clock_);
  auto steward = make(any_measurement_policy());
  steward->set_audit_log(audit);
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.uris = {"slug://drawbridge.example/alice/app:1.0.0"};
  std::vector<Certificate> certs;
  for (int i = 0; i < 40; ++i) {
    auto ok = steward->handle(kPkcs10, kvm_csr(key, sans));
    ASSERT_EQ(ok.status, 200);
    certs.push_back(pkipath(ok)[1]);
  }
  std::istringstream text(read_text_file(dir.path() / "audit.log"));
  std::size_t n = 0;
  for (std::string line; std::getline(text, line); ++n) {
    ASSERT_LT(n, certs.size());
    const auto rec = nlohmann::json::parse(line);
    const auto& cert = certs[n];
    EXPECT_EQ(rec["serial"], cert.serial_hex());
    EXPECT_EQ(rec["subject"], cert.subject());
    EXPECT_EQ(rec["not_after"], format_rfc3339(cert.not_after()));
    nlohmann::json want = nlohmann::json::array();
    const auto names = cert.subject_alt_names();
    for (const auto& u : names.uris) want.push_back("URI:" + u);
    for (const auto& d : names.dns) want.push_back("DNS:" + d);
    EXPECT_EQ(rec["sans"], want);
  }
  EXPECT_EQ(n, certs.size());
  EXPECT_NE(certs[0].subject(), "");  // the insecure marker
}

TEST_F(PipelineTest, AuditRotationNeverTruncates) {
  TempDir dir("steward-audit");
  const auto path = dir.path() / "audit.log";
  AuditLog audit(path, 300, clock_);
  for (int i = 0; i < 10; ++i) audit.append({{"decision", "issued"}, {"n", i}});
  std::size_t lines = 0, files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    auto text = read_text_file(entry.path());
    lines += static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  EXPECT_EQ(lines, 10u);
  EXPECT_GT(files, 1u);
  // External rename + reopen request (logrotate style).
  std::filesystem::rename(path, dir.path() / "moved.log");
  audit.request_reopen();
  audit.append({{"decision", "rejected"}});
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(read_text_file(path).find("rejected") != std::string::npos, true);
}

// Appends from many workers share fsyncs and race with size rotation and external renames:
// every line still lands exactly once, whole, in one of the files.
TEST_F(PipelineTest, ConcurrentAuditAppendsAcrossRotationsLoseNothing) {
  TempDir dir("steward-audit");
  const auto path = dir.path() / "audit.log";
  AuditLog audit(path, 2000, clock_);
  constexpr int kThreads = 8, kEach = 60;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        audit.append({{"decision", "issued"}, {"worker", t}, {"n", i}});
        if (t == 0 && i % 20 == 10) audit.request_reopen();
      }
    });
  for (auto& th : threads) th.join();
  std::set<std::pair<int, int>> seen;
  std::size_t lines = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    std::istringstream text(read_text_file(entry.path()));
    for (std::string line; std::getline(text, line);) {
      ++lines;
      auto j = nlohmann::json::parse(line);
      seen.emplace(j["worker"].get<int>(), j["n"].get<int>());
    }
  }
  EXPECT_EQ(lines, static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));
}

// append_async: lines written at once, each completion on the flusher once they are durable
// (twice kMaxPendingFlushes calls from one thread: the caller waits for room when it must).
TEST_F(PipelineTest, AsynchronousAuditAppendsAreAllFlushedOffTheCallersThread) {
  TempDir dir("steward-audit");
  const auto path = dir.path() / "audit.log";
  auto audit = std::make_unique<AuditLog>(path, 0, clock_);
  std::mutex mu;
  std::condition_variable cv;
  std::size_t done = 0, failed = 0, on_caller = 0, not_batch = 0;
  const auto caller = std::this_thread::get_id();
  constexpr std::size_t kCalls = AuditLog::kMaxPendingFlushes * 2;
  std::thread caller_thread([&] {
    for (std::size_t i = 0; i < kCalls; ++i)
      audit->append_async({{{"decision", "issued"}, {"n", i}}, {{"decision", "issued"}, {"n", i}, {"second", true}}},
                          [&](std::exception_ptr error) {
                            std::lock_guard lock(mu);
                            ++done;
                            failed += error != nullptr;
                            on_caller += std::this_thread::get_id() == caller;
                            not_batch += !this_thread_is_batch_scheduled();
                            cv.notify_all();
                          });
  });
  caller_thread.join();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == kCalls; });
  }
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(on_caller, 0u);
  // The flusher wakes from every fsync: under SCHED_BATCH it does not preempt the workers.
  EXPECT_EQ(not_batch, 0u);
  audit.reset();  // the flusher ends
  std::istringstream text(read_text_file(path));
  std::size_t lines = 0;
  for (std::string line; std::getline(text, line);) ++lines;
  EXPECT_EQ(lines, 2 * kCalls);
}

// While the flusher is held up (here: inside a completion), at most kMaxPendingFlushes callers
// queue; the next one waits for room instead of growing the queue, and goes on once it drains.
TEST_F(PipelineTest, AsynchronousAuditAppendsWaitForRoomWhenFlushesAreBehind) {
  TempDir dir("steward-audit");
  auto audit = std::make_unique<AuditLog>(dir.path() / "audit.log", 0, clock_);
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  std::size_t done = 0;
  audit->append_async({{{"decision", "issued"}, {"n", -1}}}, [&](std::exception_ptr) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered; }));
  }
  constexpr std::size_t kCalls = AuditLog::kMaxPendingFlushes + 1;
  std::atomic<std::size_t> returned{0};
  std::thread caller([&] {
    for (std::size_t i = 0; i < kCalls; ++i) {
      audit->append_async({{{"decision", "issued"}, {"n", i}}}, [&](std::exception_ptr) {
        std::lock_guard lock(mu);
        ++done;
        cv.notify_all();
      });
      returned.fetch_add(1);
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (returned.load() < AuditLog::kMaxPendingFlushes && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(returned.load(), AuditLog::kMaxPendingFlushes);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(returned.load(), AuditLog::kMaxPendingFlushes) << "a caller past the bound did not wait";
  {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  caller.join();
  EXPECT_EQ(returned.load(), kCalls);
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == kCalls; }));
}

TEST_F(PipelineTest, AuditFailureMeansNoCertificate) {
  TempDir dir("steward-audit");
  auto audit = std::make_shared<AuditLog>(dir.path() / "audit.log", 0, clock_);
  auto steward = make(insecure_policy());
  steward->set_audit_log(audit);
  // Make the next reopen fail: the path becomes a directory.
  std::filesystem::remove(dir.path() / "audit.log");
  std::filesystem::create_directory(dir.path() / "audit.log");
  audit->request_reopen();
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = steward->handle(kPkcs10, kvm_csr(key));
  EXPECT_EQ(r.status, 500);
}

}  // namespace
}  // namespace enarx::steward
