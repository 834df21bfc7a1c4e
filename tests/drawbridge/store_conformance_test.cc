// The same conformance suite over both Store back ends.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/file.h"
#include "drawbridge/model.h"
#include "drawbridge/store.h"
#include "support/pg_cluster.h"
#include "support/rendezvous.h"
#include "support/sqlite_writer.h"

using namespace enarx;
using namespace enarx::drawbridge;

namespace {

struct SqliteBackend {
  static constexpr bool kPg = false;
  TempDir dir{"drawbridge-store"};
  std::unique_ptr<Store> open() { return open_sqlite_store((dir.path() / "data").string()); }

  // Replaces the store by a database as the version before issuers were recorded wrote it
  // (its exact schema), holding one user.
  void write_legacy_database(const std::string& user, const std::string& subject) {
    auto data = dir.path() / "data";
    std::filesystem::remove_all(data);
    std::filesystem::create_directories(data);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data / "meta.sqlite3").c_str(), &db), SQLITE_OK);
    auto sql = std::string(R"sql(
      PRAGMA journal_mode=WAL;
      CREATE TABLE users(
        name TEXT PRIMARY KEY, meta TEXT NOT NULL, content BLOB NOT NULL, subject TEXT NOT NULL);
      CREATE TABLE repos(
        user TEXT NOT NULL REFERENCES users(name), name TEXT NOT NULL, meta TEXT NOT NULL,
        content BLOB NOT NULL, public INTEGER NOT NULL, PRIMARY KEY(user, name));
      CREATE TABLE tags(
        id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, repo TEXT NOT NULL,
        name TEXT NOT NULL, meta TEXT NOT NULL, content BLOB NOT NULL,
        complete INTEGER NOT NULL, missing INTEGER NOT NULL, UNIQUE(user, repo, name),
        FOREIGN KEY(user, repo) REFERENCES repos(user, name));
      CREATE TABLE nodes(
        tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE, path TEXT NOT NULL,
        entry TEXT NOT NULL, present INTEGER NOT NULL, blob TEXT, PRIMARY KEY(tag_id, path));
      INSERT INTO users VALUES(')sql") + user + "', '{}', x'7B7D', '" + subject + "');";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
};

struct PgBackend {
  static constexpr bool kPg = true;
  std::string conninfo;
  std::unique_ptr<Store> open() {
    if (conninfo.empty()) conninfo = pgtest::shared_cluster().new_database();
    return open_postgres_store(conninfo, 4);
  }

  // Switches to a fresh database with the schema of the version before issuers were recorded,
  // holding one user.
  void write_legacy_database(const std::string& user, const std::string& subject) {
    conninfo = pgtest::shared_cluster().new_database();
    pqxx::connection c(conninfo);
    pqxx::work w(c);
    w.exec(R"sql(
      CREATE TABLE drawbridge_users(
        name TEXT PRIMARY KEY, meta TEXT NOT NULL, content BYTEA NOT NULL, subject TEXT NOT NULL);
      CREATE TABLE drawbridge_repos(
        usr TEXT NOT NULL REFERENCES drawbridge_users(name), name TEXT NOT NULL,
        meta TEXT NOT NULL, content BYTEA NOT NULL, public BOOLEAN NOT NULL,
        PRIMARY KEY(usr, name));
      CREATE TABLE drawbridge_tags(
        id BIGSERIAL PRIMARY KEY, usr TEXT NOT NULL, repo TEXT NOT NULL, name TEXT NOT NULL,
        meta TEXT NOT NULL, content BYTEA NOT NULL, complete BOOLEAN NOT NULL,
        missing BIGINT NOT NULL, UNIQUE(usr, repo, name),
        FOREIGN KEY(usr, repo) REFERENCES drawbridge_repos(usr, name));
      CREATE TABLE drawbridge_nodes(
        tag_id BIGINT NOT NULL REFERENCES drawbridge_tags(id) ON DELETE CASCADE,
        path TEXT NOT NULL, entry TEXT NOT NULL, present BOOLEAN NOT NULL, blob TEXT,
        PRIMARY KEY(tag_id, path));
      CREATE TABLE drawbridge_blobs(key TEXT PRIMARY KEY, data BYTEA NOT NULL);
    )sql");
    w.exec_params("INSERT INTO drawbridge_users VALUES($1, '{}', '\\x7b7d', $2)", user, subject);
    w.commit();
  }
};

template <typename B>
class StoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (B::kPg) ENARX_REQUIRE_PG();
    store = backend.open();
  }
  void make_repo(const std::string& user, const std::string& repo, bool pub = false) {
    store->create_user(user, "{}", as_bytes("{\"subject\":\"s\"}"), "iss", "sub-" + user);
    ASSERT_EQ(store->create_repo(user, repo, "{}", as_bytes(repo_to_json({pub})), pub), PutResult::Created);
  }
  B backend;
  std::unique_ptr<Store> store;
};

using Backends = ::testing::Types<SqliteBackend, PgBackend>;
TYPED_TEST_SUITE(StoreConformance, Backends, pgtest::BackendNames);

TYPED_TEST(StoreConformance, UsersAndRepositories) {
  auto& s = *this->store;
  EXPECT_FALSE(s.get_user("alice"));
  EXPECT_EQ(s.create_user("alice", "{\"m\":1}", as_bytes("{\"subject\":\"a\"}"), "https://idp.example", "a"),
            PutResult::Created);
  EXPECT_EQ(s.create_user("alice", "{\"m\":2}", as_bytes("x"), "https://idp.example", "b"), PutResult::Exists);
  auto u = s.get_user("alice");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->subject, "a");
  EXPECT_EQ(u->issuer, "https://idp.example");
  EXPECT_EQ(u->meta_json, "{\"m\":1}");
  EXPECT_EQ(as_string(u->content), "{\"subject\":\"a\"}");
  try {
    s.create_repo("bob", "r", "{}", as_bytes("{}"), true);
    FAIL() << "expected no_user";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "drawbridge.store.no_user");
  }
  EXPECT_EQ(s.create_repo("alice", "zeta", "{}", as_bytes("{\"public\":true}"), true), PutResult::Created);
  EXPECT_EQ(s.create_repo("alice", "alpha", "{}", as_bytes("{\"public\":false}"), false), PutResult::Created);
  EXPECT_EQ(s.create_repo("alice", "alpha", "{}", as_bytes("{\"public\":true}"), true), PutResult::Exists);
  auto repos = s.list_repos("alice");
  ASSERT_EQ(repos.size(), 2u);
  EXPECT_EQ(repos[0], (std::pair<std::string, bool>{"alpha", false}));
  EXPECT_EQ(repos[1], (std::pair<std::string, bool>{"zeta", true}));
  auto r = s.get_repo("alice", "alpha");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->is_public);
  EXPECT_FALSE(s.get_repo("alice", "nope"));
}

// A user is stored with the issuer that registered it; the same subject from another issuer
// neither takes the name over nor changes the row.
TYPED_TEST(StoreConformance, UsersKeepTheirIssuer) {
  auto& s = *this->store;
  ASSERT_EQ(s.create_user("alice", "{}", as_bytes("{}"), "https://idp.example", "alice"), PutResult::Created);
  EXPECT_EQ(s.create_user("alice", "{}", as_bytes("{}"), "drawbridge-local", "alice"), PutResult::Exists);
  ASSERT_EQ(s.create_user("bob", "{}", as_bytes("{}"), "drawbridge-local", "alice"), PutResult::Created);
  this->store.reset();
  this->store = this->backend.open();
  auto alice = this->store->get_user("alice"), bob = this->store->get_user("bob");
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->issuer, "https://idp.example");
  EXPECT_EQ(alice->subject, "alice");
  EXPECT_EQ(bob->issuer, "drawbridge-local");
  EXPECT_EQ(bob->subject, "alice");
}

// A database from before issuers were recorded gets the column when opened; its users keep no
// issuer (nullopt: unknown), new users get theirs, and opening again changes nothing.
TYPED_TEST(StoreConformance, MigratesUsersWithoutIssuer) {
  this->store.reset();
  this->backend.write_legacy_database("old", "sub-old");
  this->store = this->backend.open();
  auto old = this->store->get_user("old");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->subject, "sub-old");
  EXPECT_EQ(old->issuer, std::nullopt);
  EXPECT_EQ(this->store->create_user("new", "{}", as_bytes("{}"), "drawbridge-local", "sub-new"), PutResult::Created);
  EXPECT_EQ(this->store->create_repo("old", "app", "{}", as_bytes("{\"public\":true}"), true), PutResult::Created);
  this->store.reset();
  this->store = this->backend.open();
  EXPECT_EQ(this->store->get_user("old")->issuer, std::nullopt);
  EXPECT_EQ(this->store->get_user("new")->issuer, "drawbridge-local");
  EXPECT_TRUE(this->store->get_repo("old", "app"));
}

TYPED_TEST(StoreConformance, TagBecomesVisibleOnlyWhenTreeComplete) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  try {
    s.put_tag("alice", "nope", "1.0.0", "{}", as_bytes("t"), "{}");
    FAIL() << "expected no_repo";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "drawbridge.store.no_repo");
  }
  ASSERT_EQ(s.put_tag("alice", "app", "1.0.0", "{\"tm\":1}", as_bytes("tag-body"), "{\"root\":1}"), PutResult::Created);
  auto tag = s.get_tag("alice", "app", "1.0.0");
  ASSERT_TRUE(tag);
  EXPECT_FALSE(tag->complete);
  EXPECT_EQ(as_string(tag->content), "tag-body");
  EXPECT_TRUE(s.list_tags("alice", "app").empty());
  auto root = s.get_node(tag->id, "");
  ASSERT_TRUE(root);
  EXPECT_FALSE(root->present);
  EXPECT_EQ(root->entry_json, "{\"root\":1}");

  EXPECT_EQ(s.put_node(tag->id, "a", blob_key_of(as_bytes("A")), as_bytes("A"), {}).result, NodePutResult::NotExpected);
  auto out = s.put_node(tag->id, "", blob_key_of(as_bytes("dir")), as_bytes("dir"),
                        {{"a", "{\"ea\":1}"}, {"b", "{\"eb\":1}"}});
  EXPECT_EQ(out.result, NodePutResult::Created);
  EXPECT_FALSE(out.tag_completed);
  EXPECT_EQ(s.put_node(tag->id, "", blob_key_of(as_bytes("dir")), as_bytes("dir"), {}).result, NodePutResult::Exists);
  out = s.put_node(tag->id, "a", blob_key_of(as_bytes("A")), as_bytes("A"), {});
  EXPECT_EQ(out.result, NodePutResult::Created);
  EXPECT_FALSE(out.tag_completed);
  EXPECT_TRUE(s.list_tags("alice", "app").empty());
  out = s.put_node(tag->id, "b", blob_key_of(as_bytes("B")), as_bytes("B"), {});
  EXPECT_TRUE(out.tag_completed);
  EXPECT_EQ(s.list_tags("alice", "app"), std::vector<std::string>{"1.0.0"});
  EXPECT_TRUE(s.get_tag("alice", "app", "1.0.0")->complete);

  auto b = s.get_node(tag->id, "b");
  ASSERT_TRUE(b && b->present);
  EXPECT_EQ(b->entry_json, "{\"eb\":1}");
  EXPECT_EQ(as_string(s.read_blob(b->blob_key)), "B");
  // Immutable once complete.
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("other"), "{}"), PutResult::Exists);
  EXPECT_EQ(s.put_node(tag->id, "b", blob_key_of(as_bytes("C")), as_bytes("C"), {}).result, NodePutResult::Exists);
  EXPECT_EQ(as_string(s.get_tag("alice", "app", "1.0.0")->content), "tag-body");
}

TYPED_TEST(StoreConformance, PendingTagRestarts) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("v1"), "{\"r\":1}");
  auto first = s.get_tag("alice", "app", "1.0.0")->id;
  s.put_node(first, "", blob_key_of(as_bytes("d")), as_bytes("d"), {{"x", "{}"}});
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("v2"), "{\"r\":2}"), PutResult::Created);
  auto second = s.get_tag("alice", "app", "1.0.0");
  EXPECT_NE(second->id, first);
  EXPECT_EQ(as_string(second->content), "v2");
  EXPECT_EQ(s.put_node(first, "x", blob_key_of(as_bytes("x")), as_bytes("x"), {}).result, NodePutResult::TagGone);
  EXPECT_FALSE(s.get_node(second->id, "")->present);
  EXPECT_FALSE(s.get_node(second->id, "x"));
  // A single-file tree completes with its root.
  EXPECT_TRUE(s.put_node(second->id, "", blob_key_of(as_bytes("f")), as_bytes("f"), {}).tag_completed);
}

// Resumable publishing: the same root entry keeps what is stored; a different one restarts.
TYPED_TEST(StoreConformance, PendingTagResumesWithSameRoot) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  const std::string root = "{\"r\":1}";
  ASSERT_EQ(s.put_tag("alice", "app", "1.0.0", "{\"m\":1}", as_bytes("sig-1"), root), PutResult::Created);
  auto id = s.get_tag("alice", "app", "1.0.0")->id;
  ASSERT_EQ(s.put_node(id, "", blob_key_of(as_bytes("dir")), as_bytes("dir"), {{"a", "{\"ea\":1}"}, {"b", "{\"eb\":1}"}})
                .result,
            NodePutResult::Created);
  ASSERT_EQ(s.put_node(id, "a", blob_key_of(as_bytes("A")), as_bytes("A"), {}).result, NodePutResult::Created);

  // Same root, new body (a fresh signature): resumed, nodes and id kept, body replaced.
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{\"m\":2}", as_bytes("sig-2"), root), PutResult::Resumed);
  auto t = s.get_tag("alice", "app", "1.0.0");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, id);
  EXPECT_FALSE(t->complete);
  EXPECT_EQ(as_string(t->content), "sig-2");
  EXPECT_EQ(t->meta_json, "{\"m\":2}");
  EXPECT_TRUE(s.get_node(id, "")->present);
  EXPECT_TRUE(s.get_node(id, "a")->present);
  ASSERT_TRUE(s.get_node(id, "b"));
  EXPECT_FALSE(s.get_node(id, "b")->present);
  EXPECT_TRUE(s.list_tags("alice", "app").empty());
  // Idempotent: again, byte-identical.
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{\"m\":2}", as_bytes("sig-2"), root), PutResult::Resumed);
  EXPECT_EQ(s.put_node(id, "a", blob_key_of(as_bytes("A")), as_bytes("A"), {}).result, NodePutResult::Exists);

  // Survives a reopen (a restarted registry resumes too).
  this->store.reset();
  this->store = this->backend.open();
  auto& s2 = *this->store;
  EXPECT_EQ(s2.put_tag("alice", "app", "1.0.0", "{\"m\":2}", as_bytes("sig-2"), root), PutResult::Resumed);
  EXPECT_EQ(s2.get_tag("alice", "app", "1.0.0")->id, id);
  auto out = s2.put_node(id, "b", blob_key_of(as_bytes("B")), as_bytes("B"), {});
  EXPECT_EQ(out.result, NodePutResult::Created);
  EXPECT_TRUE(out.tag_completed);
  EXPECT_EQ(s2.list_tags("alice", "app"), std::vector<std::string>{"1.0.0"});
  // Complete: immutable, whatever the body.
  EXPECT_EQ(s2.put_tag("alice", "app", "1.0.0", "{\"m\":3}", as_bytes("sig-3"), root), PutResult::Exists);
  EXPECT_EQ(as_string(s2.get_tag("alice", "app", "1.0.0")->content), "sig-2");
  EXPECT_EQ(s2.get_tag("alice", "app", "1.0.0")->meta_json, "{\"m\":2}");
}

TYPED_TEST(StoreConformance, PendingTagWithDifferentRootRestartsAfterResume) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("v1"), "{\"r\":1}");
  auto id = s.get_tag("alice", "app", "1.0.0")->id;
  s.put_node(id, "", blob_key_of(as_bytes("d")), as_bytes("d"), {{"x", "{}"}});
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("v1"), "{\"r\":1}"), PutResult::Resumed);
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("v2"), "{\"r\":2}"), PutResult::Created);
  auto second = s.get_tag("alice", "app", "1.0.0");
  EXPECT_NE(second->id, id);
  EXPECT_FALSE(s.get_node(second->id, "")->present);
  EXPECT_FALSE(s.get_node(second->id, "x"));
  EXPECT_EQ(s.put_node(id, "x", blob_key_of(as_bytes("x")), as_bytes("x"), {}).result, NodePutResult::TagGone);
  // The old root is no longer "the same": going back restarts again.
  EXPECT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("v1"), "{\"r\":1}"), PutResult::Created);
}

// Resumes racing the upload that completes the tag: the tag is never restarted, completes
// exactly once, and its body never changes once complete.
TYPED_TEST(StoreConformance, ConcurrentResumesNeverBreakCompletion) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  const std::string root = "{\"r\":\"c\"}";
  s.put_tag("alice", "app", "3.0.0", "{}", as_bytes("body-0"), root);
  auto id = s.get_tag("alice", "app", "3.0.0")->id;
  constexpr int kChildren = 30;
  std::vector<ChildExpectation> kids;
  for (int i = 0; i < kChildren; ++i) kids.push_back({"f" + std::to_string(i), "{}"});
  s.put_node(id, "", blob_key_of(as_bytes("root")), as_bytes("root"), kids);
  std::atomic<bool> done{false};
  std::atomic<int> completed{0};
  std::string body_at_exists;
  std::string resumer_error;
  std::thread resumer([&] {
    try {
      for (int i = 1; !done; ++i) {
        auto r = s.put_tag("alice", "app", "3.0.0", "{}", as_bytes("body-" + std::to_string(i)), root);
        if (r == PutResult::Exists) {
          body_at_exists = as_string(s.get_tag("alice", "app", "3.0.0")->content);
          return;
        }
        EXPECT_EQ(r, PutResult::Resumed);
      }
    } catch (const std::exception& e) {
      resumer_error = e.what();
    }
  });
  for (int i = 0; i < kChildren; ++i) {
    auto c = "c" + std::to_string(i);
    auto r = s.put_node(id, "f" + std::to_string(i), blob_key_of(as_bytes(c)), as_bytes(c), {});
    EXPECT_EQ(r.result, NodePutResult::Created) << i;
    if (r.tag_completed) ++completed;
  }
  std::string final_body(as_string(s.get_tag("alice", "app", "3.0.0")->content));
  // Let the resumer observe the completed tag at least once.
  EXPECT_EQ(s.put_tag("alice", "app", "3.0.0", "{}", as_bytes("late"), root), PutResult::Exists);
  resumer.join();
  done = true;
  EXPECT_EQ(resumer_error, "");
  EXPECT_EQ(completed.load(), 1);
  auto t = s.get_tag("alice", "app", "3.0.0");
  EXPECT_TRUE(t->complete);
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(as_string(t->content), final_body);
  EXPECT_EQ(body_at_exists, final_body);
}

TYPED_TEST(StoreConformance, BlobsDeduplicatedAcrossRepositories) {
  this->make_repo("alice", "one");
  this->make_repo("bob", "two", true);
  auto& s = *this->store;
  Bytes big(300000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7 + 3);
  auto key = blob_key_of(big);
  for (auto [user, repo] : {std::pair{"alice", "one"}, std::pair{"bob", "two"}}) {
    s.put_tag(user, repo, "0.1.0", "{}", as_bytes("t"), "{}");
    auto id = s.get_tag(user, repo, "0.1.0")->id;
    EXPECT_TRUE(s.put_node(id, "", key, big, {}).tag_completed);
    EXPECT_EQ(s.get_node(id, "")->blob_key, key);
  }
  EXPECT_EQ(s.read_blob(key), big);
  try {
    s.read_blob(std::string(64, '0'));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "drawbridge.store.blob_missing");
  }
  if constexpr (!TypeParam::kPg) {
    std::size_t files = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(this->backend.dir.path() / "data" / "blobs"))
      if (e.is_regular_file()) ++files;
    EXPECT_EQ(files, 1u);
  }
}

// Node bodies arrive through a spool file (the HTTP server streams them there): stored like
// put_node's, deduplicated, and the spool never left behind.
TYPED_TEST(StoreConformance, SpooledNodesAreStoredAndDeduplicated) {
  this->make_repo("alice", "one");
  this->make_repo("bob", "two", true);
  auto& s = *this->store;
  Bytes big(700000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 13 + 5);
  const auto key = blob_key_of(big);
  const auto spooled = [&] {
    auto spool = s.spool({DigestAlgorithm::Sha256, DigestAlgorithm::Sha512});
    for (std::size_t off = 0; off < big.size(); off += 65536)
      spool->write(ByteView(big).subspan(off, std::min<std::size_t>(65536, big.size() - off)));
    return spool;
  };
  const auto spool_files = [&]() -> std::size_t {
    if constexpr (TypeParam::kPg) {
      return 0;
    } else {
      std::size_t n = 0;
      for (auto& e : std::filesystem::directory_iterator(this->backend.dir.path() / "data" / "tmp")) n += e.exists();
      return n;
    }
  };
  for (auto [user, repo] : {std::pair{"alice", "one"}, std::pair{"bob", "two"}}) {
    s.put_tag(user, repo, "0.1.0", "{}", as_bytes("t"), "{}");
    auto id = s.get_tag(user, repo, "0.1.0")->id;
    auto spool = spooled();
    if constexpr (!TypeParam::kPg) {
      EXPECT_EQ(spool_files(), 1u);
    }
    const auto digest = spool->finish();
    EXPECT_EQ(digest, ContentDigest::compute(big, {DigestAlgorithm::Sha256, DigestAlgorithm::Sha512}));
    EXPECT_EQ(spool->size(), big.size());
    auto out = s.put_node_spooled(id, "", key, *spool, {});
    EXPECT_EQ(out.result, NodePutResult::Created);
    EXPECT_TRUE(out.tag_completed);
    spool.reset();
    EXPECT_EQ(spool_files(), 0u);
    EXPECT_EQ(s.get_node(id, "")->blob_key, key);
    // Stored: a second upload of the node is refused, its spool removed.
    auto again = spooled();
    again->finish();
    EXPECT_EQ(s.put_node_spooled(id, "", key, *again, {}).result, NodePutResult::Exists);
    EXPECT_EQ(s.put_node_spooled(id, "nope", key, *again, {}).result, NodePutResult::NotExpected);
    again.reset();
    EXPECT_EQ(spool_files(), 0u);
  }
  EXPECT_EQ(s.read_blob(key), big);
  if constexpr (!TypeParam::kPg) {
    std::size_t files = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(this->backend.dir.path() / "data" / "blobs"))
      if (e.is_regular_file()) ++files;
    EXPECT_EQ(files, 1u);
  }
}

TYPED_TEST(StoreConformance, ConcurrentNodeUploadsCompleteExactlyOnce) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  s.put_tag("alice", "app", "2.0.0", "{}", as_bytes("t"), "{}");
  auto id = s.get_tag("alice", "app", "2.0.0")->id;
  constexpr int kChildren = 40;
  std::vector<ChildExpectation> kids;
  for (int i = 0; i < kChildren; ++i) kids.push_back({"f" + std::to_string(i), "{}"});
  s.put_node(id, "", blob_key_of(as_bytes("root")), as_bytes("root"), kids);
  std::atomic<int> completed{0}, created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Every thread tries every child; each is created exactly once.
      for (int i = 0; i < kChildren; ++i) {
        auto content = "c" + std::to_string((i + t * 10) % kChildren);
        auto path = "f" + std::to_string((i + t * 10) % kChildren);
        auto r = s.put_node(id, path, blob_key_of(as_bytes(content)), as_bytes(content), {});
        if (r.result == NodePutResult::Created) ++created;
        if (r.tag_completed) ++completed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), kChildren);
  EXPECT_EQ(completed.load(), 1);
  EXPECT_TRUE(s.get_tag("alice", "app", "2.0.0")->complete);
}

TYPED_TEST(StoreConformance, SurvivesReopen) {
  this->make_repo("alice", "app", true);
  this->store->put_tag("alice", "app", "1.0.0", "{}", as_bytes("t"), "{}");
  auto id = this->store->get_tag("alice", "app", "1.0.0")->id;
  this->store->put_node(id, "", blob_key_of(as_bytes("file")), as_bytes("file"), {});
  this->store.reset();
  this->store = this->backend.open();
  EXPECT_EQ(this->store->list_tags("alice", "app"), std::vector<std::string>{"1.0.0"});
  EXPECT_EQ(as_string(this->store->read_blob(this->store->get_node(id, "")->blob_key)), "file");
  EXPECT_TRUE(this->store->get_repo("alice", "app")->is_public);
}

}  // namespace

// The owner's later settings (the repository's steward) replace the stored config in place;
// whether the repository is public stays as it was created.
TYPED_TEST(StoreConformance, RepositoryConfigIsReplacedInPlace) {
  auto& s = *this->store;
  this->make_repo("alice", "app", true);
  RepoConfig changed;
  changed.is_public = true;
  changed.steward = "https://steward.example";
  const auto content = repo_to_json(changed);
  EXPECT_TRUE(s.replace_repo_config("alice", "app", "{\"m\":2}", as_bytes(content)));
  auto r = s.get_repo("alice", "app");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->meta_json, "{\"m\":2}");
  EXPECT_EQ(as_string(r->content), content);
  EXPECT_TRUE(r->is_public);
  EXPECT_EQ(s.list_repos("alice"), (std::vector<std::pair<std::string, bool>>{{"app", true}}));
  EXPECT_FALSE(s.replace_repo_config("alice", "nothere", "{}", as_bytes(content)));
  EXPECT_FALSE(s.replace_repo_config("ghost", "app", "{}", as_bytes(content)));
  EXPECT_FALSE(s.get_repo("alice", "nothere"));
}

namespace {

// A store call expected to throw `code`.
template <typename F>
std::string thrown_code(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return "(nothing thrown)";
}

}  // namespace

// A token maps to the users its (issuer, subject) registered, plus legacy rows without an
// issuer (the registry decides whether those are the token's); never another issuer's rows.
TYPED_TEST(StoreConformance, UserForMatchesIssuerAndSubject) {
  auto& s = *this->store;
  s.create_user("alice", "{}", as_bytes("{}"), "https://idp.example", "a");
  s.create_user("alice2", "{}", as_bytes("{}"), "https://idp.example", "a");
  s.create_user("mallory", "{}", as_bytes("{}"), "drawbridge-local", "a");
  s.create_user("bob", "{}", as_bytes("{}"), "https://idp.example", "b");
  auto users = s.user_for("https://idp.example", "a");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "alice");
  EXPECT_EQ(users[0].issuer, "https://idp.example");
  EXPECT_EQ(users[1].name, "alice2");
  EXPECT_TRUE(s.user_for("https://idp.example", "nobody").empty());
  EXPECT_TRUE(s.user_for("https://other.example", "b").empty());
}

TYPED_TEST(StoreConformance, GrantsToUsersAndGroups) {
  auto& s = *this->store;
  this->make_repo("alice", "app");
  this->make_repo("alice", "other");
  this->make_repo("carol", "app");
  s.create_user("bob", "{}", as_bytes("{}"), "iss", "sub-bob");
  s.create_user("dave", "{}", as_bytes("{}"), "iss", "sub-dave");

  EXPECT_EQ(s.access_of("alice", "app", "bob"), std::nullopt);
  EXPECT_EQ(s.put_grant("alice", "app", Grantee::User, "bob", Access::Read), PutResult::Created);
  EXPECT_EQ(s.access_of("alice", "app", "bob"), Access::Read);
  // Per repository: nothing leaks to another repository or another owner's same name.
  EXPECT_EQ(s.access_of("alice", "other", "bob"), std::nullopt);
  EXPECT_EQ(s.access_of("carol", "app", "bob"), std::nullopt);
  EXPECT_EQ(s.put_grant("alice", "app", Grantee::User, "bob", Access::Write), PutResult::Exists);
  EXPECT_EQ(s.access_of("alice", "app", "bob"), Access::Write);

  EXPECT_EQ(thrown_code([&] { s.put_grant("alice", "app", Grantee::User, "ghost", Access::Read); }),
            "drawbridge.share.no_user");
  EXPECT_EQ(thrown_code([&] { s.put_grant("alice", "nothere", Grantee::User, "bob", Access::Read); }),
            "drawbridge.store.no_repo");
  EXPECT_EQ(thrown_code([&] { s.put_grant("alice", "app", Grantee::Group, "team", Access::Read); }),
            "drawbridge.share.no_group");

  // Groups: a grant to one of the owner's groups reaches its members, and only while they are.
  EXPECT_EQ(s.create_group("alice", "team"), PutResult::Created);
  EXPECT_EQ(s.create_group("alice", "team"), PutResult::Exists);
  EXPECT_EQ(s.create_group("carol", "team"), PutResult::Created);  // names are per owner
  EXPECT_EQ(thrown_code([&] { s.create_group("ghost", "team"); }), "drawbridge.store.no_user");
  EXPECT_EQ(s.add_member("alice", "team", "dave"), PutResult::Created);
  EXPECT_EQ(s.add_member("alice", "team", "dave"), PutResult::Exists);
  EXPECT_EQ(thrown_code([&] { s.add_member("alice", "team", "ghost"); }), "drawbridge.share.no_user");
  EXPECT_EQ(thrown_code([&] { s.add_member("alice", "nope", "dave"); }), "drawbridge.share.no_group");
  EXPECT_EQ(s.access_of("alice", "app", "dave"), std::nullopt);
  EXPECT_EQ(s.put_grant("alice", "app", Grantee::Group, "team", Access::Read), PutResult::Created);
  EXPECT_EQ(s.access_of("alice", "app", "dave"), Access::Read);
  // carol's group of the same name is another group: its members get nothing of alice's.
  s.add_member("carol", "team", "bob");
  EXPECT_EQ(s.access_of("alice", "app", "bob"), Access::Write);  // (bob's own grant)
  s.add_member("carol", "team", "dave");
  EXPECT_EQ(s.put_grant("carol", "app", Grantee::Group, "team", Access::Write), PutResult::Created);
  EXPECT_EQ(s.access_of("alice", "app", "dave"), Access::Read);
  // The strongest of a direct and a group grant.
  s.add_member("alice", "team", "bob");
  EXPECT_EQ(s.access_of("alice", "app", "bob"), Access::Write);

  EXPECT_EQ(s.list_groups("alice"), std::vector<std::string>{"team"});
  EXPECT_EQ(s.group_members("alice", "team"), (std::vector<std::string>{"bob", "dave"}));
  EXPECT_EQ(s.group_members("alice", "nope"), std::nullopt);
  auto grants = s.list_grants("alice", "app");
  ASSERT_EQ(grants.size(), 2u);
  EXPECT_EQ(grants[0].kind, Grantee::User);
  EXPECT_EQ(grants[0].name, "bob");
  EXPECT_EQ(grants[0].access, Access::Write);
  EXPECT_EQ(grants[1].kind, Grantee::Group);
  EXPECT_EQ(grants[1].name, "team");
  EXPECT_EQ(grants[1].access, Access::Read);

  // Revocations.
  EXPECT_TRUE(s.remove_member("alice", "team", "dave"));
  EXPECT_FALSE(s.remove_member("alice", "team", "dave"));
  EXPECT_EQ(s.access_of("alice", "app", "dave"), std::nullopt);
  EXPECT_TRUE(s.delete_grant("alice", "app", Grantee::User, "bob"));
  EXPECT_FALSE(s.delete_grant("alice", "app", Grantee::User, "bob"));
  EXPECT_EQ(s.access_of("alice", "app", "bob"), Access::Read);  // still in the team
  // Deleting a group takes its members and grants with it; a new group of the same name
  // inherits neither.
  EXPECT_TRUE(s.delete_group("alice", "team"));
  EXPECT_FALSE(s.delete_group("alice", "team"));
  EXPECT_EQ(s.access_of("alice", "app", "bob"), std::nullopt);
  EXPECT_TRUE(s.list_grants("alice", "app").empty());
  EXPECT_EQ(s.create_group("alice", "team"), PutResult::Created);
  EXPECT_EQ(s.group_members("alice", "team"), std::vector<std::string>{});
  EXPECT_EQ(s.access_of("alice", "app", "bob"), std::nullopt);
  // carol's grants are untouched.
  EXPECT_EQ(s.access_of("carol", "app", "dave"), Access::Write);

  // Grants and groups survive a reopen.
  s.put_grant("alice", "other", Grantee::User, "dave", Access::Write);
  this->store.reset();
  this->store = this->backend.open();
  EXPECT_EQ(this->store->access_of("alice", "other", "dave"), Access::Write);
  EXPECT_EQ(this->store->list_groups("carol"), std::vector<std::string>{"team"});
}

// A database of the version before sharing gets its tables when opened, and legacy users (no
// issuer) are found by subject.
TYPED_TEST(StoreConformance, MigratedDatabaseCanShare) {
  this->store.reset();
  this->backend.write_legacy_database("old", "sub-old");
  this->store = this->backend.open();
  auto& s = *this->store;
  ASSERT_EQ(s.create_user("friend", "{}", as_bytes("{}"), "iss", "sub-friend"), PutResult::Created);
  ASSERT_EQ(s.create_repo("old", "app", "{}", as_bytes("{\"public\":false}"), false), PutResult::Created);
  EXPECT_EQ(s.put_grant("old", "app", Grantee::User, "friend", Access::Read), PutResult::Created);
  EXPECT_EQ(s.create_group("old", "team"), PutResult::Created);
  auto legacy = s.user_for("any-issuer", "sub-old");
  ASSERT_EQ(legacy.size(), 1u);
  EXPECT_EQ(legacy[0].name, "old");
  EXPECT_EQ(legacy[0].issuer, std::nullopt);
  this->store.reset();
  this->store = this->backend.open();  // opening again is harmless
  EXPECT_EQ(this->store->access_of("old", "app", "friend"), Access::Read);
}

// ---- web UI (docs/drawbridge.md "Web UI") ----
// The UI's index: users with a public repository, bytewise order, one bounded page at a time.
TYPED_TEST(StoreConformance, ListsUsersWithPublicRepositoriesByPage) {
  auto& s = *this->store;
  EXPECT_TRUE(s.list_public_users("", 10).empty());
  this->make_repo("carol", "app", true);
  this->make_repo("carol", "tools", true);  // two public repositories: carol once
  this->make_repo("alice", "secret", false);  // private only: not listed
  this->make_repo("Bob", "lib", true);        // upper case sorts first (bytewise)
  this->make_repo("dave", "x", true);
  EXPECT_EQ(s.list_public_users("", 10), (std::vector<std::string>{"Bob", "carol", "dave"}));
  EXPECT_EQ(s.list_public_users("", 2), (std::vector<std::string>{"Bob", "carol"}));
  EXPECT_EQ(s.list_public_users("carol", 2), std::vector<std::string>{"dave"});
  EXPECT_TRUE(s.list_public_users("dave", 2).empty());
}

// ---- yank, delete, registry audit log, quotas (docs/drawbridge.md "Yank and delete",
// "Registry audit log", "Quotas") ----

namespace {

// A statement run on the store's database behind its back (as an operator with psql or
// sqlite3 could): whether the database accepted it.
template <typename B>
bool raw_statement_succeeds(B& backend, const std::string& sql) {
  if constexpr (B::kPg) {
    try {
      pqxx::connection c(backend.conninfo);
      pqxx::work w(c);
      w.exec(sql);
      w.commit();
      return true;
    } catch (const std::exception&) {
      return false;
    }
  } else {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((backend.dir.path() / "data" / "meta.sqlite3").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    return rc == SQLITE_OK;
  }
}

template <typename B>
std::string audit_table() {
  return B::kPg ? "drawbridge_registry_audit" : "registry_audit";
}

AuditEvent event(const std::string& action, const std::string& user, const std::string& repo = "",
                 const std::string& tag = "") {
  return AuditEvent{"2026-01-02T03:04:05Z", action, user, repo, tag, "iss", "sub-" + user, ""};
}

// A complete single-file tag (its root is the file) of `length` declared bytes.
std::int64_t publish_file(Store& s, const std::string& user, const std::string& repo, const std::string& tag,
                          const std::string& content) {
  const auto entry = "{\"length\":" + std::to_string(content.size()) + "}";
  EXPECT_EQ(s.put_tag(user, repo, tag, "{}", as_bytes("t"), entry), PutResult::Created);
  const auto id = s.get_tag(user, repo, tag)->id;
  EXPECT_TRUE(s.put_node(id, "", blob_key_of(as_bytes(content)), as_bytes(content), {}).tag_completed);
  return id;
}

std::vector<std::string> actions_of(const std::vector<AuditRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.event.action);
  return out;
}

}  // namespace

// A yanked tag leaves the listing but is still served by name (deployments pinned to it keep
// working); un-yanking brings it back. Only complete tags can be yanked; only a change is logged.
TYPED_TEST(StoreConformance, YankHidesFromTheListOnly) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  const auto id = publish_file(s, "alice", "app", "1.0.0", "one");
  publish_file(s, "alice", "app", "2.0.0", "two");
  ASSERT_EQ(s.put_tag("alice", "app", "3.0.0", "{}", as_bytes("t"), "{\"length\":1}"), PutResult::Created);

  EXPECT_EQ(s.set_yanked("alice", "app", "1.0.0", true, event("yank", "alice", "app", "1.0.0")), YankResult::Changed);
  EXPECT_EQ(s.set_yanked("alice", "app", "1.0.0", true, event("yank", "alice", "app", "1.0.0")), YankResult::Unchanged);
  EXPECT_EQ(s.list_tags("alice", "app"), std::vector<std::string>{"2.0.0"});
  auto tag = s.get_tag("alice", "app", "1.0.0");
  ASSERT_TRUE(tag);
  EXPECT_TRUE(tag->complete);
  EXPECT_TRUE(tag->yanked);
  EXPECT_EQ(tag->id, id);
  auto root = s.get_node(id, "");
  ASSERT_TRUE(root && root->present);
  EXPECT_EQ(as_string(s.read_blob(root->blob_key)), "one");
  auto summaries = s.list_tag_summaries("alice", "app");
  ASSERT_EQ(summaries.size(), 2u);  // complete tags only, yanked included
  EXPECT_EQ(summaries[0].name, "1.0.0");
  EXPECT_TRUE(summaries[0].yanked);
  EXPECT_EQ(summaries[1].name, "2.0.0");
  EXPECT_FALSE(summaries[1].yanked);

  EXPECT_EQ(s.set_yanked("alice", "app", "3.0.0", true, event("yank", "alice")), YankResult::NotFound);  // pending
  EXPECT_EQ(s.set_yanked("alice", "app", "9.9.9", true, event("yank", "alice")), YankResult::NotFound);
  EXPECT_EQ(s.set_yanked("alice", "app", "1.0.0", false, event("unyank", "alice", "app", "1.0.0")), YankResult::Changed);
  auto tags = s.list_tags("alice", "app");
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"1.0.0", "2.0.0"}));
  EXPECT_FALSE(s.get_tag("alice", "app", "1.0.0")->yanked);
  EXPECT_EQ(actions_of(s.read_audit(std::nullopt, 0, 100)), (std::vector<std::string>{"yank", "unyank"}));
}

// Deleting a tag removes its rows (the tag, its nodes) and leaves the blobs to garbage
// collection; a deleted complete tag's name is never published again (keeps may have pinned its
// digests), a deleted pending tag's may be.
TYPED_TEST(StoreConformance, DeleteTagRemovesRowsKeepsBlobsAndTombstonesTheName) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  const auto id = publish_file(s, "alice", "app", "1.0.0", "one");
  const auto blob = s.get_node(id, "")->blob_key;
  ASSERT_EQ(s.put_tag("alice", "app", "2.0.0", "{}", as_bytes("t"), "{\"length\":3}"), PutResult::Created);

  EXPECT_TRUE(s.delete_tag("alice", "app", "1.0.0", event("delete_tag", "alice", "app", "1.0.0")));
  EXPECT_FALSE(s.get_tag("alice", "app", "1.0.0"));
  EXPECT_FALSE(s.get_node(id, ""));
  EXPECT_TRUE(s.list_tags("alice", "app").empty());
  EXPECT_EQ(as_string(s.read_blob(blob)), "one");
  EXPECT_TRUE(s.tag_tombstoned("alice", "app", "1.0.0"));
  EXPECT_EQ(thrown_code([&] { s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("t"), "{\"length\":3}"); }),
            "drawbridge.tag.deleted");
  EXPECT_FALSE(s.get_tag("alice", "app", "1.0.0"));
  EXPECT_FALSE(s.delete_tag("alice", "app", "1.0.0", event("delete_tag", "alice")));

  EXPECT_TRUE(s.delete_tag("alice", "app", "2.0.0", event("delete_tag", "alice", "app", "2.0.0")));
  EXPECT_FALSE(s.tag_tombstoned("alice", "app", "2.0.0"));
  EXPECT_EQ(s.put_tag("alice", "app", "2.0.0", "{}", as_bytes("t"), "{\"length\":3}"), PutResult::Created);
  EXPECT_EQ(actions_of(s.read_audit("alice", 0, 100)), (std::vector<std::string>{"delete_tag", "delete_tag"}));
  // The database refuses the name too, whatever code path inserts it.
  const auto insert = TypeParam::kPg
      ? std::string("INSERT INTO drawbridge_tags(usr, repo, name, meta, content, complete, missing) "
                    "VALUES('alice', 'app', '1.0.0', '{}', '\\x00', false, 1)")
      : std::string("INSERT INTO tags(user, repo, name, meta, content, complete, missing) "
                    "VALUES('alice', 'app', '1.0.0', '{}', x'00', 0, 1)");
  EXPECT_FALSE(raw_statement_succeeds(this->backend, insert));
}

// Deleting a repository removes its config, tags, nodes and grants; the repository name may be
// registered again, its deleted tags' names stay refused.
TYPED_TEST(StoreConformance, DeleteRepositoryRemovesEverythingButBlobs) {
  this->make_repo("alice", "app");
  this->make_repo("bob", "other");
  auto& s = *this->store;
  const auto id = publish_file(s, "alice", "app", "1.0.0", "one");
  const auto blob = s.get_node(id, "")->blob_key;
  ASSERT_EQ(s.put_tag("alice", "app", "2.0.0", "{}", as_bytes("t"), "{\"length\":3}"), PutResult::Created);
  ASSERT_EQ(s.put_grant("alice", "app", Grantee::User, "bob", Access::Write), PutResult::Created);
  publish_file(s, "bob", "other", "1.0.0", "one");  // the same blob, elsewhere

  EXPECT_TRUE(s.delete_repo("alice", "app", event("delete_repo", "alice", "app")));
  EXPECT_FALSE(s.get_repo("alice", "app"));
  EXPECT_TRUE(s.list_repos("alice").empty());
  EXPECT_FALSE(s.get_tag("alice", "app", "1.0.0"));
  EXPECT_FALSE(s.get_tag("alice", "app", "2.0.0"));
  EXPECT_FALSE(s.get_node(id, ""));
  EXPECT_TRUE(s.list_grants("alice", "app").empty());
  EXPECT_FALSE(s.access_of("alice", "app", "bob"));
  EXPECT_EQ(as_string(s.read_blob(blob)), "one");
  EXPECT_EQ(s.list_tags("bob", "other"), std::vector<std::string>{"1.0.0"});
  EXPECT_FALSE(s.delete_repo("alice", "app", event("delete_repo", "alice", "app")));

  ASSERT_EQ(s.create_repo("alice", "app", "{}", as_bytes(repo_to_json({false})), false), PutResult::Created);
  EXPECT_TRUE(s.list_tags("alice", "app").empty());
  EXPECT_TRUE(s.list_grants("alice", "app").empty());
  EXPECT_EQ(thrown_code([&] { s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("t"), "{}"); }), "drawbridge.tag.deleted");
  EXPECT_EQ(s.put_tag("alice", "app", "2.0.0", "{}", as_bytes("t"), "{}"), PutResult::Created);  // was pending
  EXPECT_EQ(actions_of(s.read_audit("alice", 0, 100)), std::vector<std::string>{"delete_repo"});
}

// The audit log: seq strictly increasing, read per user and in pages; no UPDATE, DELETE (or, on
// PostgreSQL, TRUNCATE) of it succeeds, not even run on the database directly.
TYPED_TEST(StoreConformance, AuditLogIsAppendOnly) {
  this->make_repo("alice", "app");
  auto& s = *this->store;
  for (int i = 0; i < 5; ++i) s.append_audit(event("publish", i % 2 ? "bob" : "alice", "app", std::to_string(i) + ".0.0"));
  auto all = s.read_audit(std::nullopt, 0, 100);
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].seq, all[i - 1].seq);
  EXPECT_EQ(all[0].event.at, "2026-01-02T03:04:05Z");
  EXPECT_EQ(all[0].event.actor_issuer, "iss");
  EXPECT_EQ(all[0].event.actor_subject, "sub-alice");
  EXPECT_EQ(all[0].event.tag, "0.0.0");
  auto alice = s.read_audit("alice", 0, 100);
  ASSERT_EQ(alice.size(), 3u);
  auto page = s.read_audit("alice", 0, 2);
  ASSERT_EQ(page.size(), 2u);
  auto rest = s.read_audit("alice", page.back().seq, 2);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].seq, alice[2].seq);
  EXPECT_TRUE(s.read_audit("alice", alice[2].seq, 2).empty());

  const auto table = audit_table<TypeParam>();
  EXPECT_TRUE(raw_statement_succeeds(this->backend, "SELECT count(*) FROM " + table));
  EXPECT_FALSE(raw_statement_succeeds(this->backend, "UPDATE " + table + " SET action = 'forged'"));
  EXPECT_FALSE(raw_statement_succeeds(this->backend, "DELETE FROM " + table));
  EXPECT_FALSE(raw_statement_succeeds(this->backend, "DELETE FROM " + table + " WHERE seq = " +
                                                         std::to_string(all[0].seq)));
  if constexpr (TypeParam::kPg) {
    EXPECT_FALSE(raw_statement_succeeds(this->backend, "TRUNCATE " + table));
  }
  EXPECT_EQ(actions_of(s.read_audit(std::nullopt, 0, 100)), std::vector<std::string>(5, "publish"));
  // Reopened: still there, still guarded (the triggers are created once, not duplicated).
  this->store.reset();
  this->store = this->backend.open();
  EXPECT_EQ(this->store->read_audit(std::nullopt, 0, 100).size(), 5u);
  EXPECT_FALSE(raw_statement_succeeds(this->backend, "DELETE FROM " + table));
}

// A mutation given an audit event records it in the same transaction as the change, only when
// something changed; when the event cannot be written, the change is not made either. (Before,
// publish, repository creation and sharing appended their events after the change: a failed
// append left a published tag with no record of it.)
TYPED_TEST(StoreConformance, MutationsRecordTheirAuditEventInTheSameTransaction) {
  this->make_repo("alice", "app");
  this->make_repo("bob", "other");
  auto& s = *this->store;
  const auto publish = event("publish", "alice", "app", "1.0.0");
  ASSERT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("t"), "{\"length\":3}"), PutResult::Created);
  const auto id = s.get_tag("alice", "app", "1.0.0")->id;
  ASSERT_EQ(s.put_node(id, "", blob_key_of(as_bytes("one")), as_bytes("one"), {{"x", "{\"length\":1}"}}, &publish)
                .result, NodePutResult::Created);
  EXPECT_TRUE(s.read_audit(std::nullopt, 0, 100).empty()) << "the tag is not complete yet";
  EXPECT_TRUE(s.put_node(id, "x", blob_key_of(as_bytes("x")), as_bytes("x"), {}, &publish).tag_completed);
  const auto repo = event("repo_create", "alice", "lib");
  ASSERT_EQ(s.create_repo("alice", "lib", "{}", as_bytes("{}"), true, &repo), PutResult::Created);
  ASSERT_EQ(s.create_repo("alice", "lib", "{}", as_bytes("{}"), true, &repo), PutResult::Exists);
  const auto group = event("group_created", "alice");
  ASSERT_EQ(s.create_group("alice", "team", &group), PutResult::Created);
  ASSERT_EQ(s.create_group("alice", "team", &group), PutResult::Exists);
  const auto member = event("member_added", "alice");
  ASSERT_EQ(s.add_member("alice", "team", "bob", &member), PutResult::Created);
  ASSERT_EQ(s.add_member("alice", "team", "bob", &member), PutResult::Exists);
  const auto grant = event("grant", "alice", "app");
  ASSERT_EQ(s.put_grant("alice", "app", Grantee::Group, "team", Access::Read, &grant), PutResult::Created);
  ASSERT_EQ(s.put_grant("alice", "app", Grantee::Group, "team", Access::Write, &grant), PutResult::Exists);
  const auto revoke = event("revoke", "alice", "app");
  ASSERT_TRUE(s.delete_grant("alice", "app", Grantee::Group, "team", &revoke));
  ASSERT_FALSE(s.delete_grant("alice", "app", Grantee::Group, "team", &revoke));
  const auto removed = event("member_removed", "alice");
  ASSERT_TRUE(s.remove_member("alice", "team", "bob", &removed));
  ASSERT_FALSE(s.remove_member("alice", "team", "bob", &removed));
  const auto dropped = event("group_deleted", "alice");
  ASSERT_TRUE(s.delete_group("alice", "team", &dropped));
  ASSERT_FALSE(s.delete_group("alice", "team", &dropped));
  EXPECT_EQ(actions_of(s.read_audit(std::nullopt, 0, 100)),
            (std::vector<std::string>{"publish", "repo_create", "group_created", "member_added", "grant", "grant",
                                      "revoke", "member_removed", "group_deleted"}));

  // The audit table refuses every insert from now on: each change fails with its event.
  const auto table = audit_table<TypeParam>();
  const std::string refuse =
      TypeParam::kPg
          ? "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'refused'; END $$; CREATE TRIGGER test_refuse_audit BEFORE INSERT ON " + table +
                " FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()"
          : "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON " + table + " BEGIN SELECT RAISE(ABORT, 'refused'); END";
  ASSERT_TRUE(raw_statement_succeeds(this->backend, refuse));
  ASSERT_EQ(s.put_tag("alice", "app", "2.0.0", "{}", as_bytes("t"), "{\"length\":3}"), PutResult::Created);
  const auto id2 = s.get_tag("alice", "app", "2.0.0")->id;
  const auto publish2 = event("publish", "alice", "app", "2.0.0");
  EXPECT_ANY_THROW(s.put_node(id2, "", blob_key_of(as_bytes("two")), as_bytes("two"), {}, &publish2));
  EXPECT_FALSE(s.get_tag("alice", "app", "2.0.0")->complete) << "a tag completed without its publish event";
  EXPECT_FALSE(s.get_node(id2, "")->present);
  const auto repo2 = event("repo_create", "alice", "tools");
  EXPECT_ANY_THROW(s.create_repo("alice", "tools", "{}", as_bytes("{}"), true, &repo2));
  EXPECT_FALSE(s.get_repo("alice", "tools"));
  EXPECT_ANY_THROW(s.create_group("alice", "crew", &group));
  EXPECT_FALSE(s.group_members("alice", "crew"));
  EXPECT_ANY_THROW(s.put_grant("alice", "app", Grantee::User, "bob", Access::Read, &grant));
  EXPECT_TRUE(s.list_grants("alice", "app").empty());
  // Without an event (no token) the change is made and nothing is recorded.
  EXPECT_TRUE(s.put_node(id2, "", blob_key_of(as_bytes("two")), as_bytes("two"), {}).tag_completed);
  EXPECT_EQ(s.read_audit(std::nullopt, 0, 100).size(), 9u);
}

// Quota usage: the owner's complete and pending tags, and the declared lengths of their stored
// nodes over all their repositories (not deduplicated); deleting gives it back.
TYPED_TEST(StoreConformance, QuotaUsageCountsTagsAndStoredNodes) {
  this->make_repo("alice", "app");
  this->make_repo("alice", "lib");
  this->make_repo("bob", "app");
  auto& s = *this->store;
  EXPECT_EQ(s.usage("alice").bytes, 0u);
  EXPECT_EQ(s.usage("alice").tags, 0u);
  ASSERT_EQ(s.put_tag("alice", "app", "1.0.0", "{}", as_bytes("t"), "{\"length\":10}"), PutResult::Created);
  EXPECT_EQ(s.usage("alice").tags, 1u);
  EXPECT_EQ(s.usage("alice").bytes, 0u);  // nothing stored yet
  const auto id = s.get_tag("alice", "app", "1.0.0")->id;
  s.put_node(id, "", blob_key_of(as_bytes("0123456789")), as_bytes("0123456789"),
             {{"a", "{\"length\":5}"}, {"b", "{\"length\":7}"}});
  EXPECT_EQ(s.usage("alice").bytes, 10u);
  s.put_node(id, "a", blob_key_of(as_bytes("aaaaa")), as_bytes("aaaaa"), {});
  EXPECT_EQ(s.usage("alice").bytes, 15u);
  publish_file(s, "alice", "lib", "1.0.0", "aaaaa");  // the same content again: charged again
  publish_file(s, "bob", "app", "1.0.0", "bbbbbbbbbbbbbbbbbbbb");
  EXPECT_EQ(s.usage("alice").bytes, 20u);
  EXPECT_EQ(s.usage("alice").tags, 2u);
  EXPECT_EQ(s.usage("bob").bytes, 20u);
  EXPECT_EQ(s.usage("bob").tags, 1u);
  s.set_yanked("alice", "lib", "1.0.0", true, event("yank", "alice"));  // yanked tags still count
  EXPECT_EQ(s.usage("alice").tags, 2u);
  EXPECT_TRUE(s.delete_tag("alice", "app", "1.0.0", event("delete_tag", "alice")));
  EXPECT_EQ(s.usage("alice").bytes, 5u);
  EXPECT_EQ(s.usage("alice").tags, 1u);
  EXPECT_TRUE(s.delete_repo("alice", "lib", event("delete_repo", "alice")));
  EXPECT_EQ(s.usage("alice").bytes, 0u);
  EXPECT_EQ(s.usage("alice").tags, 0u);
  EXPECT_EQ(s.usage("nobody").tags, 0u);
}

// Quotas are the store's to hold, inside the mutation's transaction: uploads racing each other
// (threads here, workers or replicas in a registry) never take the owner past a limit
// together, whatever each of them read before. Six new tags under a limit of three; then the
// three created tags' 10-byte roots under a byte limit of 20, each held by the hook until all
// three have stored their blob and are about to commit.
TYPED_TEST(StoreConformance, QuotasHoldForUploadsRacingEachOther) {
  this->make_repo("alice", "app");
  this->make_repo("alice", "lib");
  auto& s = *this->store;
  constexpr int kTags = 6;
  const QuotaLimits tag_limit{0, 3};
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> created;  // (repo, tag)
  std::atomic<int> tags_refused{0};
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kTags; ++i)
      threads.emplace_back([&, i] {
        const std::string repo = i % 2 ? "app" : "lib", tag = "1.0." + std::to_string(i);
        try {
          if (s.put_tag("alice", repo, tag, "{}", as_bytes("t"), "{\"length\":10}", tag_limit) == PutResult::Created) {
            std::lock_guard lock(mu);
            created.emplace_back(repo, tag);
          }
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), "drawbridge.quota.tags") << e.what();
          ++tags_refused;
        }
      });
    for (auto& t : threads) t.join();
  }
  ASSERT_EQ(created.size(), 3u);
  EXPECT_EQ(tags_refused, 3);
  EXPECT_EQ(s.usage("alice").tags, 3u);
  const auto tag_of = [&](const std::pair<std::string, std::string>& name) {
    return *s.get_tag("alice", name.first, name.second);
  };
  // At the limit, re-sending a pending tag is not a new tag; a tag past it is refused.
  EXPECT_EQ(s.put_tag("alice", created[0].first, created[0].second, "{}", as_bytes("t"), "{\"length\":10}", tag_limit),
            PutResult::Resumed);
  EXPECT_THROW(s.put_tag("alice", "app", "9.9.9", "{}", as_bytes("t"), "{\"length\":10}", tag_limit), Error);

  const QuotaLimits byte_limit{20, 0};
  enarx::test::Rendezvous all_checked(3, std::chrono::seconds(10));
  s.set_test_hooks({.before_node_reference = [&](std::string_view) { all_checked.arrive_and_wait(); }});
  std::atomic<int> stored{0}, bytes_refused{0};
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i)
      threads.emplace_back([&, i] {
        const std::string content = "root-" + std::to_string(i) + "-abc";  // 10 bytes, a blob each
        try {
          if (s.put_node(tag_of(created[i]).id, "", blob_key_of(as_bytes(content)), as_bytes(content), {}, nullptr,
                         byte_limit)
                  .result == NodePutResult::Created)
            ++stored;
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), "drawbridge.quota.bytes") << e.what();
          ++bytes_refused;
        }
      });
    for (auto& t : threads) t.join();
  }
  s.set_test_hooks({});
  EXPECT_TRUE(all_checked.all_met()) << "the uploads did not race: all three should reach the hook together";
  EXPECT_EQ(stored, 2);
  EXPECT_EQ(bytes_refused, 1);
  EXPECT_EQ(s.usage("alice").bytes, 20u);
  int complete = 0;
  for (const auto& name : created) complete += tag_of(name).complete;
  EXPECT_EQ(complete, 2) << "the refused root left its tag pending";
}

// The change feed (Store::watch_changes): another instance's yank and delete reach a listener;
// a listener whose subscription is gone hears nothing more; and when the feed's connection is
// cut, it reconnects and reports a change, since it cannot know what it missed.
TYPED_TEST(StoreConformance, ChangesOfAnotherInstanceReachItsListeners) {
  if constexpr (!TypeParam::kPg) {
    EXPECT_EQ(this->store->watch_changes([] {}), nullptr) << "the embedded store has no other writer to report";
  } else {
    this->make_repo("alice", "app");
    auto& a = *this->store;
    publish_file(a, "alice", "app", "1.0.0", "content");
    auto b = this->backend.open();
    std::atomic<int> heard{0};
    auto subscription = b->watch_changes([&] { ++heard; });
    ASSERT_NE(subscription, nullptr);
    const auto heard_more_than = [&](int n) {
      for (int i = 0; i < 250 && heard.load() <= n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return heard.load() > n;
    };
    ASSERT_TRUE(heard_more_than(0)) << "no call once listening (what it may have missed before)";
    int seen = heard;
    ASSERT_EQ(a.set_yanked("alice", "app", "1.0.0", true, event("yank", "alice")), YankResult::Changed);
    EXPECT_TRUE(heard_more_than(seen)) << "a yank on another instance was not reported";
    seen = heard;
    // The feed's connection cut (a server restart, a network failure): it comes back and reports.
    pqxx::connection admin(this->backend.conninfo);
    pqxx::work w(admin);
    const auto cut = w.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND query LIKE 'LISTEN%'");
    w.commit();
    ASSERT_EQ(cut.size(), 1u) << "the feed's LISTEN connection was not found";
    EXPECT_TRUE(heard_more_than(seen)) << "no report after the feed reconnected";
    seen = heard;
    EXPECT_TRUE(a.delete_tag("alice", "app", "1.0.0", event("delete_tag", "alice")));
    EXPECT_TRUE(heard_more_than(seen)) << "a delete after the reconnect was not reported";
    subscription.reset();
    seen = heard;
    this->make_repo("alice", "lib");
    publish_file(a, "alice", "lib", "1.0.0", "other");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(heard.load(), seen) << "a listener was called after its subscription was gone";
  }
}

// ---- garbage collection ----
namespace {

// Makes a pending tag look untouched for `seconds` (the stores record when it was created,
// resumed or last given a node), by writing its row directly.
template <typename B>
void backdate_tag(B& backend, std::int64_t tag_id, std::int64_t seconds) {
  if constexpr (B::kPg) {
    pqxx::connection c(backend.conninfo);
    pqxx::work w(c);
    w.exec_params("UPDATE drawbridge_tags SET touched = touched - make_interval(secs => $1) WHERE id = $2",
                  static_cast<double>(seconds), tag_id);
    w.commit();
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((backend.dir.path() / "data" / "meta.sqlite3").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    auto sql = "UPDATE tags SET touched = touched - " + std::to_string(seconds) + " WHERE id = " + std::to_string(tag_id);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
}

// GC options for tests: blobs just written are old enough.
GcOptions gc_now() {
  GcOptions o;
  o.min_blob_age = std::chrono::seconds(0);
  return o;
}

bool blob_present(Store& s, const std::string& content) {
  try {
    return as_string(s.read_blob(blob_key_of(as_bytes(content)))) == content;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "drawbridge.store.blob_missing");
    return false;
  }
}

std::int64_t pending(Store& s, const std::string& user, const std::string& repo, const std::string& tag,
                     const std::string& root) {
  s.put_tag(user, repo, tag, "{}", as_bytes("t"), root);
  return s.get_tag(user, repo, tag)->id;
}

NodePutOutcome node(Store& s, std::int64_t id, const std::string& path, const std::string& content,
                    const std::vector<ChildExpectation>& kids = {}) {
  return s.put_node(id, path, blob_key_of(as_bytes(content)), as_bytes(content), kids);
}

// A blob nothing references any more: uploaded as the root of a pending tag that then restarted.
template <typename S>
void make_garbage(S& s, const std::string& user, const std::string& repo, const std::string& tag,
                  const std::string& content) {
  auto id = pending(s, user, repo, tag, "{\"garbage\":1}");
  // A directory (a child still expected), so that the tag stays pending and can restart.
  ASSERT_EQ(node(s, id, "", content, {{"x", "{}"}}).result, NodePutResult::Created);
  ASSERT_EQ(pending(s, user, repo, tag, "{\"garbage\":2}") == id, false);
}

std::string random_content(std::size_t n, unsigned seed) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + seed * 7919 + (i >> 7)) & 0xff);
  return out;
}

}  // namespace

// What is freed: blobs only restarted or expired pending tags referenced, and the expired
// pending tags themselves; kept: everything a complete or an unexpired pending tag references,
// shared blobs while one tag does. A dry run reports the same and changes nothing.
TYPED_TEST(StoreConformance, GcFreesExactlyTheUnreferencedBlobs) {
  this->make_repo("alice", "one");
  this->make_repo("bob", "two");
  auto& s = *this->store;
  // Complete: alice/one 1.0.0 {a: "A", b: "shared-complete"}, bob/two 1.0.0 = "shared-complete".
  auto c1 = pending(s, "alice", "one", "1.0.0", "{\"c\":1}");
  node(s, c1, "", "complete-dir", {{"a", "{}"}, {"b", "{}"}});
  node(s, c1, "a", "A");
  ASSERT_TRUE(node(s, c1, "b", "shared-complete").tag_completed);
  auto c2 = pending(s, "bob", "two", "1.0.0", "{\"c\":2}");
  ASSERT_TRUE(node(s, c2, "", "shared-complete").tag_completed);
  // Restarted: its first root is garbage.
  make_garbage(s, "alice", "one", "3.0.0", "restart-old-dir");
  // Pending, unexpired: kept.
  auto live = pending(s, "alice", "one", "4.0.0", "{\"p\":4}");
  node(s, live, "", "pending-live-dir", {{"x", "{}"}});
  // Pending, to expire: its root is garbage then; its child "P" is shared with bob's pending tag.
  auto old = pending(s, "alice", "one", "5.0.0", "{\"p\":5}");
  node(s, old, "", "expired-dir", {{"p", "{}"}, {"q", "{}"}});
  node(s, old, "p", "P");
  auto bobs = pending(s, "bob", "two", "2.0.0", "{\"p\":6}");
  node(s, bobs, "", "bob-dir", {{"p", "{}"}, {"q", "{}"}});
  node(s, bobs, "p", "P");
  backdate_tag(this->backend, old, 8 * 24 * 3600);

  const std::set<std::string> garbage = {blob_key_of(as_bytes("restart-old-dir")), blob_key_of(as_bytes("expired-dir"))};
  const std::uint64_t garbage_bytes = std::string("restart-old-dir").size() + std::string("expired-dir").size();
  const std::vector<std::string> kept = {"complete-dir", "A", "shared-complete", "pending-live-dir", "P", "bob-dir"};
  for (bool dry : {true, false}) {
    SCOPED_TRACE(dry ? "dry run" : "real run");
    std::set<std::string> keys;
    std::vector<std::string> expired;
    std::uint64_t callback_bytes = 0;
    GcOptions o = gc_now();
    o.dry_run = dry;
    o.batch_size = 2;  // several batches, on both phases
    o.on_blob = [&](const GcBlob& b) {
      keys.insert(b.key);
      callback_bytes += b.bytes;
    };
    o.on_expired_tag = [&](const GcExpiredTag& t) { expired.push_back(t.user + "/" + t.repo + ":" + t.tag); };
    auto report = s.collect_garbage(o);
    EXPECT_EQ(report.dry_run, dry);
    EXPECT_EQ(report.expired_tags, 1u);
    EXPECT_EQ(report.blobs, 2u);
    EXPECT_EQ(report.bytes, garbage_bytes);
    EXPECT_EQ(callback_bytes, garbage_bytes);
    EXPECT_EQ(keys, garbage);
    EXPECT_EQ(expired, std::vector<std::string>{"alice/one:5.0.0"});
    for (const auto& k : kept) EXPECT_TRUE(blob_present(s, k)) << k;
    EXPECT_EQ(blob_present(s, "restart-old-dir"), dry);
    EXPECT_EQ(blob_present(s, "expired-dir"), dry);
    EXPECT_EQ(s.get_tag("alice", "one", "5.0.0").has_value(), dry);
  }
  EXPECT_FALSE(s.get_node(old, "p"));
  EXPECT_TRUE(s.get_tag("alice", "one", "4.0.0"));
  EXPECT_TRUE(s.get_node(live, "")->present);
  EXPECT_EQ(s.list_tags("alice", "one"), std::vector<std::string>{"1.0.0"});
  EXPECT_EQ(as_string(s.read_blob(s.get_node(c2, "")->blob_key)), "shared-complete");
  // Nothing left to free.
  auto again = s.collect_garbage(gc_now());
  EXPECT_EQ(again.blobs, 0u);
  EXPECT_EQ(again.expired_tags, 0u);
  // The shared "P" goes with the last pending tag referencing it; a zero TTL expires every
  // pending tag, never a complete one.
  GcOptions now = gc_now();
  now.pending_ttl = std::chrono::seconds(0);
  backdate_tag(this->backend, bobs, 1);
  backdate_tag(this->backend, live, 1);
  backdate_tag(this->backend, s.get_tag("alice", "one", "3.0.0")->id, 1);  // the restarted one, no nodes
  auto last = s.collect_garbage(now);
  EXPECT_EQ(last.expired_tags, 3u);
  EXPECT_EQ(last.blobs, 3u);  // bob-dir, P, pending-live-dir
  EXPECT_EQ(last.bytes, std::string("bob-dir").size() + 1 + std::string("pending-live-dir").size());
  EXPECT_FALSE(blob_present(s, "P"));
  for (const auto& k : {"complete-dir", "A", "shared-complete"}) EXPECT_TRUE(blob_present(s, k)) << k;
  EXPECT_EQ(s.list_tags("bob", "two"), std::vector<std::string>{"1.0.0"});
  // Survives a reopen: the stored tags are as they were.
  this->store.reset();
  this->store = this->backend.open();
  EXPECT_EQ(this->store->collect_garbage(gc_now()).blobs, 0u);
  EXPECT_TRUE(blob_present(*this->store, "shared-complete"));
}

// The race, forced: between GC finding a blob unreferenced and sweeping it, a publish
// deduplicates against it and completes. The blob must survive, byte-identical.
TYPED_TEST(StoreConformance, GcKeepsABlobPublishedBetweenMarkAndSweep) {
  this->make_repo("alice", "one");
  this->make_repo("bob", "two");
  auto& s = *this->store;
  const auto x = random_content(200000, 1);
  const auto key = blob_key_of(as_bytes(x));
  make_garbage(s, "alice", "one", "1.0.0", x);
  bool published = false;
  GcOptions o = gc_now();
  o.before_sweep = [&](const std::vector<std::string>& candidates) {
    if (published || std::find(candidates.begin(), candidates.end(), key) == candidates.end()) return;
    published = true;
    auto id = pending(s, "bob", "two", "1.0.0", "{\"x\":1}");
    auto out = node(s, id, "", x);
    EXPECT_EQ(out.result, NodePutResult::Created);
    EXPECT_TRUE(out.tag_completed);
  };
  auto report = s.collect_garbage(o);
  ASSERT_TRUE(published) << "the blob was never a candidate";
  EXPECT_EQ(report.blobs, 0u);
  EXPECT_TRUE(s.get_tag("bob", "two", "1.0.0")->complete);
  EXPECT_EQ(as_string(s.read_blob(key)), x);
  EXPECT_EQ(s.collect_garbage(gc_now()).blobs, 0u);
  EXPECT_EQ(as_string(s.read_blob(s.get_node(s.get_tag("bob", "two", "1.0.0")->id, "")->blob_key)), x);
}

// The other order, forced: an upload finds the blob already stored (deduplicated), then a
// whole GC runs and deletes it (nothing referenced it yet), then the upload records its node.
// The store must notice and store the blob again — for in-memory and spooled bodies.
TYPED_TEST(StoreConformance, GcDuringADeduplicatedUploadNeverLosesTheBlob) {
  this->make_repo("alice", "one");
  this->make_repo("bob", "two");
  auto& s = *this->store;
  for (bool spooled : {false, true}) {
    SCOPED_TRACE(spooled ? "spooled" : "in memory");
    const auto x = random_content(150000, spooled ? 3 : 2);
    const auto key = blob_key_of(as_bytes(x));
    const std::string tag = spooled ? "2.0.0" : "1.0.0";
    make_garbage(s, "alice", "one", tag, x);
    ASSERT_TRUE(blob_present(s, x));
    int hooked = 0;
    GcReport inside;
    s.set_test_hooks({.before_node_reference = [&](std::string_view k) {
      if (k != key || hooked++ > 0) return;
      inside = s.collect_garbage(gc_now());
    }});
    auto id = pending(s, "bob", "two", tag, "{\"x\":\"" + tag + "\"}");
    NodePutOutcome out;
    if (spooled) {
      auto spool = s.spool({DigestAlgorithm::Sha256});
      spool->write(as_bytes(x));
      spool->finish();
      out = s.put_node_spooled(id, "", key, *spool, {});
    } else {
      out = node(s, id, "", x);
    }
    s.set_test_hooks({});
    ASSERT_GE(hooked, 1);
    EXPECT_EQ(inside.blobs, 1u) << "GC did not delete the blob inside the upload: the race was not forced";
    EXPECT_EQ(out.result, NodePutResult::Created);
    EXPECT_TRUE(out.tag_completed);
    EXPECT_TRUE(s.get_tag("bob", "two", tag)->complete);
    EXPECT_EQ(as_string(s.read_blob(key)), x);
    EXPECT_EQ(s.collect_garbage(gc_now()).blobs, 0u);
    EXPECT_EQ(as_string(s.read_blob(key)), x);
  }
  if constexpr (!TypeParam::kPg) {
    for (auto& e : std::filesystem::directory_iterator(this->backend.dir.path() / "data" / "tmp"))
      ADD_FAILURE() << "stray spool " << e.path();
  }
}

// Publishing and GC at the same time, unforced, on two threads: uploads deduplicating against
// blobs a GC running back to back is deleting. Whatever the interleaving, every upload
// completes (a restored blob is young, so it is not deleted again) and reads back identical.
TYPED_TEST(StoreConformance, GcConcurrentWithPublishesLosesNothing) {
  this->make_repo("alice", "one");
  auto& s = *this->store;
  constexpr int kRounds = 30;
  const auto content = [](int i) { return random_content(30000, 100 + static_cast<unsigned>(i)); };
  for (int i = 0; i < kRounds; ++i) make_garbage(s, "alice", "one", "0.0." + std::to_string(i), content(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the garbage is a second old
  std::atomic<bool> done{false};
  std::string gc_error;
  std::uint64_t freed = 0;
  std::thread gc([&] {
    try {
      GcOptions o;
      o.min_blob_age = std::chrono::seconds(1);
      while (!done) freed += s.collect_garbage(o).blobs;
    } catch (const Error& e) {
      gc_error = e.describe();
    }
  });
  try {
    for (int i = 0; i < kRounds; ++i) {
      auto id = pending(s, "alice", "one", "1.0." + std::to_string(i), "{}");
      auto out = node(s, id, "", content(i));
      EXPECT_EQ(out.result, NodePutResult::Created) << i;
      EXPECT_TRUE(out.tag_completed) << i;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  done = true;
  gc.join();
  EXPECT_EQ(gc_error, "");
  for (int i = 0; i < kRounds; ++i) {
    auto t = s.get_tag("alice", "one", "1.0." + std::to_string(i));
    ASSERT_TRUE(t && t->complete) << i;
    EXPECT_EQ(as_string(s.read_blob(s.get_node(t->id, "")->blob_key)), content(i));
  }
  std::cerr << "concurrent GC freed " << freed << " blobs while " << kRounds << " uploads deduplicated\n";
}

// A server and `drawbridge gc` opening a new data directory together: while one holds the write
// lock of the fresh database (not in WAL mode yet), the other waits for it instead of failing
// (`PRAGMA journal_mode=WAL` is busy at once, past the busy timeout: src/sqlite/wal_mode.h).
TEST(SqliteStore, OpeningWaitsForAnotherProcessCreatingTheSchema) {
  TempDir dir("drawbridge-wal");
  const auto data = dir.path() / "data";
  std::filesystem::create_directories(data);
  {
    enarx::test::SqliteWriterStandIn other((data / "meta.sqlite3").string(), std::chrono::milliseconds(300));
    auto store = open_sqlite_store(data.string());
    EXPECT_TRUE(store->list_public_users("", 10).empty());
  }
  EXPECT_TRUE(open_sqlite_store_shared(data.string())->list_public_users("", 10).empty());
}
