// Which steward `enarx deploy` attests to, against a real in-process drawbridge (HTTPS, SQLite):
// --steward > the signed tag > the repository > the registry's default > Enarx.toml, each level
// taking over when the one above names none; an unsigned tag's steward and a private
// repository's own steward (asked without a token that may read it) are not believed.
#include <gtest/gtest.h>

#include <fstream>

#include "client/deploy.h"
#include "client/registry_client.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "drawbridge/auth.h"
#include "support/https_registry.h"

using namespace enarx;
using namespace enarx::drawbridge;

namespace {

constexpr const char* kDefault = "https://default.example";
constexpr const char* kRepo = "https://repo.example";
constexpr const char* kTag = "https://tag.example";
constexpr const char* kToml = "https://toml.example";

class StewardChoice : public ::testing::Test {
 protected:
  void SetUp() override {
    store = open_sqlite_store((tmp.path() / "data").string());
    start(kDefault);
    owner = client("alice");
    owner->put_user("alice", "alice");
    owner->put_repo("alice", "app", true);
    owner->put_repo("alice", "secret", false);
    package = tmp.path() / "pkg";
    std::filesystem::create_directories(package);
    std::ofstream(package / "main.wasm", std::ios::binary) << std::string("\0asm\1\0\0\0", 8);
    std::ofstream(package / "Enarx.toml") << "steward = \"" << kToml << "\"\n";
  }

  // (Re)starts the registry over the same store with another default steward.
  void start(const std::string& default_steward) {
    registry.reset();
    auto options = support::HttpsRegistry::unlimited();
    options.default_steward = default_steward;
    registry = std::make_unique<support::HttpsRegistry>(store, issuer, options);
  }

  std::unique_ptr<client::RegistryClient> client(const std::string& subject) {
    std::string token;
    if (!subject.empty())
      token = issuer.mint(subject, all_manage_scopes(), std::chrono::hours(1), std::chrono::system_clock::now());
    return std::make_unique<client::RegistryClient>(registry->api_url(), registry->client_options(), token);
  }

  void publish(const std::string& repo, const std::string& tag, bool sign, const std::optional<std::string>& steward) {
    client::PublishOptions opts;
    if (sign) opts.signing_key = &key;
    opts.steward = steward;
    client::publish_package(*owner, identity::parse_slug("alice/" + repo + ":" + tag), package.string(), opts);
  }

  // What deploy would choose for alice/<repo>:<tag>, asked through `through`.
  client::StewardChoice choose(client::RegistryClient& through, const std::string& repo, const std::string& tag,
                               const std::string& flag = {}, std::vector<std::string>* notes = nullptr) {
    auto slug = identity::parse_slug("alice/" + repo + ":" + tag);
    auto metadata = client::fetch_tag_metadata(through, slug, {});
    return client::choose_steward(flag, slug, metadata, nullptr, &through, [&](const std::string& n) {
      if (notes) notes->push_back(n);
    });
  }

  TempDir tmp{"steward-choice"};
  LocalIssuer issuer = LocalIssuer::load_or_create(tmp.path() / "issuer", "test-issuer", "drawbridge");
  std::shared_ptr<Store> store;
  std::unique_ptr<support::HttpsRegistry> registry;
  std::unique_ptr<client::RegistryClient> owner, anonymous;
  std::filesystem::path package;
  PrivateKey key = PrivateKey::generate(KeyType::EcP256);
};

TEST_F(StewardChoice, EachLevelTakesOverWhenTheOneAboveNamesNone) {
  anonymous = client("");
  owner->set_repo_steward("alice", "app", kRepo);
  publish("app", "1.0.0", true, kTag);

  // --steward beats everything.
  auto c = choose(*anonymous, "app", "1.0.0", "https://flag.example");
  EXPECT_EQ(c.url, "https://flag.example");
  EXPECT_EQ(c.source, "--steward");
  // The signed tag.
  c = choose(*anonymous, "app", "1.0.0");
  EXPECT_EQ(c.url, kTag);
  EXPECT_EQ(c.source, "the signed tag");
  // A signed tag naming none: the repository.
  publish("app", "1.1.0", true, std::nullopt);
  c = choose(*anonymous, "app", "1.1.0");
  EXPECT_EQ(c.url, kRepo);
  EXPECT_EQ(c.source, "the repository");
  // No repository steward: the registry's default.
  owner->set_repo_steward("alice", "app", std::nullopt);
  c = choose(*anonymous, "app", "1.1.0");
  EXPECT_EQ(c.url, kDefault);
  EXPECT_EQ(c.source, "the registry's default");
  // No default either: the package's Enarx.toml (public package, read anonymously).
  start("");
  anonymous = client("");
  c = choose(*anonymous, "app", "1.1.0");
  EXPECT_EQ(c.url, kToml);
  EXPECT_EQ(c.source, "Enarx.toml");
}

TEST_F(StewardChoice, AnUnsignedTagsStewardIsNotThePublishersWord) {
  anonymous = client("");
  owner->set_repo_steward("alice", "app", kRepo);
  // publish_package refuses to state a steward it cannot sign ...
  try {
    publish("app", "2.0.0", false, kTag);
    ADD_FAILURE() << "published a steward in an unsigned tag";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "client.publish.steward_unsigned");
  }
  // ... and a tag that names one without a signature (the registry's word, or a forger's) is
  // ignored by the keep.
  auto tree = build_tree_from_path(package);
  Entry root = tree.root();
  root.custom["steward"] = "https://forged.example";
  owner->put_tag("alice", "app", "2.0.0", entry_to_json(root), std::string(kEntryType));
  for (const auto& n : tree.nodes) owner->put_node("alice", "app", "2.0.0", n.path, n.meta, n.content);
  std::vector<std::string> notes;
  auto c = choose(*anonymous, "app", "2.0.0", {}, &notes);
  EXPECT_EQ(c.url, kRepo);
  EXPECT_EQ(c.source, "the repository");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("unsigned"), std::string::npos) << notes[0];
}

TEST_F(StewardChoice, APrivateRepositorysOwnStewardNeedsATokenThatMayReadIt) {
  owner->set_repo_steward("alice", "secret", kRepo);
  publish("secret", "1.0.0", true, std::nullopt);
  // The owner's token (what `enarx deploy` sends with ENARX_TOKEN) sees the repository's.
  auto c = choose(*owner, "secret", "1.0.0");
  EXPECT_EQ(c.url, kRepo);
  EXPECT_EQ(c.source, "the repository");
  // Anyone else is told the registry's default, exactly as for a name that does not exist.
  anonymous = client("");
  auto bob = client("bob");
  for (auto* asker : {anonymous.get(), bob.get()}) {
    auto told = asker->discover_steward("alice", "secret", std::nullopt);
    EXPECT_EQ(told.url, kDefault);
    EXPECT_EQ(told.source, "registry");
    auto missing = asker->discover_steward("alice", "nothere", std::string("1.0.0"));
    EXPECT_EQ(missing.url, told.url);
    EXPECT_EQ(missing.source, told.source);
  }
}

}  // namespace
