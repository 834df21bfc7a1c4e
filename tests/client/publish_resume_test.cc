// Resumable publishing end to end: `publish_package` against an in-process drawbridge (HTTPS,
// both store back ends) is interrupted after some nodes, then re-run; the re-run must upload
// only the missing nodes (uploaded/skipped counters and the per-node callback) and the tag must
// end up complete and byte-identical.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "support/pg_cluster.h"
#include "client/jws.h"
#include "client/registry_client.h"
#include "core/error.h"
#include "core/file.h"
#include "drawbridge/auth.h"
#include "support/https_registry.h"

using namespace enarx;
using namespace enarx::drawbridge;
using namespace enarx::identity;

namespace {

struct SqliteBackend {
  static constexpr bool kPg = false;
  TempDir dir{"publish-resume"};
  std::shared_ptr<Store> open() { return open_sqlite_store((dir.path() / "data").string()); }
};

struct PgBackend {
  static constexpr bool kPg = true;
  std::shared_ptr<Store> open() { return open_postgres_store(pgtest::shared_cluster().new_database(), 4); }
};

struct Interrupted {};  // thrown from on_node to simulate a publish that died mid-way

template <typename B>
class PublishResume : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (B::kPg) ENARX_REQUIRE_PG();
    registry = std::make_unique<support::HttpsRegistry>(backend.open(), issuer);
    auto token = issuer.mint("alice", all_manage_scopes(), std::chrono::hours(1), std::chrono::system_clock::now());
    client = std::make_unique<client::RegistryClient>(registry->api_url(), registry->client_options(), token);
    client->put_user("alice", "alice");
    client->put_repo("alice", "app", true);
  }

  // A package: main.wasm, Enarx.toml and nested assets (7 nodes with the directories).
  std::string make_package(const std::string& name, const std::string& salt = "") {
    auto dir = tmp.path() / name;
    std::filesystem::create_directories(dir / "assets" / "b");
    std::string wasm(300000, '\0');
    for (std::size_t i = 0; i < wasm.size(); ++i) wasm[i] = static_cast<char>((i * 131) ^ (i >> 9));
    std::ofstream(dir / "main.wasm", std::ios::binary) << wasm;
    std::ofstream(dir / "Enarx.toml") << "args = []\n" << salt;
    std::ofstream(dir / "assets" / "a.txt") << "alpha";
    std::ofstream(dir / "assets" / "b" / "c.txt") << "gamma";
    return dir.string();
  }

  struct Run {
    client::PublishResult result;
    std::vector<std::string> uploaded, skipped;
    bool interrupted = false;
  };
  // Publishes; with `stop_after` the run dies after that many uploads.
  Run publish(const std::string& dir, const std::string& tag, std::optional<std::size_t> stop_after = {},
              const PrivateKey* key = nullptr) {
    Run run;
    client::PublishOptions opts;
    opts.signing_key = key;
    opts.on_node = [&](const std::string& path, std::size_t, std::size_t, bool up) {
      (up ? run.uploaded : run.skipped).push_back(path);
      if (stop_after && run.uploaded.size() >= *stop_after) throw Interrupted{};
    };
    try {
      run.result = client::publish_package(*client, slug(tag), dir, opts);
    } catch (const Interrupted&) {
      run.interrupted = true;
    }
    return run;
  }
  static Slug slug(const std::string& tag) { return parse_slug("alice/app:" + tag); }

  TempDir tmp{"publish-resume-test"};
  B backend;
  LocalIssuer issuer = LocalIssuer::load_or_create(tmp.path() / "issuer", "test-issuer", "drawbridge");
  std::unique_ptr<support::HttpsRegistry> registry;
  std::unique_ptr<client::RegistryClient> client;
};

using Backends = ::testing::Types<SqliteBackend, PgBackend>;
TYPED_TEST_SUITE(PublishResume, Backends, pgtest::BackendNames);

TYPED_TEST(PublishResume, RerunUploadsOnlyMissingNodes) {
  auto dir = this->make_package("pkg");
  auto tree = build_tree_from_path(dir);
  const std::size_t total = tree.nodes.size();
  ASSERT_EQ(total, 7u);

  auto first = this->publish(dir, "1.0.0", 3);
  ASSERT_TRUE(first.interrupted);
  ASSERT_EQ(first.uploaded.size(), 3u);
  EXPECT_TRUE(this->client->list_tags("alice", "app").empty());  // pending: invisible

  auto second = this->publish(dir, "1.0.0");
  ASSERT_FALSE(second.interrupted);
  EXPECT_EQ(second.result.skipped, 3u);
  EXPECT_EQ(second.result.uploaded, total - 3);
  EXPECT_FALSE(second.result.already_published);
  // Exactly the nodes the first run did not send.
  EXPECT_EQ(second.skipped, first.uploaded);
  std::set<std::string> all;
  for (const auto& n : tree.nodes) all.insert(n.path);
  for (const auto& p : first.uploaded) all.erase(p);
  EXPECT_EQ(std::set<std::string>(second.uploaded.begin(), second.uploaded.end()), all);

  EXPECT_EQ(this->client->list_tags("alice", "app"), std::vector<std::string>{"1.0.0"});
  client::FetchOptions fo;
  auto pkg = client::fetch_package(*this->client, this->slug("1.0.0"),
                                   client::fetch_tag_metadata(*this->client, this->slug("1.0.0"), fo), fo);
  EXPECT_EQ(pkg.metadata.root_digest, second.result.root_digest);
  for (const auto& n : tree.nodes) {
    if (n.meta.type == kDirectoryType) continue;
    ASSERT_TRUE(pkg.files.count(n.path)) << n.path;
    EXPECT_TRUE(pkg.files.at(n.path) == n.content) << n.path;
  }

  // A third run: complete and identical -> nothing sent.
  auto third = this->publish(dir, "1.0.0");
  EXPECT_TRUE(third.result.already_published);
  EXPECT_EQ(third.result.uploaded, 0u);
  EXPECT_EQ(third.result.skipped, total);
}

TYPED_TEST(PublishResume, SeveralInterruptionsThenSignedRerun) {
  auto dir = this->make_package("pkg");
  auto key = PrivateKey::generate(KeyType::EcP256);
  std::size_t sent = 0;
  // Each signed run makes a new (randomized ECDSA) signature over the same root: still resumes.
  for (std::size_t stop : {1u, 2u, 2u}) {
    auto run = this->publish(dir, "2.0.0", stop, &key);
    ASSERT_TRUE(run.interrupted);
    EXPECT_EQ(run.skipped.size(), sent);
    sent += run.uploaded.size();
  }
  auto last = this->publish(dir, "2.0.0", {}, &key);
  EXPECT_EQ(last.result.skipped, sent);
  EXPECT_EQ(last.result.uploaded, 7u - sent);
  auto tag = this->client->get_tag("alice", "app", "2.0.0");
  EXPECT_EQ(tag.type, std::string(jws::kMediaType));
  EXPECT_EQ(jws::verify(tag.content).signer_fingerprint, jws::key_fingerprint(key.public_key()));
}

TYPED_TEST(PublishResume, ChangedPackageRestartsThePendingTag) {
  auto dir = this->make_package("pkg");
  auto changed = this->make_package("pkg2", "# changed\n");
  auto first = this->publish(dir, "3.0.0", 4);
  ASSERT_TRUE(first.interrupted);
  // Different tree for the same pending tag: restarted, everything uploaded again.
  auto second = this->publish(changed, "3.0.0");
  EXPECT_EQ(second.result.skipped, 0u);
  EXPECT_EQ(second.result.uploaded, 7u);
  EXPECT_EQ(this->client->get_tag("alice", "app", "3.0.0").root, build_tree_from_path(changed).root());
  // The original content cannot replace it any more.
  try {
    this->publish(dir, "3.0.0");
    FAIL() << "expected a conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "registry.conflict");
  }
}

}  // namespace
