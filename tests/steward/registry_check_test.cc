// The registry check against a real drawbridge (docs/steward.md "Registry check"): a registry
// over SQLite on an HTTPS server in this process, tags published over HTTP, and steward asking
// it before it certifies a keep's workload names.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/content_digest.h"
#include "core/file.h"
#include "drawbridge/auth.h"
#include "drawbridge/model.h"
#include "drawbridge/registry.h"
#include "drawbridge/store.h"
#include "identity/keep_certificate.h"
#include "jose/jws.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "steward/service.h"
#include "support/error_code.h"
#include "support/https_registry.h"
#include "support/pki.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;

// A drawbridge on 127.0.0.1 with a certificate from its own CA, and a publisher's view of it.
class Drawbridge {
 public:
  std::string host() const { return registry_.host(); }
  std::string url() const { return "https://" + host(); }
  std::string ca_pem() const { return registry_.ca_pem(); }
  std::string token(const std::string& user) const {
    return issuer_.mint(user, drawbridge::all_manage_scopes(), std::chrono::hours(1),
                        std::chrono::system_clock::now());
  }

  void make_repo(const std::string& user, const std::string& repo, bool is_public) {
    if (users_.insert(user).second)
      put("/" + user, nlohmann::json{{"subject", user}}.dump(), "application/json", user);
    put("/" + user + "/" + repo, nlohmann::json{{"public", is_public}}.dump(), "application/json", user);
  }

  // Publishes a one-file package as user/repo:tag, as Drawbridge's client does (the tag, then
  // every node root first), signed by `signer` when given. Returns the root digest
  // "sha-256:<hex>".
  std::string publish(const std::string& user, const std::string& repo, const std::string& tag,
                      const std::string& wasm, const PrivateKey* signer) {
    const auto tree = drawbridge::build_tree_from_files(
        {{"main.wasm", {to_bytes(wasm), "application/wasm"}}});
    const std::string entry = drawbridge::entry_to_json(tree.root());
    const std::string prefix = "/" + user + "/" + repo + "/_tag/" + tag;
    if (signer)
      put(prefix, jws::sign(as_bytes(entry), *signer, drawbridge::kEntryType),
          std::string(drawbridge::kJwsType), user);
    else
      put(prefix, entry, std::string(drawbridge::kEntryType), user);
    for (const auto& node : tree.nodes)
      put(prefix + "/tree/" + node.path, std::string(as_string(node.content)), node.meta.type, user);
    return "sha-256:" + to_hex(*tree.root().meta.digest.get(DigestAlgorithm::Sha256));
  }

 private:
  void put(const std::string& path, const std::string& body, const std::string& type,
           const std::string& user) {
    net::HttpClient client(registry_.client_options());
    net::Headers headers{{"Content-Type", type},
                         {"Content-Digest", ContentDigest::compute(as_bytes(body)).to_header()},
                         {"Authorization", "Bearer " + token(user)}};
    const auto response = client.put(url() + "/api/v0.1.0" + path, body, headers);
    ASSERT_EQ(response.status, 201) << path << ": " << response.body;
  }

  TempDir dir_{"steward-registry"};
  drawbridge::LocalIssuer issuer_ =
      drawbridge::LocalIssuer::load_or_create(dir_.path() / "issuer", "test-issuer", "drawbridge");
  support::HttpsRegistry registry_{
      std::shared_ptr<drawbridge::Store>(drawbridge::open_sqlite_store((dir_.path() / "data").string())), issuer_};
  std::set<std::string> users_;
};

class RegistryCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file_atomic(dir_.path() / "registry-ca.pem", registry_.ca_pem());
    registry_.make_repo("alice", "app", /*is_public=*/true);
    digest_ = registry_.publish("alice", "app", "1.0.0", "asm signed", &publisher_);
    unsigned_digest_ = registry_.publish("alice", "app", "2.0.0", "asm unsigned", nullptr);
    stranger_digest_ = registry_.publish("alice", "app", "3.0.0", "asm stranger", &stranger_);
  }

  // KVM keeps with workload names (allow_insecure + any_measurement) and the check on for KVM.
  std::string policy_text(const std::string& registry_extra = {}) const {
    return "[issuance]\nallow_insecure = true\n[identity]\nany_measurement = true\n"
           "[registry]\nca_file = \"registry-ca.pem\"\ntimeout = \"5s\"\n" +
           registry_extra +
           "[[registry.check]]\nplatform = \"kvm\"\nallowed_signers = [\"" + publisher_fp() + "\"]\n";
  }
  std::unique_ptr<Steward> make(const std::string& policy) {
    auto steward = std::make_unique<Steward>(make_ca(system_clock()->now()),
                                             Policy::parse(policy, dir_.path()));
    register_default_verifiers(*steward);
    audit_ = std::make_shared<AuditLog>(dir_.path() / "audit.log", 0, system_clock());
    steward->set_audit_log(audit_);
    return steward;
  }

  Response request(const Steward& steward, const std::string& slug, const std::string& digest,
                   const std::string& signer) {
    SubjectAltNames sans;
    sans.uris = {"slug://" + slug, "urn:enarx:workload-digest:" + digest,
                 "urn:enarx:signer:sha-256:" + signer};
    return steward.handle(kPkcs10, kvm_csr(PrivateKey::generate(KeyType::EcP256), sans));
  }

  std::string publisher_fp() const { return jws::key_fingerprint(publisher_.public_key()); }
  std::string stranger_fp() const { return jws::key_fingerprint(stranger_.public_key()); }

  nlohmann::json last_audit_record() const {
    const auto text = read_text_file(dir_.path() / "audit.log", 1 << 20);
    auto end = text.find_last_not_of('\n');
    auto start = text.rfind('\n', end);
    return nlohmann::json::parse(text.substr(start == std::string::npos ? 0 : start + 1));
  }

  TempDir dir_{"steward-regcheck"};
  Drawbridge registry_;
  PrivateKey publisher_ = PrivateKey::generate(KeyType::EcP256);
  PrivateKey stranger_ = PrivateKey::generate(KeyType::EcP384);
  std::string digest_, unsigned_digest_, stranger_digest_;
  std::shared_ptr<AuditLog> audit_;
};

TEST_F(RegistryCheckTest, MatchingTagDigestAndSignerIsIssuedWithTheCheckInItsClaims) {
  auto steward = make(policy_text());
  steward->set_public_url("https://steward.example:3000");
  const std::string slug = registry_.host() + "/alice/app:1.0.0";
  const auto r = request(*steward, slug, digest_, publisher_fp());
  ASSERT_EQ(r.status, 200) << body_text(r);

  const auto leaf = pkipath(r).back();
  auto claims = identity::read_keep_facts(leaf);
  ASSERT_TRUE(claims.has_value());
  auto json = claims->claims;
  ASSERT_TRUE(json.contains("registry_check")) << json.dump();
  EXPECT_EQ(json["registry_check"]["drawbridge"], registry_.url());
  EXPECT_EQ(json["registry_check"]["tag"], slug);
  EXPECT_EQ(json["registry_check"]["digest"], digest_);
  EXPECT_EQ(json["registry_check"]["signer"], publisher_fp());
  EXPECT_EQ(json["steward"], "https://steward.example:3000");

  const auto audit = last_audit_record();
  EXPECT_EQ(audit["decision"], "issued");
  EXPECT_EQ(audit["registry_check"]["digest"], digest_);
}

TEST_F(RegistryCheckTest, ConfiguredUrlAnswersForTheSlugHost) {
  // The slug names the registry by its public name; steward asks the configured address.
  auto steward = make(policy_text("[registry.hosts.\"Registry.Example\"]\nurl = \"" + registry_.url() + "/\"\n"));
  const auto r = request(*steward, "registry.example/alice/app:1.0.0", digest_, publisher_fp());
  ASSERT_EQ(r.status, 200) << body_text(r);
  auto claims = identity::read_keep_facts(pkipath(r).back());
  EXPECT_EQ(claims->claims["registry_check"]["drawbridge"], registry_.url());
  EXPECT_EQ(claims->claims["registry_check"]["tag"], "registry.example/alice/app:1.0.0");
}

TEST_F(RegistryCheckTest, UnknownTagIsRefused) {
  auto steward = make(policy_text());
  const auto r = request(*steward, registry_.host() + "/alice/app:9.9.9", digest_, publisher_fp());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.code, "steward.registry.tag_not_found") << body_text(r);
  const auto audit = last_audit_record();
  EXPECT_EQ(audit["decision"], "rejected");
  EXPECT_EQ(audit["code"], "steward.registry.tag_not_found");
}

TEST_F(RegistryCheckTest, DifferentDigestIsRefused) {
  auto steward = make(policy_text());
  // The digest of another tag of the same repository: a real package, not this one.
  const auto r = request(*steward, registry_.host() + "/alice/app:1.0.0", unsigned_digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.digest_mismatch") << body_text(r);
  // Same value under another algorithm name is not the same digest either.
  const auto r384 = request(*steward, registry_.host() + "/alice/app:1.0.0",
                            "sha-384:" + std::string(96, 'a'), publisher_fp());
  EXPECT_EQ(r384.code, "steward.registry.digest_mismatch") << body_text(r384);
}

TEST_F(RegistryCheckTest, UnsignedTagIsRefused) {
  auto steward = make(policy_text());
  const auto r = request(*steward, registry_.host() + "/alice/app:2.0.0", unsigned_digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.unsigned") << body_text(r);
}

TEST_F(RegistryCheckTest, SignerNotInTheAllowedListIsRefused) {
  auto steward = make(policy_text());
  // Tag, digest and signer all agree; the signer is just not one this steward allows.
  const auto r = request(*steward, registry_.host() + "/alice/app:3.0.0", stranger_digest_, stranger_fp());
  EXPECT_EQ(r.code, "steward.registry.signer_not_allowed") << body_text(r);
}

TEST_F(RegistryCheckTest, TagSignedByAnotherKeyThanTheCsrNamesIsRefused) {
  auto steward = make(policy_text());
  // The CSR claims the allowed publisher, the tag is the stranger's.
  const auto r = request(*steward, registry_.host() + "/alice/app:3.0.0", stranger_digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.signer_mismatch") << body_text(r);
}

TEST_F(RegistryCheckTest, UnreachableRegistryIsRefused) {
  // A port nobody listens on (the registry's own, once stopped, could be reused; port 1 is
  // privileged and unused here).
  auto steward = make(policy_text("[registry.hosts.\"down.example\"]\nurl = \"https://127.0.0.1:1\"\n"));
  const auto r = request(*steward, "down.example/alice/app:1.0.0", digest_, publisher_fp());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.code, "steward.registry.unreachable") << body_text(r);
  EXPECT_EQ(last_audit_record()["code"], "steward.registry.unreachable");
}

TEST_F(RegistryCheckTest, RegistryNotTrustedByTheConfiguredBundleIsUnreachable) {
  // The bundle is another CA's: the TLS handshake fails, nothing is certified.
  const auto other = support::issue("other CA", nullptr, {.ca = true});
  write_file_atomic(dir_.path() / "other-ca.pem", other.cert.to_pem());
  auto steward = make(policy_text("[registry.hosts.\"" + registry_.host() + "\"]\nca_file = \"other-ca.pem\"\n"));
  const auto r = request(*steward, registry_.host() + "/alice/app:1.0.0", digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.unreachable") << body_text(r);
}

TEST_F(RegistryCheckTest, PrivateTagNeedsSteward_sToken) {
  registry_.make_repo("alice", "secret", /*is_public=*/false);
  const auto digest = registry_.publish("alice", "secret", "1.0.0", "asm private", &publisher_);
  const std::string slug = registry_.host() + "/alice/secret:1.0.0";
  {
    auto steward = make(policy_text());
    const auto r = request(*steward, slug, digest, publisher_fp());
    EXPECT_EQ(r.code, "steward.registry.tag_not_found") << body_text(r);
  }
  // A token file that cannot be read: refused at start-up, and per request if it goes away.
  auto steward = make(policy_text("token_file = \"token\"\n"));
  EXPECT_EQ(support::error_code([&] { steward->registry_checker()->check_token_files(); }),
            "steward.registry.token_unreadable");
  auto r = request(*steward, slug, digest, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.token_unreadable") << body_text(r);
  EXPECT_EQ(r.status, 500);

  write_file_atomic(dir_.path() / "token", registry_.token("alice") + "\n");
  EXPECT_NO_THROW(steward->registry_checker()->check_token_files());
  r = request(*steward, slug, digest, publisher_fp());
  EXPECT_EQ(r.status, 200) << body_text(r);
}

TEST_F(RegistryCheckTest, NamesTheCheckCannotVouchForAreRefused) {
  auto steward = make(policy_text());
  SubjectAltNames sans;
  sans.uris = {"slug://" + registry_.host() + "/alice/app:1.0.0", "urn:enarx:workload-digest:" + digest_};
  auto r = steward->handle(kPkcs10, kvm_csr(PrivateKey::generate(KeyType::EcP256), sans));
  EXPECT_EQ(r.code, "steward.registry.names_missing") << body_text(r);
  // No host: the certificate would grant reads on every registry.
  r = request(*steward, "alice/app:1.0.0", digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.no_host") << body_text(r);
  // No tag.
  r = request(*steward, registry_.host() + "/alice/app", digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.names_missing") << body_text(r);
}

TEST_F(RegistryCheckTest, OnlyListedHostsAreAsked) {
  auto steward = make(policy_text("only_listed_hosts = true\n"));
  const auto r = request(*steward, registry_.host() + "/alice/app:1.0.0", digest_, publisher_fp());
  EXPECT_EQ(r.code, "steward.registry.host_not_allowed") << body_text(r);
}

TEST_F(RegistryCheckTest, RulesApplyPerPlatformAndMeasurement) {
  // A rule for another platform leaves KVM unchecked: names are certified as stated.
  auto steward = make("[issuance]\nallow_insecure = true\n[identity]\nany_measurement = true\n"
                      "[[registry.check]]\nplatform = \"snp\"\nallowed_signers = [\"" + publisher_fp() + "\"]\n");
  const auto r = request(*steward, registry_.host() + "/alice/app:9.9.9", digest_, publisher_fp());
  ASSERT_EQ(r.status, 200) << body_text(r);
  EXPECT_FALSE(identity::read_keep_facts(pkipath(r).back())->claims.contains("registry_check"));

  Policy p = Policy::parse(
      "[[registry.check]]\nplatform = \"snp\"\nallowed_signers = [\"" + std::string(64, 'a') + "\"]\n"
      "[[registry.check]]\nplatform = \"snp\"\nmeasurement = \"AB\"\nallowed_signers = [\"" +
      std::string(64, 'b') + "\"]\n");
  ASSERT_NE(p.registry.rule_for("snp", "ab"), nullptr);
  EXPECT_EQ(p.registry.rule_for("snp", "ab")->allowed_signers.front(), std::string(64, 'b'));
  EXPECT_EQ(p.registry.rule_for("snp", "cd")->allowed_signers.front(), std::string(64, 'a'));
  EXPECT_EQ(p.registry.rule_for("tdx", "ab"), nullptr);
}

TEST(RegistryPolicy, OffByDefaultAndValidated) {
  EXPECT_TRUE(Policy::parse("").registry.rules.empty());
  const auto code = [](const std::string& text) {
    try {
      Policy::parse(text);
    } catch (const Error& e) {
      return e.code();
    }
    return std::string("accepted");
  };
  const std::string signer = std::string(64, 'a');
  EXPECT_EQ(code("[[registry.check]]\nplatform = \"snp\"\n"), "steward.policy.registry");
  EXPECT_EQ(code("[[registry.check]]\nplatform = \"sev\"\nallowed_signers = [\"" + signer + "\"]\n"),
            "steward.policy.registry");
  EXPECT_EQ(code("[[registry.check]]\nplatform = \"snp\"\nallowed_signers = [\"abc\"]\n"), "steward.policy.registry");
  EXPECT_EQ(code("[[registry.check]]\nplatform = \"snp\"\nallowed_signers = []\n"), "steward.policy.registry");
  EXPECT_EQ(code("[[registry.check]]\nplatform = \"snp\"\nsigners = [\"" + signer + "\"]\n"),
            "steward.policy.unknown_key");
  EXPECT_EQ(code("[registry.hosts.\"a.example\"]\nurl = \"http://a.example\"\n"), "steward.policy.registry");
  EXPECT_EQ(code("[registry]\nca_file = \"/nonexistent/ca.pem\"\n"), "steward.policy.registry_ca");
  EXPECT_EQ(code("[registry]\ntoken_file = \"\"\n"), "steward.policy.registry");
  EXPECT_EQ(code("[registry]\ntimeout = \"1h\"\n"), "steward.policy.registry");
  EXPECT_EQ(code("[registry]\nflavour = 1\n"), "steward.policy.unknown_key");
  EXPECT_EQ(code("[[registry.check]]\nplatform = \"snp\"\nallowed_signers = [\"" + signer + "\"]\n"), "accepted");
  // The check is part of the policy a certificate records.
  EXPECT_NE(Policy::parse("[[registry.check]]\nplatform = \"snp\"\nallowed_signers = [\"" + signer + "\"]\n").digest,
            Policy::parse("").digest);
}

TEST(StewardUrl, RecordedInEveryCertificateWhenSet) {
  Steward steward(make_ca(system_clock()->now()), insecure_policy());
  register_default_verifiers(steward);
  auto r = steward.handle(kPkcs10, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  ASSERT_EQ(r.status, 200) << body_text(r);
  EXPECT_FALSE(identity::read_keep_facts(pkipath(r).back())->claims.contains("steward"));
  steward.set_public_url("https://steward.example:8443");
  r = steward.handle(kPkcs10, kvm_csr(PrivateKey::generate(KeyType::EcP256)));
  ASSERT_EQ(r.status, 200) << body_text(r);
  EXPECT_EQ(identity::read_keep_facts(pkipath(r).back())->claims["steward"], "https://steward.example:8443");
}

TEST(StewardUrl, FromTheConfigurationOrItsHostAndPort) {
  config::Loader loader;
  declare_config(loader);
  const auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  // The policy tables may sit in the same file; the configuration skips them.
  auto cfg = loader.load_string("[server]\nhostnames = [\"steward.example\"]\n"
                                "[identity]\nany_measurement = false\n"
                                "[[registry.check]]\nplatform = \"snp\"\nallowed_signers = []\n",
                                none);
  EXPECT_EQ(public_url(cfg, 3000, true), "https://steward.example:3000");
  EXPECT_EQ(public_url(cfg, 3000, false), "http://steward.example:3000");
  cfg = loader.load_string("[server]\nhostnames = [\"::1\"]\n", none);
  EXPECT_EQ(public_url(cfg, 8443, true), "https://[::1]:8443");
  cfg = loader.load_string("[server]\npublic_url = \"https://ca.example.com\"\n", none);
  EXPECT_EQ(public_url(cfg, 8443, true), "https://ca.example.com");
}

}  // namespace
}  // namespace enarx::steward
