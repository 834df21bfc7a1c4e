// The registry API over real HTTPS (in-process server), against both stores.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <thread>
#include <set>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "drawbridge/auth.h"
#include "drawbridge/model.h"
#include "drawbridge/registry.h"
#include "net/http_client.h"
#include "../net/attack.h"
#include "support/pg_cluster.h"
#include "support/rendezvous.h"
#include "test_pki.h"
#include "tmpfs.h"

using namespace enarx;
using namespace enarx::drawbridge;
using pkitest::Issued;

namespace {

// A store on a tiny file system that fills up for real; `fs` is where its bytes go.
struct SmallStore {
  std::unique_ptr<fstest::Tmpfs> fs;
  std::function<std::shared_ptr<Store>()> open;
  std::function<void()> cleanup;  // after the store is closed
  ~SmallStore() {
    if (fs) fs->release();  // a tablespace directory must be empty to be dropped
    if (cleanup) cleanup();
  }
};

constexpr std::size_t kSmallFs = 2u << 20;

struct SqliteBackend {
  static constexpr bool kPg = false;
  TempDir dir{"drawbridge-http"};
  std::shared_ptr<Store> open() { return open_sqlite_store((dir.path() / "data").string()); }
  void exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "data" / "meta.sqlite3").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }
  // As a database from before issuers were recorded looks once migrated: no user has one.
  void forget_issuers() { exec("UPDATE users SET issuer = NULL"); }
  // Every insert into the registry audit log fails from now on.
  void refuse_audit_events() {
    exec("CREATE TRIGGER test_refuse_audit BEFORE INSERT ON registry_audit BEGIN SELECT RAISE(ABORT, 'refused'); END");
  }
  // The whole data directory (blobs, SQLite, temp files) on the small file system.
  std::unique_ptr<SmallStore> small(std::string* why) {
    auto out = std::make_unique<SmallStore>();
    out->fs = fstest::Tmpfs::mount(kSmallFs, 0, 0, why);
    if (!out->fs) return nullptr;
    auto dir = out->fs->dir().string();
    out->open = [dir] { return open_sqlite_store(dir); };
    return out;
  }
};

struct PgBackend {
  static constexpr bool kPg = true;
  std::string conninfo;
  std::shared_ptr<Store> open() {
    if (conninfo.empty()) conninfo = pgtest::shared_cluster().new_database();
    return open_postgres_store(conninfo, 4);
  }
  void exec(const std::string& sql) {
    pqxx::connection c(conninfo);
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }
  void forget_issuers() { exec("UPDATE drawbridge_users SET issuer = NULL"); }
  void refuse_audit_events() {
    exec("CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
         "'refused'; END $$; CREATE TRIGGER test_refuse_audit BEFORE INSERT ON drawbridge_registry_audit "
         "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()");
  }
  // The store's tables in a tablespace on the small file system (the server's WAL and catalogs
  // stay where they are, so PostgreSQL itself keeps running and reports 53100 disk_full).
  std::unique_ptr<SmallStore> small(std::string* why) {
    static int counter = 0;
    auto out = std::make_unique<SmallStore>();
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    if (uid == 0) {
      auto* pw = ::getpwnam("nobody");  // the cluster's server user when we are root
      if (!pw) {
        *why = "no user nobody";
        return nullptr;
      }
      uid = pw->pw_uid;
      gid = pw->pw_gid;
    }
    out->fs = fstest::Tmpfs::mount(kSmallFs, uid, gid, why);
    if (!out->fs) return nullptr;
    auto& cluster = pgtest::shared_cluster();
    auto n = std::to_string(++counter);
    auto db = "small" + n, ts = "small_ts" + n;
    {
      pqxx::connection c(cluster.conninfo());
      pqxx::nontransaction w(c);
      w.exec("CREATE TABLESPACE " + ts + " LOCATION " + w.quote(out->fs->dir().string()));
      w.exec("CREATE DATABASE " + db);
      w.exec("ALTER DATABASE " + db + " SET default_tablespace = " + ts);
    }
    auto info = cluster.conninfo(db);
    out->open = [info] { return open_postgres_store(info, 4); };
    out->cleanup = [&cluster, db, ts] {
      try {
        pqxx::connection c(cluster.conninfo());
        pqxx::nontransaction w(c);
        w.exec("DROP DATABASE " + db + " WITH (FORCE)");
        w.exec("DROP TABLESPACE " + ts);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "dropping the small tablespace: " << e.what();
      }
    };
    return out;
  }
};

struct Result {
  int status = -1;  // -1: transport failure (e.g. TLS handshake refused)
  std::string body;
  net::Headers headers;
  std::string code() const {
    try {
      return nlohmann::json::parse(body).value("code", "");
    } catch (...) {
      return "";
    }
  }
};

template <typename B>
class RegistryHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (B::kPg) ENARX_REQUIRE_PG();
    steward = pkitest::make_ca("steward CA");
    server_ca = pkitest::make_ca("server CA");
    server = pkitest::server_cert(server_ca);
    store = backend.open();
    start();
  }

  // (Re)starts the registry over `store`, trusting `issuers` — by default both the local
  // issuer and the "OIDC" one, as a registry with `drawbridge token` beside an OIDC provider.
  void start(std::vector<IssuerConfig> issuers = {}) {
    if (http) http->stop();
    http.reset();
    registry.reset();
    serve(store, std::move(issuers), registry, http);
    base = "https://127.0.0.1:" + std::to_string(http->port()) + "/api/v0.1.0";
  }
  // A registry on `on` (this fixture's options and TLS), listening on an ephemeral port: the
  // fixture's own, or another replica's on a store of the same database.
  void serve(std::shared_ptr<Store> on, std::vector<IssuerConfig> issuers, std::unique_ptr<Registry>& out_registry,
             std::unique_ptr<net::HttpServer>& out_http) {
    if (issuers.empty()) issuers = {issuer.issuer_config(), idp.issuer_config()};
    auto tokens = std::make_shared<TokenVerifier>(system_clock());
    for (auto& i : issuers) tokens->add_issuer(std::move(i));
    RegistryOptions ro;
    ro.client_ca = {steward.cert};
    ro.lookup_rate = 0;
    ro.max_blob_size = 8 << 20;
    ro.default_steward = default_steward;
    ro.max_bytes_per_user = max_bytes_per_user;
    ro.max_tags_per_user = max_tags_per_user;
    if (tune) tune(ro);
    out_registry = std::make_unique<Registry>(on, tokens, ro);
    net::ServerConfig sc;
    sc.address = "127.0.0.1";
    sc.port = 0;
    net::TlsServerConfig tls;
    tls.cert_chain_pem = server.cert.to_pem() + server_ca.cert.to_pem();
    tls.key_pem = server.key.to_pem_pkcs8();
    tls.client_ca_pem = steward.cert.to_pem();
    tls.client_auth = net::ClientAuth::Optional;
    sc.tls = tls;
    sc.access_log = false;
    out_http = std::make_unique<net::HttpServer>(sc);
    out_registry->install(*out_http);
    out_http->start();
  }
  void TearDown() override {
    if (http) http->stop();
  }

  // A token of the local issuer (`drawbridge token`).
  std::string token(const std::string& sub, std::vector<std::string> scopes = all_manage_scopes()) {
    return issuer.mint(sub, scopes, std::chrono::hours(1), std::chrono::system_clock::now());
  }
  // A token of the other issuer (standing in for an OIDC provider).
  std::string idp_token(const std::string& sub, std::vector<std::string> scopes = all_manage_scopes()) {
    return idp.mint(sub, scopes, std::chrono::hours(1), std::chrono::system_clock::now());
  }

  Result call(net::Method method, const std::string& path, const std::string& body = {},
              net::Headers headers = {}, const Issued* cert = nullptr) {
    net::ClientOptions o;
    o.tls.ca_pem = server_ca.cert.to_pem();
    o.max_retries = 0;
    if (cert) {
      o.tls.client_cert_pem = cert->cert.to_pem();
      o.tls.client_key_pem = cert->key.to_pem_pkcs8();
    }
    net::HttpClient client(o);
    net::ClientRequest req;
    req.method = method;
    req.url = base + path;
    req.headers = std::move(headers);
    req.body = body;
    Result r;
    try {
      auto res = client.send(req);
      r.status = res.status;
      r.body = res.body;
      r.headers = res.headers;
    } catch (const Error&) {
      r.status = -1;
    }
    return r;
  }
  Result get(const std::string& path, const std::string& tok = {}, const Issued* cert = nullptr) {
    net::Headers h;
    if (!tok.empty()) h.set("Authorization", "Bearer " + tok);
    return call(net::Method::Get, path, {}, h, cert);
  }
  Result put(const std::string& path, const std::string& body, const std::string& type, const std::string& tok,
             bool with_digest = true) {
    net::Headers h;
    h.set("Content-Type", type);
    if (with_digest) h.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
    if (!tok.empty()) h.set("Authorization", "Bearer " + tok);
    return call(net::Method::Put, path, body, h);
  }

  void make_user(const std::string& user, const std::string& tok) {
    auto r = put("/" + user, user_to_json({user}), "application/json", tok);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void make_repo(const std::string& user, const std::string& repo, bool pub, const std::string& tok) {
    auto r = put("/" + user + "/" + repo, repo_to_json({pub}), "application/json", tok);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  // Drawbridge's client order: the tag first, then every node, root first.
  void upload(const std::string& prefix, const Tree& tree, const std::string& tok) {
    ASSERT_EQ(put(prefix, entry_to_json(tree.root()), std::string(kEntryType), tok).status, 201);
    for (const auto& n : tree.nodes) {
      auto r = put(prefix + "/tree/" + n.path, std::string(n.content.begin(), n.content.end()), n.meta.type, tok);
      ASSERT_EQ(r.status, 201) << n.path << " " << r.body;
    }
  }

  // A pending tag whose uploaded root directory expects one file `name` of `length` bytes (with
  // the digests of `content` when given, else of a stand-in).
  void expect_file(const std::string& prefix, const std::string& name, std::uint64_t length, const std::string& tok,
                   const Bytes& content = {}) {
    const Bytes digested = content.empty() ? to_bytes("stand-in") : content;
    const Directory dir{{name, Entry{Meta{ContentDigest::compute(digested), length, "application/wasm"}, {}}}};
    const auto dir_json = directory_to_json(dir);
    ASSERT_EQ(put(prefix, entry_to_json(Entry{Meta::of(as_bytes(dir_json), std::string(kDirectoryType)), {}}),
                  std::string(kEntryType), tok).status, 201);
    ASSERT_EQ(put(prefix + "/tree", dir_json, std::string(kDirectoryType), tok).status, 201);
  }

  // A raw TLS client that has sent a PUT header announcing `length` body bytes, and nothing else.
  std::unique_ptr<attack::RawClient> put_header(const std::string& path, std::uint64_t length, const std::string& type,
                                                const std::string& tok, const std::string& digest_header = {}) {
    auto c = std::make_unique<attack::RawClient>(http->port(), true);
    std::string h = "PUT /api/v0.1.0" + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(length) + "\r\n";
    if (!tok.empty()) h += "Authorization: Bearer " + tok + "\r\n";
    if (!digest_header.empty()) h += "Content-Digest: " + digest_header + "\r\n";
    EXPECT_TRUE(c->ok());
    EXPECT_TRUE(c->send_all(h + "\r\n"));
    return c;
  }

  static Tree sample_tree(const std::string& salt = "") {
    Bytes wasm(100000);
    for (std::size_t i = 0; i < wasm.size(); ++i) wasm[i] = static_cast<std::uint8_t>((i * 31) ^ (i >> 7));
    return build_tree_from_files({{"main.wasm", {wasm, "application/wasm"}},
                                  {"Enarx.toml", {to_bytes("args = []\n" + salt), "application/toml"}},
                                  {"assets/tEst-file..__.foo.42.", {to_bytes("x"), "text/plain"}},
                                  {"assets/deep/a:b", {to_bytes("colon"), "application/octet-stream"}}});
  }

  TempDir tmp{"drawbridge-http-test"};
  B backend;
  Issued steward, server_ca, server;
  LocalIssuer issuer = LocalIssuer::load_or_create(tmp.path() / "issuer", "test-issuer", "drawbridge");
  LocalIssuer idp = LocalIssuer::load_or_create(tmp.path() / "idp", "https://idp.example", "drawbridge");
  std::unique_ptr<SmallStore> small_store;  // outlives the store on it (destroyed after)
  std::shared_ptr<Store> store;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<net::HttpServer> http;
  std::string base;
  std::string default_steward;  // the registry's, at the next start()
  std::function<void(RegistryOptions&)> tune;  // applied to the options at the next start()
  std::uint64_t max_bytes_per_user = 0, max_tags_per_user = 0;  // quotas, at the next start()
};

using Backends = ::testing::Types<SqliteBackend, PgBackend>;
TYPED_TEST_SUITE(RegistryHttp, Backends, pgtest::BackendNames);

TYPED_TEST(RegistryHttp, RoundTripByteIdenticalWithDigests) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  const std::string tag = "/alice/app/_tag/1.0.0";

  ASSERT_EQ(this->put(tag, entry_to_json(tree.root()), std::string(kEntryType), alice).status, 201);
  // Pending: invisible until the whole tree is there.
  EXPECT_EQ(this->get(tag).status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag").body, "[]");
  for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
    const auto& n = tree.nodes[i];
    if (i + 1 == tree.nodes.size()) {
      EXPECT_EQ(this->get(tag + "/tree").status, 404);
    }
    ASSERT_EQ(this->put(tag + "/tree/" + n.path, std::string(n.content.begin(), n.content.end()), n.meta.type, alice).status, 201);
  }
  auto t = this->get(tag);
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.body, entry_to_json(tree.root()));
  EXPECT_EQ(t.headers.get("Content-Type"), std::string(kEntryType));
  for (const auto& n : tree.nodes) {
    auto r = this->get(tag + "/tree/" + n.path);
    ASSERT_EQ(r.status, 200) << n.path;
    EXPECT_EQ(r.body, std::string(n.content.begin(), n.content.end())) << n.path;
    EXPECT_EQ(r.headers.get("Content-Type"), n.meta.type);
    auto declared = ContentDigest::parse_header(*r.headers.get("Content-Digest"));
    EXPECT_EQ(declared, n.meta.digest);
    EXPECT_EQ(ContentDigest::compute(as_bytes(r.body)), declared);
  }
  auto head = this->call(net::Method::Head, tag + "/tree/main.wasm");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.get("Content-Length"), "100000");
  EXPECT_TRUE(head.body.empty());
  // Trailing slash and leading-slash variants name the same node.
  EXPECT_EQ(this->get(tag + "/tree/assets/").status, 200);

  this->upload("/alice/app/_tag/0.10.0", this->sample_tree("a"), alice);
  this->upload("/alice/app/_tag/0.9.0", this->sample_tree("b"), alice);
  this->upload("/alice/app/_tag/1.0.0-rc.1", this->sample_tree("c"), alice);
  auto list = this->get("/alice/app/_tag");
  EXPECT_EQ(list.body, "[\"0.9.0\",\"0.10.0\",\"1.0.0-rc.1\",\"1.0.0\"]");
  EXPECT_EQ(list.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(ContentDigest::parse_header(*list.headers.get("Content-Digest")), ContentDigest::compute(as_bytes(list.body)));
  // Our listing extension and the owner-only record reads.
  EXPECT_EQ(this->get("/alice/_repos").body, "[\"app\"]");
  EXPECT_EQ(this->get("/alice/app", alice).body, "{\"public\":true}");
  EXPECT_EQ(this->get("/alice", alice).body, "{\"subject\":\"alice\"}");
  EXPECT_EQ(this->get("/alice").status, 401);
}

// Each API resource is a route of its own: a method it does not take is 405 with the methods it
// does (Allow), a path that names no resource is the server's 404, and requests are counted per
// resource rather than under one catch-all label.
TYPED_TEST(RegistryHttp, EachResourceIsARouteOfItsOwn) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);

  const struct {
    net::Method method;
    std::string path;
    std::string allow;
  } refused[] = {
      {net::Method::Post, "/alice", "GET, HEAD, PUT"},
      {net::Method::Put, "/alice/app/_tag", "GET, HEAD"},
      {net::Method::Post, "/alice/app/_tag/1.0.0", "DELETE, GET, HEAD, PUT"},  // DELETE: docs "Yank and delete"
      {net::Method::Post, "/alice/app/_tag/1.0.0/tree/main.wasm", "GET, HEAD, PUT"},
  };
  for (const auto& r : refused) {
    SCOPED_TRACE(r.path);
    auto res = this->call(r.method, r.path, {}, {{"Authorization", "Bearer " + alice}});
    EXPECT_EQ(res.status, 405);
    EXPECT_EQ(res.code(), "http.method_not_allowed");
    EXPECT_EQ(res.headers.get("Allow").value_or(""), r.allow);
  }
  for (const std::string path : {"/alice/app/_tags", "/alice/app/_tag/1.0.0/files", "/alice/app/_tag/1.0.0/x/y"}) {
    auto res = this->get(path, alice);
    EXPECT_EQ(res.status, 404) << path;
    EXPECT_EQ(res.code(), "http.not_found") << path;
  }

  ASSERT_EQ(this->get("/alice/app/_tag/1.0.0").status, 200);
  ASSERT_EQ(this->get("/alice/app/_tag/1.0.0/tree/main.wasm").status, 200);
  ASSERT_EQ(this->get("/alice/app/_tag/1.0.0/tree").status, 200);
  const auto metrics = this->http->metrics().render();
  for (const std::string route : {"/api/v{version}/{user}", "/api/v{version}/{user}/{repo}",
                                  "/api/v{version}/{user}/{repo}/_tag/{tag}",
                                  "/api/v{version}/{user}/{repo}/_tag/{tag}/tree/{path*}"}) {
    EXPECT_NE(metrics.find("route=\"" + route + "\""), std::string::npos) << route;
  }
  EXPECT_EQ(metrics.find("{rest*}"), std::string::npos);
}

TYPED_TEST(RegistryHttp, ImmutableOnceCreated) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", false, alice);
  auto tree = this->sample_tree();
  this->upload("/alice/app/_tag/1.0.0", tree, alice);
  auto r = this->put("/alice/app/_tag/1.0.0", entry_to_json(this->sample_tree("x").root()), std::string(kEntryType), alice);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.code(), "drawbridge.already_exists");
  EXPECT_EQ(this->put("/alice/app/_tag/1.0.0/tree/Enarx.toml", "args = []\n", "application/toml", alice).status, 409);
  EXPECT_EQ(this->put("/alice", user_to_json({"alice"}), "application/json", alice).status, 409);
  EXPECT_EQ(this->put("/alice/app", repo_to_json({true}), "application/json", alice).status, 409);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0", alice).body, entry_to_json(tree.root()));
}

TYPED_TEST(RegistryHttp, RejectsBadUploads) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  auto entry = entry_to_json(tree.root());
  const std::string tag = "/alice/app/_tag/2.0.0";

  net::Headers h{{"Content-Type", std::string(kEntryType)}, {"Authorization", "Bearer " + alice},
                 {"Content-Digest", ContentDigest::compute(as_bytes("other")).to_header()}};
  auto r = this->call(net::Method::Put, tag, entry, h);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "drawbridge.digest_mismatch");
  r = this->put(tag, entry, std::string(kEntryType), alice, false);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "drawbridge.digest_missing");
  EXPECT_EQ(this->put(tag, entry, std::string(kEntryType), "").status, 401);
  EXPECT_EQ(this->put(tag, entry, std::string(kEntryType), "garbage.token.here").status, 401);
  EXPECT_EQ(this->put(tag, entry, std::string(kEntryType), this->token("alice", {"read:drawbridge_tags"})).code(),
            "drawbridge.auth.missing_scope");
  EXPECT_EQ(this->put(tag, entry, "text/plain", alice).status, 415);
  EXPECT_EQ(this->put("/alice/app/_tag/v2.0.0", entry, std::string(kEntryType), alice).code(), "drawbridge.name.tag");

  ASSERT_EQ(this->put(tag, entry, std::string(kEntryType), alice).status, 201);
  const auto& root = tree.nodes[0];
  std::string root_body(root.content.begin(), root.content.end());
  // A child before its parent directory.
  r = this->put(tag + "/tree/Enarx.toml", "args = []\n", "application/toml", alice);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.code(), "drawbridge.tree.not_expected");
  EXPECT_EQ(this->put(tag + "/tree", root_body, "application/octet-stream", alice).code(), "drawbridge.tree.type_mismatch");
  ASSERT_EQ(this->put(tag + "/tree", root_body, std::string(kDirectoryType), alice).status, 201);
  // Right length, wrong bytes (with a matching Content-Digest): the parent's entry disagrees.
  r = this->put(tag + "/tree/Enarx.toml", "args = []\n" "X", "application/toml", alice);
  EXPECT_EQ(r.code(), "drawbridge.length_mismatch");
  r = this->put(tag + "/tree/Enarx.toml", "argz = []\n", "application/toml", alice);
  EXPECT_EQ(r.code(), "drawbridge.tree.entry_mismatch");
  EXPECT_EQ(this->get(tag).status, 404);

  // Directories may only name well-formed entries.
  auto leaf = entry_to_json(Entry{Meta::of(as_bytes("x"), "text/plain"), {}});
  for (const std::string& bad : std::vector<std::string>{"..", "a\\u0001b", "a/b", std::string(300, 'n')}) {
    std::string dir = "{\"" + bad + "\":" + leaf + "}";
    auto bad_root = entry_to_json(Entry{Meta::of(as_bytes(dir), std::string(kDirectoryType)), {}});
    ASSERT_EQ(this->put("/alice/app/_tag/3.0.0", bad_root, std::string(kEntryType), alice).status, 201);
    r = this->put("/alice/app/_tag/3.0.0/tree", dir, std::string(kDirectoryType), alice);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.code(), "drawbridge.name.entry") << bad;
  }
  // (libcurl removes literal dot segments, so send them percent-encoded.)
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/tree/%2E%2E/x").status, 400);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/tree/a%2Fb").status, 400);
  // Version negotiation: newer minor in 0.x is refused.
  EXPECT_EQ(this->call(net::Method::Get, "/alice/app/_tag").status, 200);
  this->base.replace(this->base.find("v0.1.0"), 6, "v0.9.0");
  EXPECT_EQ(this->get("/alice/app/_tag").status, 501);
}

// Resumable publishing over HTTP: re-PUT of a pending tag with the same root answers 200 and
// keeps its nodes; only the owner's upload token sees them (HEAD) while the tag is pending.
TYPED_TEST(RegistryHttp, ResumesPendingUploadWithSameRoot) {
  auto alice = this->token("alice"), bob = this->token("bob");
  auto alice_read = this->token("alice", {"read:drawbridge_repositories", "read:drawbridge_tags"});
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  const std::string tag = "/alice/app/_tag/1.0.0";
  const auto type = std::string(kEntryType);
  auto head = [&](const std::string& path, const std::string& tok) {
    net::Headers h;
    if (!tok.empty()) h.set("Authorization", "Bearer " + tok);
    return this->call(net::Method::Head, path, {}, h).status;
  };
  auto body = [](const TreeNode& n) { return std::string(n.content.begin(), n.content.end()); };
  ASSERT_GE(tree.nodes.size(), 4u);

  ASSERT_EQ(this->put(tag, entry_to_json(tree.root()), type, alice).status, 201);
  const std::size_t sent = 2;  // the "interrupted" upload got this far
  for (std::size_t i = 0; i < sent; ++i)
    ASSERT_EQ(this->put(tag + "/tree/" + tree.nodes[i].path, body(tree.nodes[i]), tree.nodes[i].meta.type, alice).status, 201);

  // Re-run: same root entry -> 200, nothing dropped.
  auto again = this->put(tag, entry_to_json(tree.root()), type, alice);
  EXPECT_EQ(again.status, 200) << again.body;
  for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
    const auto path = tag + "/tree/" + tree.nodes[i].path;
    EXPECT_EQ(head(path, alice), i < sent ? 200 : 404) << tree.nodes[i].path;
    // Still invisible to everyone else: anonymous, another user, the owner without write scope.
    EXPECT_EQ(head(path, ""), 404);
    EXPECT_EQ(head(path, bob), 404);
    EXPECT_EQ(head(path, alice_read), 404);
  }
  auto stored = this->get(tag + "/tree/" + tree.nodes[0].path, alice);
  EXPECT_EQ(stored.status, 200);
  EXPECT_EQ(stored.body, body(tree.nodes[0]));
  EXPECT_EQ(this->get(tag, alice).status, 404);  // the tag itself stays pending
  EXPECT_EQ(this->get("/alice/app/_tag").body, "[]");
  // What was stored answers 409 as before; the rest completes the tag.
  EXPECT_EQ(this->put(tag + "/tree/" + tree.nodes[0].path, body(tree.nodes[0]), tree.nodes[0].meta.type, alice).code(),
            "drawbridge.already_exists");
  for (std::size_t i = sent; i < tree.nodes.size(); ++i)
    ASSERT_EQ(this->put(tag + "/tree/" + tree.nodes[i].path, body(tree.nodes[i]), tree.nodes[i].meta.type, alice).status, 201);
  EXPECT_EQ(this->get(tag).body, entry_to_json(tree.root()));
  EXPECT_EQ(this->get("/alice/app/_tag").body, "[\"1.0.0\"]");
  // Complete: immutable, even for the same body.
  EXPECT_EQ(this->put(tag, entry_to_json(tree.root()), type, alice).code(), "drawbridge.already_exists");

  // A different root for a pending tag restarts it: nothing of the old upload survives.
  const std::string tag2 = "/alice/app/_tag/2.0.0";
  ASSERT_EQ(this->put(tag2, entry_to_json(tree.root()), type, alice).status, 201);
  ASSERT_EQ(this->put(tag2 + "/tree", body(tree.nodes[0]), tree.nodes[0].meta.type, alice).status, 201);
  auto other = this->sample_tree("changed");
  EXPECT_EQ(this->put(tag2, entry_to_json(other.root()), type, alice).status, 201);
  EXPECT_EQ(head(tag2 + "/tree", alice), 404);
  // Someone else cannot resume (or restart) alice's upload.
  EXPECT_EQ(this->put(tag2, entry_to_json(other.root()), type, bob).code(), "drawbridge.auth.not_owner");
}

// A signed tag resumes with a new signature over the same root; the last body is served.
TYPED_TEST(RegistryHttp, SignedTagResumesWithFreshSignature) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  auto payload = to_base64url(as_bytes(entry_to_json(tree.root())));
  auto protected_header = to_base64url(as_bytes("{\"alg\":\"ES256\"}"));
  auto jws = [&](std::uint8_t fill) {
    return "{\"payload\":\"" + payload + "\",\"protected\":\"" + protected_header + "\",\"signature\":\"" +
           to_base64url(Bytes(64, fill)) + "\"}";
  };
  const std::string tag = "/alice/app/_tag/1.0.0";
  ASSERT_EQ(this->put(tag, jws(1), std::string(kJwsType), alice).status, 201);
  ASSERT_EQ(this->put(tag + "/tree", std::string(tree.nodes[0].content.begin(), tree.nodes[0].content.end()),
                      tree.nodes[0].meta.type, alice).status, 201);
  EXPECT_EQ(this->put(tag, jws(2), std::string(kJwsType), alice).status, 200);
  // Switching to an unsigned tag over the same root resumes too.
  EXPECT_EQ(this->put(tag, entry_to_json(tree.root()), std::string(kEntryType), alice).status, 200);
  EXPECT_EQ(this->put(tag, jws(3), std::string(kJwsType), alice).status, 200);
  for (std::size_t i = 1; i < tree.nodes.size(); ++i)
    ASSERT_EQ(this->put(tag + "/tree/" + tree.nodes[i].path,
                        std::string(tree.nodes[i].content.begin(), tree.nodes[i].content.end()),
                        tree.nodes[i].meta.type, alice).status, 201);
  auto r = this->get(tag);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, jws(3));
  EXPECT_EQ(r.headers.get("Content-Type"), std::string(kJwsType));
  EXPECT_EQ(ContentDigest::parse_header(*r.headers.get("Content-Digest")), ContentDigest::compute(as_bytes(jws(3))));
}

TYPED_TEST(RegistryHttp, SignedTagStoredAndServedByteExact) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  auto payload = to_base64url(as_bytes(entry_to_json(tree.root())));
  auto protected_header = to_base64url(as_bytes("{\"alg\":\"ES256\",\"kid\":\"publisher\"}"));
  std::string jws = "{\n  \"payload\": \"" + payload + "\",\n  \"signatures\": [ {\"protected\": \"" +
                    protected_header + "\", \"header\": {\"kid\": \"publisher\"}, \"signature\": \"" +
                    to_base64url(Bytes(64, 7)) + "\"} ]\n}\n";
  ASSERT_EQ(this->put("/alice/app/_tag/1.0.0", jws, std::string(kJwsType), alice).status, 201);
  for (const auto& n : tree.nodes)
    ASSERT_EQ(this->put("/alice/app/_tag/1.0.0/tree/" + n.path, std::string(n.content.begin(), n.content.end()),
                        n.meta.type, alice).status, 201);
  auto r = this->get("/alice/app/_tag/1.0.0");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, jws);
  EXPECT_EQ(r.headers.get("Content-Type"), std::string(kJwsType));
  EXPECT_EQ(ContentDigest::parse_header(*r.headers.get("Content-Digest")), ContentDigest::compute(as_bytes(jws)));
  EXPECT_EQ(this->put("/alice/app/_tag/1.0.1", "{\"payload\":\"e30\"}", std::string(kJwsType), alice).status, 400);
}

TYPED_TEST(RegistryHttp, SameContentInTwoRepositories) {
  auto alice = this->token("alice"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "one", true, alice);
  this->make_repo("bob", "two", true, bob);
  auto tree = this->sample_tree();
  this->upload("/alice/one/_tag/1.0.0", tree, alice);
  this->upload("/bob/two/_tag/1.0.0", tree, bob);
  EXPECT_EQ(this->get("/alice/one/_tag/1.0.0/tree/main.wasm").body, this->get("/bob/two/_tag/1.0.0/tree/main.wasm").body);
  // Writing into someone else's namespace is refused.
  EXPECT_EQ(this->put("/alice/one/_tag/2.0.0", entry_to_json(tree.root()), std::string(kEntryType), bob).code(),
            "drawbridge.auth.not_owner");
  EXPECT_EQ(this->put("/carol", user_to_json({"someone-else"}), "application/json", bob).code(),
            "drawbridge.auth.subject_mismatch");
}

TYPED_TEST(RegistryHttp, PrivateRepositoryAccessMatrix) {
  auto alice = this->token("alice"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "secret", false, alice);
  this->make_repo("alice", "other", false, alice);
  auto tree = this->sample_tree();
  this->upload("/alice/secret/_tag/1.0.0", tree, alice);

  auto keep_tag = pkitest::keep_cert(this->steward, "slug://localhost/alice/secret:1.0.0");
  auto keep_repo = pkitest::keep_cert(this->steward, "slug://alice/secret");
  auto keep_other = pkitest::keep_cert(this->steward, "slug://alice/other:1.0.0");
  auto keep_other_tag = pkitest::keep_cert(this->steward, "slug://alice/secret:1.0.1");
  auto rogue_ca = pkitest::make_ca("rogue CA");
  auto keep_untrusted = pkitest::keep_cert(rogue_ca, "slug://alice/secret:1.0.0");
  auto keep_expired = pkitest::keep_cert(this->steward, "slug://alice/secret:1.0.0", true);
  // The CA's own certificates that are no attested keep, and keeps attested without hardware.
  auto not_a_keep = pkitest::keep_cert(this->steward, "slug://alice/secret", false, {.claims = false});
  auto kvm_keep = pkitest::keep_cert(this->steward, "slug://alice/secret", false, {.platform = "kvm", .insecure = true});
  auto simulated_keep = pkitest::keep_cert(this->steward, "slug://alice/secret", false, {.simulated = true});

  const std::string tag = "/alice/secret/_tag/1.0.0", file = tag + "/tree/main.wasm", list = "/alice/secret/_tag";
  struct Case {
    const char* who;
    std::string token;
    const Issued* cert;
    int tag, file, list;
  };
  std::vector<Case> cases = {
      {"anonymous", "", nullptr, 404, 404, 404},
      {"other user", bob, nullptr, 404, 404, 404},
      {"owner", alice, nullptr, 200, 200, 200},
      {"owner without read scope", this->token("alice", {"write:drawbridge_tags"}), nullptr, 404, 404, 404},
      {"keep cert for repo:tag", "", &keep_tag, 200, 200, 404},
      {"keep cert for repo", "", &keep_repo, 200, 200, 200},
      {"keep cert for another repo", "", &keep_other, 404, 404, 404},
      {"keep cert for another tag", "", &keep_other_tag, 404, 404, 404},
      {"CA certificate without attested claims", "", &not_a_keep, 404, 404, 404},
      {"insecure (KVM) keep certificate", "", &kvm_keep, 404, 404, 404},
      {"simulated keep certificate", "", &simulated_keep, 404, 404, 404},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(this->get(tag, c.token, c.cert).status, c.tag) << c.who;
    EXPECT_EQ(this->get(file, c.token, c.cert).status, c.file) << c.who;
    EXPECT_EQ(this->get(list, c.token, c.cert).status, c.list) << c.who;
  }
  // Certificates that do not verify never get content: the handshake is refused (-1) or, if
  // the connection is accepted, the request is treated as anonymous (404).
  for (const auto* cert : {&keep_untrusted, &keep_expired}) {
    auto r = this->get(file, "", cert);
    EXPECT_TRUE(r.status == -1 || r.status == 404) << r.status;
  }
  // Unknown names answer exactly like private ones.
  auto missing = this->get("/alice/nothere/_tag/1.0.0/tree/main.wasm");
  auto hidden = this->get(file);
  EXPECT_EQ(missing.status, hidden.status);
  EXPECT_EQ(missing.body, hidden.body);
  EXPECT_EQ(this->get("/alice/_repos").body, "[]");
  EXPECT_EQ(this->get("/alice/_repos", alice).body, "[\"other\",\"secret\"]");
  // A broken token is an error, not anonymity.
  EXPECT_EQ(this->get(file, "not-a-jwt").status, 401);
  // Keep certificates never authorize writes.
  EXPECT_EQ(this->call(net::Method::Put, "/alice/secret/_tag/9.0.0", "{}", {{"Content-Type", std::string(kEntryType)}}, &keep_repo).status, 401);
}

// The owner can require attested platforms and measurements on top of the slug.
TYPED_TEST(RegistryHttp, RepositoryRequiresAttestedPlatformAndMeasurement) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  const std::string m(96, 'e');
  const std::string config = R"({"keeps":{"measurements":[")" + m + R"("],"platforms":["snp"]},"public":false})";
  ASSERT_EQ(this->put("/alice/measured", config, "application/json", alice).status, 201);
  // Bad requirements are refused with the field named.
  auto bad = this->put("/alice/bad", R"({"public":false,"keeps":{"platforms":["z80"]}})", "application/json", alice);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("keeps.platforms"), std::string::npos) << bad.body;
  this->upload("/alice/measured/_tag/1.0.0", this->sample_tree(), alice);
  const std::string file = "/alice/measured/_tag/1.0.0/tree/main.wasm";
  auto matching = pkitest::keep_cert(this->steward, "slug://alice/measured", false, {});
  auto other_measurement = pkitest::keep_cert(this->steward, "slug://alice/measured", false, {.measurement = std::string(96, 'f')});
  auto other_platform = pkitest::keep_cert(this->steward, "slug://alice/measured", false, {.platform = "tdx", .measurement = m});
  EXPECT_EQ(this->get(file, "", &matching).status, 200);
  EXPECT_EQ(this->get(file, "", &other_measurement).status, 404);
  EXPECT_EQ(this->get(file, "", &other_platform).status, 404);
  EXPECT_EQ(this->get(file, alice).status, 200);  // the owner's token is not a keep
  // The stored config (and what the owner reads back) carries the requirement.
  EXPECT_NE(this->get("/alice/measured", alice).body.find(m), std::string::npos);
}

// Development mode: a registry that explicitly accepts insecure keeps lets them read; one that
// does not, does not (the default, above).
TYPED_TEST(RegistryHttp, InsecureKeepsOnlyWithTheOptIn) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "secret", false, alice);
  this->upload("/alice/secret/_tag/1.0.0", this->sample_tree(), alice);
  auto simulated = pkitest::keep_cert(this->steward, "slug://alice/secret", false, {.simulated = true});
  const auto ask = [&](Registry& registry) {
    net::Request req;
    req.method = net::Method::Get;
    req.path = "/api/v0.1.0/alice/secret/_tag/1.0.0/tree/main.wasm";
    req.remote_address = "127.0.0.1:1";
    req.peer_chain_der = {simulated.cert.to_der(), this->steward.cert.to_der()};
    try {
      return registry.handle(req).status;
    } catch (const net::HttpError& e) {
      return e.status();
    }
  };
  RegistryOptions ro;
  ro.client_ca = {this->steward.cert};
  ro.lookup_rate = 0;
  Registry strict(this->store, nullptr, ro);
  EXPECT_EQ(ask(strict), 404);
  ro.accept_insecure_keeps = true;
  Registry development(this->store, nullptr, ro);
  EXPECT_EQ(ask(development), 200);
}

// Finding: ownership compared only `sub`. With the local issuer enabled beside an OIDC
// provider, anyone who can run `drawbridge token` mints a token with an OIDC user's `sub`; it
// must own nothing of that user's.
TYPED_TEST(RegistryHttp, OwnershipIsBoundToTheIssuer) {
  auto real = this->idp_token("alice");
  auto forged = this->token("alice");  // same sub, the other issuer
  this->make_user("alice", real);
  this->make_repo("alice", "secret", false, real);
  auto tree = this->sample_tree();
  this->upload("/alice/secret/_tag/1.0.0", tree, real);
  const std::string pending = "/alice/secret/_tag/2.0.0";
  ASSERT_EQ(this->put(pending, entry_to_json(tree.root()), std::string(kEntryType), real).status, 201);
  const auto& root = tree.nodes[0];
  ASSERT_EQ(this->put(pending + "/tree", std::string(root.content.begin(), root.content.end()), root.meta.type, real).status, 201);
  auto head = [&](const std::string& path, const std::string& tok) {
    return this->call(net::Method::Head, path, {}, {{"Authorization", "Bearer " + tok}}).status;
  };

  // Reads: exactly what an outsider gets.
  for (const std::string path : {"/alice", "/alice/secret", "/alice/secret/_tag", "/alice/secret/_tag/1.0.0",
                                 "/alice/secret/_tag/1.0.0/tree/main.wasm"}) {
    auto r = this->get(path, forged);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.code(), "drawbridge.not_found") << path;
    EXPECT_EQ(this->get(path, real).status, 200) << path;
  }
  EXPECT_EQ(this->get("/alice/_repos", forged).body, "[]");
  EXPECT_EQ(this->get("/alice/_repos", real).body, "[\"secret\"]");
  EXPECT_EQ(head(pending + "/tree", forged), 404);  // the publisher's view of a pending upload
  EXPECT_EQ(head(pending + "/tree", real), 200);

  // Writes: not the owner.
  auto other = this->sample_tree("forged");
  const std::string kRepo = repo_to_json({true});
  EXPECT_EQ(this->put("/alice/mine", kRepo, "application/json", forged).code(), "drawbridge.auth.not_owner");
  EXPECT_EQ(this->put("/alice/secret/_tag/3.0.0", entry_to_json(other.root()), std::string(kEntryType), forged).code(),
            "drawbridge.auth.not_owner");
  // Neither resuming nor restarting the pending upload, nor adding to it.
  EXPECT_EQ(this->put(pending, entry_to_json(tree.root()), std::string(kEntryType), forged).code(),
            "drawbridge.auth.not_owner");
  EXPECT_EQ(this->put(pending, entry_to_json(other.root()), std::string(kEntryType), forged).code(),
            "drawbridge.auth.not_owner");
  const auto& child = tree.nodes[1];
  EXPECT_EQ(this->put(pending + "/tree/" + child.path, std::string(child.content.begin(), child.content.end()),
                      child.meta.type, forged).code(),
            "drawbridge.auth.not_owner");
  // The name stays taken.
  EXPECT_EQ(this->put("/alice", user_to_json({"alice"}), "application/json", forged).code(), "drawbridge.already_exists");

  // Nothing changed; the real owner carries on.
  EXPECT_EQ(this->get("/alice/_repos", real).body, "[\"secret\"]");
  EXPECT_EQ(this->get("/alice/secret/_tag", real).body, "[\"1.0.0\"]");
  EXPECT_EQ(head(pending + "/tree", real), 200);
  EXPECT_EQ(this->put(pending, entry_to_json(tree.root()), std::string(kEntryType), real).status, 200);
  EXPECT_EQ(this->put("/alice/mine", kRepo, "application/json", real).status, 201);
}

// Users stored before issuers were recorded (a migrated database): with exactly one issuer
// configured they are that issuer's; with two, nobody's (fail closed).
TYPED_TEST(RegistryHttp, UsersWithoutIssuerBelongOnlyToTheSoleIssuer) {
  auto local = this->token("alice");
  this->make_user("alice", local);
  this->make_repo("alice", "secret", false, local);
  this->upload("/alice/secret/_tag/1.0.0", this->sample_tree(), local);
  this->backend.forget_issuers();
  const std::string tag = "/alice/secret/_tag/1.0.0";
  const std::string kRepo = repo_to_json({false});

  // Two issuers: which one registered alice is unknown, so neither alice owns her.
  for (const auto& tok : {this->token("alice"), this->idp_token("alice")}) {
    EXPECT_EQ(this->get(tag, tok).status, 404);
    EXPECT_EQ(this->get("/alice", tok).status, 404);
    EXPECT_EQ(this->get("/alice/_repos", tok).body, "[]");
    EXPECT_EQ(this->put("/alice/more", kRepo, "application/json", tok).code(), "drawbridge.auth.not_owner");
  }

  // Only the local issuer: the row is its.
  this->start({this->issuer.issuer_config()});
  EXPECT_EQ(this->get(tag, this->token("alice")).status, 200);
  EXPECT_EQ(this->get("/alice", this->token("alice")).status, 200);
  EXPECT_EQ(this->put("/alice/more", kRepo, "application/json", this->token("alice")).status, 201);
  EXPECT_EQ(this->get(tag, this->token("bob")).status, 404);

  // Only the other issuer: then it is that one's (the subject still has to match).
  this->start({this->idp.issuer_config()});
  EXPECT_EQ(this->get(tag, this->idp_token("alice")).status, 200);
  EXPECT_EQ(this->get(tag, this->idp_token("bob")).status, 404);
  EXPECT_EQ(this->get(tag, this->token("alice")).code(), "drawbridge.auth.unknown_issuer");
}

// Finding: GET /<user>/_repos answered 404 for a missing user but 200 [] for one whose
// repositories are all private, so anyone could probe which user names exist. Walk every read
// route as outsiders and compare: a missing user, a missing repository, a private repository
// (with a complete and a pending tag) must give byte-identical answers.
TYPED_TEST(RegistryHttp, ReadRoutesDoNotTellPrivateFromMissing) {
  auto alice = this->token("alice"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "secret", false, alice);
  this->make_repo("bob", "open", true, bob);
  auto tree = this->sample_tree();
  this->upload("/alice/secret/_tag/1.0.0", tree, alice);
  ASSERT_EQ(this->put("/alice/secret/_tag/2.0.0", entry_to_json(tree.root()), std::string(kEntryType), alice).status, 201);
  auto keep_bob = pkitest::keep_cert(this->steward, "slug://bob/open");
  // The private repository names its own steward; the registry has a default.
  ASSERT_EQ(this->put("/alice/secret/_steward", R"({"steward":"https://steward.alice.example"})", "application/json",
                      alice).status, 204);
  this->default_steward = "https://steward.example";
  this->start();

  // Everything but what differs per request anyway.
  auto answer = [&](net::Method m, const std::string& path, const std::string& tok, const Issued* cert) {
    net::Headers h;
    if (!tok.empty()) h.set("Authorization", "Bearer " + tok);
    auto r = this->call(m, path, {}, h, cert);
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [k, v] : r.headers.items()) {
      auto name = k;
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (name != "x-request-id" && name != "date") headers.emplace_back(name, v);
    }
    std::sort(headers.begin(), headers.end());
    std::string out = std::to_string(r.status) + "\n" + r.body + "\n";
    for (const auto& [k, v] : headers) out += k + ": " + v + "\n";
    return out;
  };
  struct Caller {
    const char* who;
    std::string token;
    const Issued* cert;
  };
  const std::vector<Caller> callers = {{"anonymous", "", nullptr},
                                       {"another user", bob, nullptr},
                                       {"another user, read scopes only",
                                        this->token("bob", {"read:drawbridge_users", "read:drawbridge_repositories",
                                                            "read:drawbridge_tags"}),
                                        nullptr},
                                       {"keep cert for another repository", "", &keep_bob}};
  // Per route: the spellings that must look alike (first: the one that exists).
  const std::vector<std::vector<std::string>> routes = {
      {"/alice", "/ghost"},
      {"/alice/_repos", "/ghost/_repos"},
      {"/alice/secret", "/alice/nothere", "/ghost/secret"},
      {"/alice/secret/_tag", "/alice/nothere/_tag", "/ghost/secret/_tag"},
      {"/alice/secret/_tag/1.0.0", "/alice/secret/_tag/2.0.0", "/alice/secret/_tag/9.9.9", "/alice/nothere/_tag/1.0.0",
       "/ghost/secret/_tag/1.0.0"},
      {"/alice/secret/_tag/1.0.0/tree", "/alice/secret/_tag/2.0.0/tree", "/alice/nothere/_tag/1.0.0/tree",
       "/ghost/secret/_tag/1.0.0/tree"},
      {"/alice/secret/_tag/1.0.0/tree/main.wasm", "/alice/secret/_tag/1.0.0/tree/nothere.wasm",
       "/alice/nothere/_tag/1.0.0/tree/main.wasm", "/ghost/secret/_tag/1.0.0/tree/main.wasm"},
      // Which steward: the registry's default for all of them, whatever the repository says.
      {"/alice/secret/_steward", "/alice/nothere/_steward", "/ghost/secret/_steward"},
      {"/alice/secret/_tag/1.0.0/_steward", "/alice/secret/_tag/2.0.0/_steward", "/alice/secret/_tag/9.9.9/_steward",
       "/alice/nothere/_tag/1.0.0/_steward", "/ghost/secret/_tag/1.0.0/_steward"},
      // Yank state, the audit log and quota usage (docs/drawbridge.md "Yank and delete").
      {"/alice/secret/_tag/1.0.0/_yank", "/alice/secret/_tag/2.0.0/_yank", "/alice/secret/_tag/9.9.9/_yank",
       "/alice/nothere/_tag/1.0.0/_yank", "/ghost/secret/_tag/1.0.0/_yank"},
      {"/alice/_audit", "/ghost/_audit"},
      {"/alice/_usage", "/ghost/_usage"},
  };
  for (const auto& c : callers) {
    for (auto method : {net::Method::Get, net::Method::Head}) {
      for (const auto& spellings : routes) {
        auto expected = answer(method, spellings[0], c.token, c.cert);
        for (std::size_t i = 1; i < spellings.size(); ++i)
          EXPECT_EQ(answer(method, spellings[i], c.token, c.cert), expected)
              << c.who << ", " << net::to_string(method) << " " << spellings[i] << " vs " << spellings[0];
      }
    }
  }
  EXPECT_EQ(this->get("/alice/secret/_steward").body, R"({"steward":"https://steward.example","source":"registry"})");
  // (The owner does see the difference.)
  EXPECT_EQ(this->get("/alice/secret/_steward", alice).body,
            R"({"steward":"https://steward.alice.example","source":"repository"})");
  EXPECT_EQ(this->get("/alice/_repos", alice).body, "[\"secret\"]");
  EXPECT_EQ(this->get("/ghost/_repos", alice).body, "[]");
}

// Finding: a full disk answered 500 drawbridge.storage, indistinguishable from a bug. Publish
// onto a real 2 MiB file system until it is full: that request gets 507
// drawbridge.storage_full, nothing half-written is left, reads keep working; then writes that
// only touch the database on the full disk get 507 too, and everything works again once there
// is space.
TYPED_TEST(RegistryHttp, FullDiskAnswers507AndKeepsServing) {
  std::string why;
  this->small_store = this->backend.small(&why);
  if (!this->small_store) GTEST_SKIP() << why;
  this->store = this->small_store->open();
  this->start();
  auto& fs = *this->small_store->fs;
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);

  // One-file tags of incompressible 256 KiB until one does not fit.
  std::vector<std::pair<std::string, std::string>> published;  // tag path, content
  Result refused;
  for (int i = 0; i < 64 && refused.status == -1; ++i) {
    auto blob = random_bytes(256 << 10);
    const std::string tag = "/alice/app/_tag/1.0." + std::to_string(i);
    auto r = this->put(tag, entry_to_json(Entry{Meta::of(blob, "application/octet-stream"), {}}),
                       std::string(kEntryType), alice);
    if (r.status == 201) r = this->put(tag + "/tree", std::string(blob.begin(), blob.end()), "application/octet-stream", alice);
    if (r.status == 201) published.emplace_back(tag, std::string(blob.begin(), blob.end()));
    else refused = r;
  }
  ASSERT_EQ(refused.status, 507) << refused.body;
  EXPECT_EQ(refused.code(), "drawbridge.storage_full");
  ASSERT_FALSE(published.empty());

  auto reads_work = [&] {
    for (const auto& [tag, content] : published) {
      auto r = this->get(tag + "/tree");
      EXPECT_EQ(r.status, 200) << tag;
      EXPECT_TRUE(r.body == content) << tag;
    }
    auto list = this->get("/alice/app/_tag");
    EXPECT_EQ(list.status, 200);
    EXPECT_EQ(nlohmann::json::parse(list.body).size(), published.size());
  };
  reads_work();
  if constexpr (!TypeParam::kPg) {
    // No temp file left behind, and every blob file is whole (its content hashes to its name).
    EXPECT_TRUE(std::filesystem::is_empty(fs.dir() / "tmp"));
    std::size_t blobs = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(fs.dir() / "blobs")) {
      if (!e.is_regular_file()) continue;
      ++blobs;
      EXPECT_EQ(blob_key_of(read_file(e.path())), e.path().filename().string());
    }
    EXPECT_EQ(blobs, published.size());
  }
  // (PostgreSQL: the refused insert's transaction rolled back; reads_work covers what is stored.)

  // Not a byte left: a write that only touches the database (SQLite's WAL, PostgreSQL's
  // table files) gets 507 as well.
  fs.fill();
  Result meta;
  for (int i = 0; i < 500 && meta.status != 507; ++i) {
    meta = this->put("/alice/r" + std::to_string(i), repo_to_json({true}), "application/json", alice);
    ASSERT_TRUE(meta.status == 201 || meta.status == 507) << meta.status << " " << meta.body;
  }
  EXPECT_EQ(meta.status, 507);
  EXPECT_EQ(meta.code(), "drawbridge.storage_full");
  reads_work();

  // More space: writes work again. (Removing the filler alone is not enough for PostgreSQL:
  // the refused blob's table pages stay allocated to the table.)
  fs.release();
  fs.grow(2 * kSmallFs);
  EXPECT_EQ(this->put("/alice/after", repo_to_json({true}), "application/json", alice).status, 201);
  auto small = to_bytes("fits now");
  const std::string tag = "/alice/app/_tag/2.0.0";
  ASSERT_EQ(this->put(tag, entry_to_json(Entry{Meta::of(small, "text/plain"), {}}), std::string(kEntryType), alice).status, 201);
  ASSERT_EQ(this->put(tag + "/tree", "fits now", "text/plain", alice).status, 201);
  EXPECT_EQ(this->get(tag + "/tree").body, "fits now");
}

// Whoever may not upload is answered from the request header alone: the registry neither
// holds nor reads the body (before, every PUT body up to max_blob_size was read into memory and
// only then refused). Each case announces a body the route would take and sends none of it; a
// second client keeps sending and must see the answer long before its body is through.
TYPED_TEST(RegistryHttp, UploadsAreRefusedBeforeTheBody) {
  auto alice = this->token("alice");
  auto mallory = this->token("mallory");
  this->make_user("alice", alice);
  this->make_user("mallory", mallory);
  this->make_repo("alice", "app", false, alice);
  constexpr std::uint64_t kLength = 6u << 20;  // under the fixture's 8 MiB max_blob_size
  this->expect_file("/alice/app/_tag/1.0.0", "big.wasm", kLength, alice);
  this->expect_file("/alice/app/_tag/2.0.0", "huge.wasm", 9u << 20, alice);
  const std::string node = "/alice/app/_tag/1.0.0/tree/big.wasm";
  const std::string digest = ContentDigest::compute(to_bytes("stand-in")).to_header();
  const auto read_only = this->token("alice", {"read:drawbridge_tags"});

  struct Case {
    std::string name, path, type, token, digest;
    std::uint64_t length;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"anonymous node", node, "application/wasm", "", digest, kLength, 401, "drawbridge.auth.missing_token"},
      {"another user's node", node, "application/wasm", mallory, digest, kLength, 401, "drawbridge.auth.not_owner"},
      {"read-only token", node, "application/wasm", read_only, digest, kLength, 401, "drawbridge.auth.missing_scope"},
      {"unexpected node", "/alice/app/_tag/1.0.0/tree/other.wasm", "application/wasm", alice, digest, kLength, 409,
       "drawbridge.tree.not_expected"},
      {"length other than the entry's", node, "application/wasm", alice, digest, kLength - 1, 400,
       "drawbridge.length_mismatch"},
      {"no digest", node, "application/wasm", alice, "", kLength, 400, "drawbridge.digest_missing"},
      {"wrong type", node, "text/plain", alice, digest, kLength, 400, "drawbridge.tree.type_mismatch"},
      // (Its owner passes the header check; its Content-Length is over the route's limit.)
      {"entry over max_blob_size", "/alice/app/_tag/2.0.0/tree/huge.wasm", "application/wasm", alice, digest, 9u << 20,
       413, "http.body_too_large"},
      {"missing tag", "/alice/app/_tag/3.0.0/tree/big.wasm", "application/wasm", alice, digest, kLength, 404,
       "drawbridge.not_found"},
      {"anonymous user", "/eve", "application/json", "", "", kLength, 401, "drawbridge.auth.missing_token"},
      {"JSON over max_json_size", "/alice/other", "application/json", alice, "", 2u << 20, 413,
       "drawbridge.body_too_large"},
      {"another user's repository", "/alice/other", "application/json", mallory, "", 1000, 401,
       "drawbridge.auth.not_owner"},
      {"tag of a missing repository", "/alice/nope/_tag/1.0.0", std::string(kEntryType), alice, digest, 1000, 404,
       "drawbridge.not_found"},
      {"another user's tag", "/alice/app/_tag/4.0.0", std::string(kEntryType), mallory, digest, 1000, 401,
       "drawbridge.auth.not_owner"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // Nothing of the body sent: the answer must come anyway.
    auto silent = this->put_header(c.path, c.length, c.type, c.token, c.digest);
    silent->read_response(std::chrono::seconds(5));
    EXPECT_EQ(silent->status(), c.status) << silent->received();
    Result r;
    r.body = silent->received().substr(std::min(silent->received().size(), silent->received().find("\r\n\r\n") + 4));
    EXPECT_EQ(r.code(), c.code) << silent->received();
    EXPECT_TRUE(silent->wait_closed(std::chrono::seconds(5))) << "the connection stays open for the body";
    // Sending all along (through a 64 KiB send buffer): answered with little of the body sent.
    if (c.length < (4u << 20)) continue;
    auto pushy = this->put_header(c.path, c.length, c.type, c.token, c.digest);
    pushy->limit_send_buffer(64 << 10);
    pushy->send_filler_until_answered(c.length, std::chrono::seconds(20));
    pushy->read_response(std::chrono::seconds(5));
    EXPECT_EQ(pushy->status(), c.status);
    EXPECT_LT(pushy->body_sent(), 2u << 20) << "the body was read before the answer";
  }
  // Nothing was stored, nothing left behind.
  EXPECT_EQ(this->get(node, alice).status, 404);
  if constexpr (!TypeParam::kPg) {
    EXPECT_TRUE(std::filesystem::is_empty(this->backend.dir.path() / "data" / "tmp"));
  }
}

// A file node goes to the store's spool as it arrives (for SQLite: <data>/tmp/, then renamed to
// its blob path), never whole into memory; a wrong body is refused and leaves nothing behind.
TYPED_TEST(RegistryHttp, FileNodesAreStreamedToTheStore) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  const Bytes content = random_bytes(5u << 20);
  this->expect_file("/alice/app/_tag/1.0.0", "big.wasm", content.size(), alice, content);
  const std::string node = "/alice/app/_tag/1.0.0/tree/big.wasm";
  const std::string digest = ContentDigest::compute(content).to_header();
  const std::string_view body(reinterpret_cast<const char*>(content.data()), content.size());
  const auto spooled = [&]() -> std::uint64_t {
    std::uint64_t n = 0;
    if constexpr (!TypeParam::kPg) {
      for (const auto& e : std::filesystem::directory_iterator(this->backend.dir.path() / "data" / "tmp"))
        n += e.file_size();
    }
    return n;
  };

  // Half the body sent: it is on disk already, and no body byte is buffered in memory.
  auto half = this->put_header(node, content.size(), "application/wasm", alice, digest);
  ASSERT_TRUE(half->send_all(body.substr(0, body.size() / 2)));
  std::uint64_t on_disk = 0;
  for (int i = 0; i < 100 && on_disk < body.size() / 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    on_disk = spooled();
  }
  if constexpr (!TypeParam::kPg) {
    EXPECT_EQ(on_disk, body.size() / 2);
  }
  EXPECT_EQ(this->http->metrics().gauge("http_request_body_bytes_buffered", "").value(), 0);
  ASSERT_TRUE(half->send_all(body.substr(body.size() / 2)));
  half->read_response(std::chrono::seconds(10));
  ASSERT_EQ(half->status(), 201) << half->received();

  auto back = this->get(node);
  ASSERT_EQ(back.status, 200);
  EXPECT_TRUE(back.body == body);
  EXPECT_EQ(back.headers.get("Content-Digest"), digest);
  if constexpr (!TypeParam::kPg) {
    EXPECT_EQ(spooled(), 0u);
    const auto blob = this->backend.dir.path() / "data" / "blobs" / "sha256" / blob_key_of(content).substr(0, 2) /
                      blob_key_of(content);
    EXPECT_EQ(std::filesystem::file_size(blob), content.size());
  }

  // Same length, other bytes: refused after streaming, nothing kept.
  Bytes other = content;
  other[12345] ^= 1;
  this->expect_file("/alice/app/_tag/2.0.0", "big.wasm", content.size(), alice, content);
  auto wrong = this->put("/alice/app/_tag/2.0.0/tree/big.wasm", std::string(other.begin(), other.end()),
                         "application/wasm", alice, false);
  auto bad = this->call(net::Method::Put, "/alice/app/_tag/2.0.0/tree/big.wasm", std::string(other.begin(), other.end()),
                        {{"Content-Type", "application/wasm"}, {"Content-Digest", digest}, {"Authorization", "Bearer " + alice}});
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.code(), "drawbridge.digest_missing");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.code(), "drawbridge.digest_mismatch");
  if constexpr (!TypeParam::kPg) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(spooled(), 0u);
    EXPECT_FALSE(std::filesystem::exists(this->backend.dir.path() / "data" / "blobs" / "sha256" /
                                         blob_key_of(other).substr(0, 2) / blob_key_of(other)));
  }
  EXPECT_EQ(this->put("/alice/app/_tag/2.0.0/tree/big.wasm", std::string(body), "application/wasm", alice).status, 201);
}

}  // namespace

// Which steward a keep is told to use (docs/drawbridge.md "Which steward"): the signed tag's,
// else the repository's, else the registry's default; only the owner sets the repository's,
// a change is seen on the next request, and an unsigned tag's claim is not the publisher's.
TYPED_TEST(RegistryHttp, StewardDiscoveryPrecedence) {
  auto alice = this->token("alice"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "app", true, alice);
  const auto json = std::string("application/json");
  auto steward_of = [&](const std::string& path, const std::string& tok = {}) {
    auto r = this->get(path, tok);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    EXPECT_EQ(r.headers.get("Content-Type"), json);
    return r.body;
  };
  // No default, nothing set: none.
  EXPECT_EQ(steward_of("/alice/app/_steward"), R"({"steward":null,"source":"none"})");
  this->default_steward = "https://steward.example:8443";
  this->start();
  EXPECT_EQ(steward_of("/alice/app/_steward"), R"({"steward":"https://steward.example:8443","source":"registry"})");

  // The repository's steward: the owner only, valid https URLs only.
  EXPECT_EQ(this->put("/alice/app/_steward", R"({"steward":"https://a.example"})", json, "").status, 401);
  EXPECT_EQ(this->put("/alice/app/_steward", R"({"steward":"https://a.example"})", json, bob).code(),
            "drawbridge.auth.not_owner");
  for (const auto* bad : {R"({"steward":"http://a.example"})", R"({"steward":"https://"})",
                          R"({"steward":"https://u@a.example"})", R"({"steward":"https://a.example/?x"})",
                          R"({"steward":"https://a .example"})"}) {
    auto r = this->put("/alice/app/_steward", bad, json, alice);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.code(), "drawbridge.steward.invalid") << bad;
  }
  for (const auto* bad : {R"({"steward":1})", R"({"url":"https://a.example"})", R"([])", "not json",
                          R"({"steward":"https://a.example","x":1})"})
    EXPECT_EQ(this->put("/alice/app/_steward", bad, json, alice).code(), "drawbridge.json.invalid") << bad;
  EXPECT_EQ(this->put("/alice/nothere/_steward", R"({"steward":"https://a.example"})", json, alice).status, 404);
  ASSERT_EQ(this->put("/alice/app/_steward", R"({"steward":"https://a.example/steward"})", json, alice).status, 204);
  EXPECT_EQ(steward_of("/alice/app/_steward"), R"({"steward":"https://a.example/steward","source":"repository"})");
  EXPECT_EQ(steward_of("/alice/app/_tag/9.9.9/_steward"),
            R"({"steward":"https://a.example/steward","source":"repository"})");
  // The stored config says so too, and stays public.
  auto config = parse_repo(this->get("/alice/app", alice).body);
  EXPECT_TRUE(config.is_public);
  EXPECT_EQ(config.steward, "https://a.example/steward");

  // A tag naming a steward: believed (reported as "tag") only in a signed tag's payload.
  auto tree = this->sample_tree();
  Entry root = tree.root();
  root.custom["steward"] = "https://tag.example";
  ASSERT_EQ(this->put("/alice/app/_tag/0.1.0", entry_to_json(root), std::string(kEntryType), alice).status, 201);
  for (const auto& n : tree.nodes)
    ASSERT_EQ(this->put("/alice/app/_tag/0.1.0/tree/" + n.path, std::string(n.content.begin(), n.content.end()),
                        n.meta.type, alice).status, 201);
  EXPECT_EQ(steward_of("/alice/app/_tag/0.1.0/_steward"),
            R"({"steward":"https://a.example/steward","source":"repository"})");
  auto payload = to_base64url(as_bytes(entry_to_json(root)));
  auto protected_header = to_base64url(as_bytes("{\"alg\":\"ES256\"}"));
  std::string jws = "{\"payload\":\"" + payload + "\",\"signatures\":[{\"protected\":\"" + protected_header +
                    "\",\"signature\":\"" + to_base64url(Bytes(64, 7)) + "\"}]}";
  ASSERT_EQ(this->put("/alice/app/_tag/1.0.0", jws, std::string(kJwsType), alice).status, 201);
  // Pending: not yet a tag anyone reads.
  EXPECT_EQ(steward_of("/alice/app/_tag/1.0.0/_steward"),
            R"({"steward":"https://a.example/steward","source":"repository"})");
  for (const auto& n : tree.nodes)
    ASSERT_EQ(this->put("/alice/app/_tag/1.0.0/tree/" + n.path, std::string(n.content.begin(), n.content.end()),
                        n.meta.type, alice).status, 201);
  EXPECT_EQ(steward_of("/alice/app/_tag/1.0.0/_steward"), R"({"steward":"https://tag.example","source":"tag"})");

  // Cleared: back to the default on the very next request.
  ASSERT_EQ(this->put("/alice/app/_steward", R"({"steward":null})", json, alice).status, 204);
  EXPECT_EQ(steward_of("/alice/app/_steward"), R"({"steward":"https://steward.example:8443","source":"registry"})");
  EXPECT_FALSE(parse_repo(this->get("/alice/app", alice).body).steward.has_value());
  // A repository created with a steward.
  RepoConfig with;
  with.is_public = true;
  with.steward = "https://b.example";
  ASSERT_EQ(this->put("/bob/web", repo_to_json(with), json, bob).status, 201);
  EXPECT_EQ(steward_of("/bob/web/_steward"), R"({"steward":"https://b.example","source":"repository"})");
  // Discovery is a lookup: GET and HEAD only.
  EXPECT_EQ(this->put("/alice/app/_tag/1.0.0/_steward", "{}", json, alice).status, 405);
}

// ---- sharing (docs/drawbridge.md "Sharing") ----

namespace {

net::Headers bearer(const std::string& tok) {
  net::Headers h;
  if (!tok.empty()) h.set("Authorization", "Bearer " + tok);
  return h;
}

std::string grant_body(const std::string& access) { return nlohmann::json{{"access", access}}.dump(); }

}  // namespace

// Collaborators and groups against a private repository: readers read (tag, tree, tag list)
// but may not publish, writers publish too, group members get the group's access; a revoked
// grant and a removed member are refused on the very next request; non-members see nothing.
TYPED_TEST(RegistryHttp, SharedRepositoryAccessMatrix) {
  std::map<std::string, std::string> tok;
  for (const char* name : {"alice", "reader", "writer", "member", "groupwriter", "removed", "revoked", "outsider"}) {
    tok[name] = this->token(name);
    this->make_user(name, tok[name]);
  }
  const auto& alice = tok["alice"];
  this->make_repo("alice", "secret", false, alice);
  this->upload("/alice/secret/_tag/1.0.0", this->sample_tree(), alice);

  auto share = [&](const std::string& what, const std::string& access) {
    auto r = this->put("/alice/secret/_grants/" + what, grant_body(access), "application/json", alice, false);
    ASSERT_TRUE(r.status == 201 || r.status == 200) << what << " " << r.body;
  };
  auto group_put = [&](const std::string& path) {
    auto r = this->call(net::Method::Put, "/alice/_groups/" + path, {}, bearer(alice));
    ASSERT_EQ(r.status, 201) << path << " " << r.body;
  };
  share("users/reader", "read");
  share("users/writer", "write");
  share("users/revoked", "read");
  group_put("readers");
  group_put("writers");
  group_put("readers/members/member");
  group_put("readers/members/removed");
  group_put("writers/members/groupwriter");
  share("groups/readers", "read");
  share("groups/writers", "write");

  const std::string tag = "/alice/secret/_tag/1.0.0", file = tag + "/tree/main.wasm", list = "/alice/secret/_tag";
  struct Outcome {
    int tag, file, list, publish;
    std::string publish_code;
  };
  const Outcome reads{200, 200, 200, 403, "drawbridge.auth.read_only"};
  const Outcome writes{200, 200, 200, 201, ""};
  const Outcome nothing{404, 404, 404, 401, "drawbridge.auth.not_owner"};
  int next_tag = 2;
  auto check = [&](const std::string& who, const Outcome& want) {
    SCOPED_TRACE(who);
    const auto& t = tok[who];
    EXPECT_EQ(this->get(tag, t).status, want.tag);
    EXPECT_EQ(this->get(file, t).status, want.file);
    EXPECT_EQ(this->get(list, t).status, want.list);
    const auto prefix = "/alice/secret/_tag/" + std::to_string(next_tag++) + ".0.0";
    if (want.publish == 201) {
      this->upload(prefix, this->sample_tree(who), t);
      EXPECT_EQ(this->get(prefix + "/tree/Enarx.toml", alice).status, 200);
    } else {
      auto tree = this->sample_tree(who);
      auto r = this->put(prefix, entry_to_json(tree.root()), std::string(kEntryType), t);
      EXPECT_EQ(r.status, want.publish);
      EXPECT_EQ(r.code(), want.publish_code);
    }
  };
  check("reader", reads);
  check("writer", writes);
  check("member", reads);
  check("groupwriter", writes);
  check("removed", reads);
  check("revoked", reads);
  check("outsider", nothing);

  // Revocation and removal take effect on the very next request.
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/secret/_grants/users/revoked", {}, bearer(alice)).status, 204);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/_groups/readers/members/removed", {}, bearer(alice)).status, 204);
  check("revoked", nothing);
  check("removed", nothing);
  // A reader's pending upload view and a writer's: only writers see pending nodes.
  const auto pending = "/alice/secret/_tag/" + std::to_string(next_tag++) + ".0.0";
  auto tree = this->sample_tree("pending");
  ASSERT_EQ(this->put(pending, entry_to_json(tree.root()), std::string(kEntryType), tok["writer"]).status, 201);
  ASSERT_EQ(this->put(pending + "/tree", std::string(tree.nodes[0].content.begin(), tree.nodes[0].content.end()),
                      tree.nodes[0].meta.type, tok["writer"]).status, 201);
  EXPECT_EQ(this->call(net::Method::Head, pending + "/tree", {}, bearer(tok["writer"])).status, 200);
  EXPECT_EQ(this->call(net::Method::Head, pending + "/tree", {}, bearer(tok["reader"])).status, 404);
  // Downgrading a writer to a reader stops their publishing at once; deleting a group revokes
  // what it was granted.
  share("users/writer", "read");
  check("writer", reads);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/_groups/writers", {}, bearer(alice)).status, 204);
  check("groupwriter", nothing);
  // Keep certificates are unchanged by all this.
  auto keep = pkitest::keep_cert(this->steward, "slug://alice/secret");
  EXPECT_EQ(this->get(file, "", &keep).status, 200);
}

// Collaborators publish, nothing more: no grants, groups or repository settings; the keys to
// the repository stay with its owner. Grants are per repository and per issuer.
TYPED_TEST(RegistryHttp, CollaboratorsDoNotManageTheRepository) {
  auto alice = this->token("alice"), writer = this->token("writer"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("writer", writer);
  this->make_user("bob", bob);
  this->make_repo("alice", "secret", false, alice);
  this->make_repo("alice", "other", false, alice);
  this->upload("/alice/other/_tag/1.0.0", this->sample_tree(), alice);
  ASSERT_EQ(this->put("/alice/secret/_grants/users/writer", grant_body("write"), "application/json", alice, false).status, 201);

  auto r = this->put("/alice/secret/_grants/users/bob", grant_body("read"), "application/json", writer, false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.code(), "drawbridge.auth.not_owner");
  EXPECT_EQ(this->call(net::Method::Delete, "/alice/secret/_grants/users/writer", {}, bearer(writer)).code(),
            "drawbridge.auth.not_owner");
  EXPECT_EQ(this->get("/alice/secret/_grants", writer).status, 404);
  EXPECT_EQ(this->get("/alice/secret", writer).status, 404);  // the repository config
  EXPECT_EQ(this->put("/alice/secret", repo_to_json({true}), "application/json", writer).code(),
            "drawbridge.auth.not_owner");
  EXPECT_EQ(this->call(net::Method::Put, "/alice/_groups/mine", {}, bearer(writer)).code(), "drawbridge.auth.not_owner");
  // Another repository of the same owner is not shared.
  EXPECT_EQ(this->get("/alice/other/_tag", writer).status, 404);
  auto tree = this->sample_tree("x");
  EXPECT_EQ(this->put("/alice/other/_tag/2.0.0", entry_to_json(tree.root()), std::string(kEntryType), writer).code(),
            "drawbridge.auth.not_owner");
  // The same subject from the other issuer is not the grantee.
  EXPECT_EQ(this->get("/alice/secret/_tag", this->idp_token("writer")).status, 404);
  // A token without read:drawbridge_repositories reads nothing private, grant or not.
  EXPECT_EQ(this->get("/alice/secret/_tag", this->token("writer", {"write:drawbridge_tags"})).status, 404);
  // The owner sees the grants.
  auto grants = this->get("/alice/secret/_grants", alice);
  ASSERT_EQ(grants.status, 200);
  EXPECT_EQ(grants.body, R"({"groups":{},"users":{"writer":"write"}})");
  EXPECT_EQ(this->get("/alice/secret/_grants/users/writer", alice).body, R"({"access":"write"})");
}

// Grant and group routes refuse bad input with stable codes, and tell outsiders nothing:
// a missing user or repository and a private one answer alike.
TYPED_TEST(RegistryHttp, SharingRoutesRefuseBadInputAndTellNothing) {
  auto alice = this->token("alice"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "secret", false, alice);
  auto code = [&](net::Method m, const std::string& path, const std::string& body, const std::string& t) {
    net::Headers h = bearer(t);
    if (!body.empty()) h.set("Content-Type", "application/json");
    auto r = this->call(m, path, body, h);
    return std::to_string(r.status) + " " + r.code();
  };
  const auto grant = "/alice/secret/_grants/users/bob";
  EXPECT_EQ(code(net::Method::Put, grant, R"({"access":"admin"})", alice), "400 drawbridge.share.invalid");
  EXPECT_EQ(code(net::Method::Put, grant, R"({"access":"read","x":1})", alice), "400 drawbridge.share.invalid");
  EXPECT_EQ(code(net::Method::Put, grant, R"({"access":["read"]})", alice), "400 drawbridge.share.invalid");
  EXPECT_EQ(code(net::Method::Put, grant, "{", alice), "400 drawbridge.json.invalid");
  EXPECT_EQ(code(net::Method::Put, grant, std::string(1000, '[') + std::string(1000, ']'), alice),
            "400 drawbridge.share.invalid");
  EXPECT_EQ(code(net::Method::Put, "/alice/secret/_grants/users/ghost", grant_body("read"), alice),
            "404 drawbridge.share.no_user");
  EXPECT_EQ(code(net::Method::Put, "/alice/secret/_grants/users/alice", grant_body("read"), alice),
            "400 drawbridge.share.owner");
  EXPECT_EQ(code(net::Method::Put, "/alice/secret/_grants/groups/team", grant_body("read"), alice),
            "404 drawbridge.share.no_group");
  EXPECT_EQ(code(net::Method::Put, "/alice/nothere/_grants/users/bob", grant_body("read"), alice),
            "404 drawbridge.not_found");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/bad_name", "", alice), "400 drawbridge.name.group");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/team/members/ghost", "", alice), "404 drawbridge.share.no_group");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/team", "", alice), "201 ");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/team", "", alice), "409 drawbridge.already_exists");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/team/members/ghost", "", alice), "404 drawbridge.share.no_user");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/team/members/bob", "", alice), "201 ");
  EXPECT_EQ(code(net::Method::Put, "/alice/_groups/team/members/bob", "", alice), "200 ");
  EXPECT_EQ(code(net::Method::Delete, "/alice/_groups/team/members/alice", "", alice), "404 drawbridge.not_found");
  EXPECT_EQ(code(net::Method::Delete, "/alice/secret/_grants/users/bob", "", alice), "404 drawbridge.not_found");
  EXPECT_EQ(code(net::Method::Delete, "/alice/secret/_grants", "", alice), "405 http.method_not_allowed");
  EXPECT_EQ(code(net::Method::Delete, "/alice/secret/_steward", "", alice), "405 http.method_not_allowed");
  EXPECT_EQ(this->get("/alice/_groups", alice).body, R"(["team"])");
  EXPECT_EQ(this->get("/alice/_groups/team", alice).body, R"({"members":["bob"]})");
  // Anonymous: the token is required before anything else.
  EXPECT_EQ(code(net::Method::Put, grant, grant_body("read"), ""), "401 drawbridge.auth.missing_token");
  EXPECT_EQ(code(net::Method::Delete, "/alice/_groups/team", "", ""), "401 drawbridge.auth.missing_token");

  // Outsiders (bob is even a member of alice's team): every read spelling answers alike.
  for (const auto& t : {bob, std::string()}) {
    for (const auto& spellings : std::vector<std::vector<std::string>>{
             {"/alice/secret/_grants", "/alice/nothere/_grants", "/ghost/secret/_grants"},
             {"/alice/secret/_grants/users/bob", "/alice/nothere/_grants/users/bob", "/ghost/x/_grants/users/bob"},
             {"/alice/_groups", "/ghost/_groups"},
             {"/alice/_groups/team", "/alice/_groups/nothere", "/ghost/_groups/team"},
             {"/alice/_groups/team/members/bob", "/ghost/_groups/team/members/bob"}}) {
      auto first = this->get(spellings[0], t);
      EXPECT_TRUE(first.status == 404 || first.status == 401) << spellings[0] << " " << first.status;
      for (std::size_t i = 1; i < spellings.size(); ++i) {
        auto other = this->get(spellings[i], t);
        EXPECT_EQ(other.status, first.status) << spellings[i];
        EXPECT_EQ(other.body, first.body) << spellings[i];
      }
    }
    if (t.empty()) continue;
    // Writes: 401 not_owner whether the repository or group exists or not.
    EXPECT_EQ(code(net::Method::Put, "/alice/secret/_grants/users/bob", grant_body("read"), t),
              code(net::Method::Put, "/alice/nothere/_grants/users/bob", grant_body("read"), t));
    EXPECT_EQ(code(net::Method::Delete, "/alice/_groups/team", "", t),
              code(net::Method::Delete, "/alice/_groups/nothere", "", t));
  }
}

// Sharing routes are judged from their header like every upload: an outsider's or an
// oversized grant body is answered without being read, and group/member PUTs take no body.
TYPED_TEST(RegistryHttp, SharingBodiesAreRefusedBeforeTheBody) {
  auto alice = this->token("alice"), mallory = this->token("mallory");
  this->make_user("alice", alice);
  this->make_user("mallory", mallory);
  this->make_repo("alice", "secret", false, alice);
  struct Case {
    std::string name, path, token;
    std::uint64_t length;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"anonymous grant", "/alice/secret/_grants/users/mallory", "", 1000, 401, "drawbridge.auth.missing_token"},
      {"outsider's grant", "/alice/secret/_grants/users/mallory", mallory, 1000, 401, "drawbridge.auth.not_owner"},
      {"grant over max_json_size", "/alice/secret/_grants/users/mallory", alice, 2u << 20, 413,
       "drawbridge.body_too_large"},
      {"group with a body", "/alice/_groups/team", alice, 1000, 413, "http.body_too_large"},
      {"outsider's group", "/alice/_groups/team", mallory, 1000, 401, "drawbridge.auth.not_owner"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto silent = this->put_header(c.path, c.length, "application/json", c.token);
    silent->read_response(std::chrono::seconds(5));
    EXPECT_EQ(silent->status(), c.status) << silent->received();
    Result r;
    r.body = silent->received().substr(std::min(silent->received().size(), silent->received().find("\r\n\r\n") + 4));
    EXPECT_EQ(r.code(), c.code) << silent->received();
    EXPECT_TRUE(silent->wait_closed(std::chrono::seconds(5))) << "the connection stays open for the body";
  }
  EXPECT_EQ(this->get("/alice/_groups", alice).body, "[]");
}

// ---- read cache (docs/drawbridge.md "Read cache") ----

namespace {
double cache_lookups(net::HttpServer& http, const std::string& result) {
  return http.metrics().counter("drawbridge_read_cache_lookups_total", "", {"result"}).value({result});
}
// An answer's headers without the per-request id, to compare a cached answer with a stored one.
std::vector<std::pair<std::string, std::string>> stable_headers(const net::Headers& h) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : h.items())
    if (!net::iequals(k, "X-Request-Id") && !net::iequals(k, "Date")) out.emplace_back(k, v);
  return out;
}
}  // namespace

TYPED_TEST(RegistryHttp, ReadCacheAnswersAsTheStoreDoes) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  this->upload("/alice/app/_tag/1.0.0", tree, alice);
  std::vector<std::string> paths = {"/alice/app/_tag/1.0.0", "/alice/app/_tag"};
  for (const auto& n : tree.nodes) paths.push_back("/alice/app/_tag/1.0.0/tree/" + n.path);
  for (const auto& p : paths) {
    SCOPED_TRACE(p);
    const double hits = cache_lookups(*this->http, "hit");
    auto first = this->get(p), second = this->get(p);
    auto head = this->call(net::Method::Head, p);
    ASSERT_EQ(first.status, 200);
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.body, first.body);
    EXPECT_EQ(stable_headers(second.headers), stable_headers(first.headers));
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(head.headers.get("Content-Length"), first.headers.get("Content-Length"));
    // main.wasm (100 kB) is over the cache's file size and is streamed every time.
    const bool small = first.body.size() <= ReadCacheOptions{}.max_file_size;
    EXPECT_EQ(cache_lookups(*this->http, "hit") - hits, small ? 2 : 0);
  }
}

TYPED_TEST(RegistryHttp, ReadCacheNeverServesPrivateOrStaleAnswers) {
  auto alice = this->token("alice"), mallory = this->token("mallory");
  this->make_user("alice", alice);
  this->make_user("mallory", mallory);
  this->make_repo("alice", "secret", false, alice);
  this->make_repo("alice", "app", true, alice);
  this->upload("/alice/secret/_tag/1.0.0", this->sample_tree(), alice);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);

  // A private repository's answers are never kept: the owner reads, then others still cannot.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(this->get("/alice/secret/_tag/1.0.0", alice).status, 200);
    EXPECT_EQ(this->get("/alice/secret/_tag", alice).status, 200);
    EXPECT_EQ(this->get("/alice/secret/_tag/1.0.0/tree/Enarx.toml", alice).status, 200);
  }
  EXPECT_EQ(this->get("/alice/secret/_tag/1.0.0").status, 404);
  EXPECT_EQ(this->get("/alice/secret/_tag").status, 404);
  EXPECT_EQ(this->get("/alice/secret/_tag/1.0.0/tree/Enarx.toml").status, 404);
  EXPECT_EQ(this->get("/alice/secret/_tag/1.0.0", mallory).status, 404);
  EXPECT_EQ(cache_lookups(*this->http, "hit"), 0);

  // A warm tag list shows a tag completed after it was cached, at once.
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0"])");
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0"])");
  EXPECT_GE(cache_lookups(*this->http, "hit"), 1);
  this->upload("/alice/app/_tag/1.1.0", this->sample_tree("b"), alice);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0","1.1.0"])");

  // A bearer token is verified on every request, cached answer or not.
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0").status, 200);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0", "not-a-token").status, 401);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0", alice).status, 200);
}

TYPED_TEST(RegistryHttp, ReadCacheHitsAreRateLimited) {
  this->tune = [](RegistryOptions& ro) {
    ro.lookup_rate = 0.001;
    ro.lookup_burst = 4;
  };
  this->start();
  auto alice = this->token("alice");
  this->make_user("alice", alice);  // writes are not lookups
  this->make_repo("alice", "app", true, alice);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);
  std::vector<int> statuses;
  for (int i = 0; i < 6; ++i) statuses.push_back(this->get("/alice/app/_tag/1.0.0").status);
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 200, 429, 429}));
  EXPECT_GE(cache_lookups(*this->http, "hit"), 3);  // the refusals were cache hits
  // Tree nodes are not lookups (a deploy fetches many): not limited, cached or not.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/tree/Enarx.toml").status, 200);
}

TYPED_TEST(RegistryHttp, ReadCacheOffServesFromTheStore) {
  this->tune = [](RegistryOptions& ro) { ro.read_cache.ttl = std::chrono::milliseconds(0); };
  this->start();
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(this->get("/alice/app/_tag/1.0.0").status, 200);
  EXPECT_EQ(cache_lookups(*this->http, "hit") + cache_lookups(*this->http, "miss"), 0);
}

TYPED_TEST(RegistryHttp, ReadCacheForgetsYankedAndDeletedTagsAtOnce) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);
  this->upload("/alice/app/_tag/1.1.0", this->sample_tree("b"), alice);
  const auto warm = [&] {
    for (int i = 0; i < 2; ++i) {
      this->get("/alice/app/_tag");
      this->get("/alice/app/_tag/1.1.0");
      this->get("/alice/app/_tag/1.1.0/tree/Enarx.toml");
    }
  };
  warm();
  const double hits = cache_lookups(*this->http, "hit");
  EXPECT_GE(hits, 3);
  net::Headers auth;
  auth.set("Authorization", "Bearer " + alice);
  // Yanked: gone from the (cached) list at once, still fetchable by name.
  ASSERT_EQ(this->call(net::Method::Put, "/alice/app/_tag/1.1.0/_yank", {}, auth).status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0"])");
  EXPECT_EQ(this->get("/alice/app/_tag/1.1.0").status, 200);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/1.1.0/_yank", {}, auth).status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0","1.1.0"])");
  // Deleted: no cached answer of it is served, not even a moment later.
  warm();
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/1.1.0", {}, auth).status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag/1.1.0").status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag/1.1.0/tree/Enarx.toml").status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0"])");
  // A whole repository.
  warm();
  this->get("/alice/app/_tag/1.0.0");
  this->get("/alice/app/_tag/1.0.0");
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app", {}, auth).status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0").status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag").status, 404);
}

// Two replicas on one PostgreSQL database, each with its read cache (ttl one minute): what one
// completes, yanks or deletes, the other stops serving from its cache within moments (the
// store's change feed: LISTEN/NOTIFY), not after the ttl. Before the feed, replica B kept
// answering the deleted tag with 200 for the whole ttl.
TYPED_TEST(RegistryHttp, AnotherReplicasChangesReachTheReadCacheAtOnce) {
  if (!TypeParam::kPg) GTEST_SKIP() << "replicas share a PostgreSQL database";
  this->tune = [](RegistryOptions& ro) { ro.read_cache.ttl = std::chrono::minutes(1); };
  this->start();
  std::unique_ptr<Registry> registry_b;
  std::unique_ptr<net::HttpServer> http_b;
  this->serve(this->backend.open(), {}, registry_b, http_b);
  const std::string base_a = this->base;
  const std::string base_b = "https://127.0.0.1:" + std::to_string(http_b->port()) + "/api/v0.1.0";
  const auto get_b = [&](const std::string& path) {
    this->base = base_b;
    auto r = this->get(path);
    this->base = base_a;
    return r;
  };
  // Within a few seconds (the feed is immediate; the bound is for a loaded machine).
  const auto b_answers = [&](const std::string& path, const std::function<bool(const Result&)>& want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    do {
      if (want(get_b(path))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < until);
    return false;
  };
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(get_b("/alice/app/_tag").body, R"(["1.0.0"])");
    ASSERT_EQ(get_b("/alice/app/_tag/1.0.0").status, 200);
  }
  EXPECT_GE(cache_lookups(*http_b, "hit"), 2) << "replica B did not cache";
  net::Headers auth;
  auth.set("Authorization", "Bearer " + alice);
  // A tag completed on A appears in B's cached list.
  this->upload("/alice/app/_tag/1.1.0", this->sample_tree("b"), alice);
  EXPECT_TRUE(b_answers("/alice/app/_tag", [](const Result& r) { return r.body == R"(["1.0.0","1.1.0"])"; }));
  // Yanked on A: gone from B's list.
  get_b("/alice/app/_tag");
  ASSERT_EQ(this->call(net::Method::Put, "/alice/app/_tag/1.1.0/_yank", {}, auth).status, 204);
  EXPECT_TRUE(b_answers("/alice/app/_tag", [](const Result& r) { return r.body == R"(["1.0.0"])"; }));
  // Deleted on A: B stops serving the tag it had cached.
  get_b("/alice/app/_tag/1.0.0");
  const double hits = cache_lookups(*http_b, "hit");
  ASSERT_EQ(get_b("/alice/app/_tag/1.0.0").status, 200);
  EXPECT_GT(cache_lookups(*http_b, "hit"), hits) << "the tag was not answered from B's cache";
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/1.0.0", {}, auth).status, 204);
  EXPECT_TRUE(b_answers("/alice/app/_tag/1.0.0", [](const Result& r) { return r.status == 404; }))
      << "replica B still serves a tag deleted on replica A";
  http_b->stop();
}

// ---- yank, delete, registry audit log, quotas (docs/drawbridge.md "Yank and delete",
// "Registry audit log", "Quotas") ----

namespace {

// Status and error code: what must not differ between an existing and a missing name.
std::string status_and_code(const Result& r) { return std::to_string(r.status) + " " + r.code(); }

}  // namespace

// Yank: the tag leaves the list but its tag and tree GETs keep working; un-yank brings it back.
// The owner and writers may yank, readers and outsiders not; only the owner deletes. A deleted
// tag's name is refused from then on; a non-owner gets the same answer for a repository or tag
// that exists as for one that does not.
TYPED_TEST(RegistryHttp, YankAndDelete) {
  std::map<std::string, std::string> tok;
  for (const char* name : {"alice", "writer", "reader", "mallory"}) {
    tok[name] = this->token(name);
    this->make_user(name, tok[name]);
  }
  const auto& alice = tok["alice"];
  this->make_repo("alice", "app", true, alice);
  auto tree = this->sample_tree();
  this->upload("/alice/app/_tag/1.0.0", tree, alice);
  this->upload("/alice/app/_tag/2.0.0", this->sample_tree("2"), alice);
  ASSERT_EQ(this->put("/alice/app/_grants/users/writer", grant_body("write"), "application/json", alice, false).status, 201);
  ASSERT_EQ(this->put("/alice/app/_grants/users/reader", grant_body("read"), "application/json", alice, false).status, 201);
  auto act = [&](net::Method m, const std::string& path, const std::string& who) {
    return this->call(m, path, {}, bearer(who.empty() ? std::string() : tok[who]));
  };

  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/_yank").body, R"({"yanked":false})");
  EXPECT_EQ(act(net::Method::Put, "/alice/app/_tag/1.0.0/_yank", "alice").status, 204);
  EXPECT_EQ(act(net::Method::Put, "/alice/app/_tag/1.0.0/_yank", "alice").status, 204);  // idempotent
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["2.0.0"])");
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/_yank").body, R"({"yanked":true})");
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0").status, 200);  // deployments pinned to it still work
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/tree/main.wasm").status, 200);
  EXPECT_EQ(act(net::Method::Delete, "/alice/app/_tag/1.0.0/_yank", "writer").status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0","2.0.0"])");
  EXPECT_EQ(act(net::Method::Put, "/alice/app/_tag/2.0.0/_yank", "writer").status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0"])");
  EXPECT_EQ(act(net::Method::Delete, "/alice/app/_tag/2.0.0/_yank", "alice").status, 204);
  EXPECT_EQ(status_and_code(act(net::Method::Put, "/alice/app/_tag/1.0.0/_yank", "reader")), "403 drawbridge.auth.read_only");
  EXPECT_EQ(status_and_code(act(net::Method::Put, "/alice/app/_tag/9.9.9/_yank", "alice")), "404 drawbridge.not_found");
  // A yank takes no body.
  net::Headers with_body = bearer(alice);
  with_body.set("Content-Type", "application/json");
  EXPECT_EQ(this->call(net::Method::Put, "/alice/app/_tag/1.0.0/_yank", "{}", with_body).status, 413);

  // Outsiders: the same answer whether the repository or tag exists or not, for every route.
  for (const std::string who : {"", "mallory", "reader", "writer"}) {
    SCOPED_TRACE(who.empty() ? std::string("anonymous") : who);
    for (auto m : {net::Method::Delete}) {
      const auto repo = status_and_code(act(m, "/alice/app", who));
      EXPECT_EQ(status_and_code(act(m, "/alice/ghost", who)), repo);
      EXPECT_NE(repo.substr(0, 3), "204");
      const auto tag = status_and_code(act(m, "/alice/app/_tag/1.0.0", who));
      EXPECT_EQ(status_and_code(act(m, "/alice/app/_tag/9.9.9", who)), tag);
      EXPECT_EQ(status_and_code(act(m, "/alice/ghost/_tag/1.0.0", who)), tag);
      EXPECT_NE(tag.substr(0, 3), "204");
    }
    if (who == "reader" || who == "writer") continue;
    const auto yank = status_and_code(act(net::Method::Put, "/alice/app/_tag/1.0.0/_yank", who));
    EXPECT_EQ(status_and_code(act(net::Method::Put, "/alice/ghost/_tag/1.0.0/_yank", who)), yank);
    EXPECT_EQ(status_and_code(act(net::Method::Put, "/alice/app/_tag/9.9.9/_yank", who)), yank);
  }
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["1.0.0","2.0.0"])");

  // The owner deletes a tag: gone, and its name may not be published again.
  EXPECT_EQ(act(net::Method::Delete, "/alice/app/_tag/1.0.0", "alice").status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0").status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag/1.0.0/tree/main.wasm").status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag").body, R"(["2.0.0"])");
  EXPECT_EQ(act(net::Method::Delete, "/alice/app/_tag/1.0.0", "alice").status, 404);
  auto again = this->put("/alice/app/_tag/1.0.0", entry_to_json(tree.root()), std::string(kEntryType), alice);
  EXPECT_EQ(status_and_code(again), "409 drawbridge.tag.deleted");
  // A pending tag is deleted too (its name stays free).
  ASSERT_EQ(this->put("/alice/app/_tag/3.0.0", entry_to_json(tree.root()), std::string(kEntryType), alice).status, 201);
  EXPECT_EQ(act(net::Method::Delete, "/alice/app/_tag/3.0.0", "alice").status, 204);
  EXPECT_EQ(this->put("/alice/app/_tag/3.0.0", entry_to_json(tree.root()), std::string(kEntryType), alice).status, 201);

  // The owner deletes the repository: config, tags and grants go.
  EXPECT_EQ(act(net::Method::Delete, "/alice/app", "alice").status, 204);
  EXPECT_EQ(this->get("/alice/app/_tag").status, 404);
  EXPECT_EQ(this->get("/alice/app", alice).status, 404);
  EXPECT_EQ(this->get("/alice/_repos", alice).body, "[]");
  EXPECT_EQ(act(net::Method::Delete, "/alice/app", "alice").status, 404);
  this->make_repo("alice", "app", true, alice);
  EXPECT_EQ(this->get("/alice/app/_grants", alice).body, R"({"groups":{},"users":{}})");
  EXPECT_EQ(status_and_code(this->put("/alice/app/_tag/2.0.0", entry_to_json(tree.root()), std::string(kEntryType), alice)),
            "409 drawbridge.tag.deleted");
}

// The owner reads their repositories' events, in pages; nobody else tells it from a missing user.
TYPED_TEST(RegistryHttp, AuditLogRoute) {
  auto alice = this->token("alice"), bob = this->token("bob");
  this->make_user("alice", alice);
  this->make_user("bob", bob);
  this->make_repo("alice", "app", false, alice);
  this->make_repo("bob", "other", false, bob);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);
  ASSERT_EQ(this->put("/alice/app/_grants/users/bob", grant_body("read"), "application/json", alice, false).status, 201);
  ASSERT_EQ(this->call(net::Method::Put, "/alice/app/_tag/1.0.0/_yank", {}, bearer(alice)).status, 204);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/1.0.0/_yank", {}, bearer(alice)).status, 204);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/1.0.0", {}, bearer(alice)).status, 204);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app", {}, bearer(alice)).status, 204);

  auto r = this->get("/alice/_audit", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  nlohmann::json j = nlohmann::json::parse(r.body);
  std::vector<std::string> actions;
  for (const auto& e : j["events"]) {
    actions.push_back(e["action"]);
    EXPECT_EQ(e["user"], "alice");
    EXPECT_EQ(e["actor"]["subject"], "alice");
    EXPECT_EQ(e["actor"]["issuer"], "test-issuer");
    EXPECT_EQ(e["at"].get<std::string>().size(), 20u);  // YYYY-MM-DDTHH:MM:SSZ
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"repo_create", "publish", "grant", "yank", "unyank", "delete_tag",
                                               "delete_repo"}));
  EXPECT_EQ(j["events"][1]["tag"], "1.0.0");
  EXPECT_EQ(j["events"][2]["detail"], "user bob read");
  EXPECT_TRUE(j["next"].is_null());

  // Pages: `next` is the ?after= of the next one.
  std::vector<std::string> paged;
  std::string after = "0";
  for (int pages = 0; pages < 10; ++pages) {
    nlohmann::json p = nlohmann::json::parse(this->get("/alice/_audit?after=" + after + "&limit=3", alice).body);
    for (const auto& e : p["events"]) paged.push_back(e["action"]);
    if (p["next"].is_null()) break;
    EXPECT_EQ(p["events"].size(), 3u);
    after = std::to_string(p["next"].get<std::int64_t>());
  }
  EXPECT_EQ(paged, actions);
  EXPECT_EQ(status_and_code(this->get("/alice/_audit?limit=x", alice)), "400 drawbridge.query.invalid");
  EXPECT_EQ(status_and_code(this->get("/alice/_audit?limit=0", alice)), "400 drawbridge.query.invalid");

  // Bob sees only his own; nobody else tells alice's log from a missing user's.
  nlohmann::json b = nlohmann::json::parse(this->get("/bob/_audit", bob).body);
  ASSERT_EQ(b["events"].size(), 1u);
  EXPECT_EQ(b["events"][0]["action"], "repo_create");
  for (const std::string& who : {std::string(), bob}) {
    for (const std::string route : {"/_audit", "/_usage"}) {
      auto mine = this->get("/alice" + route, who), ghost = this->get("/ghost" + route, who);
      EXPECT_EQ(mine.status, ghost.status) << route;
      EXPECT_EQ(mine.body, ghost.body) << route;
      EXPECT_NE(mine.status, 200) << route;
    }
  }
}

// The audit log records every publish: when its event cannot be written, the tag does not
// complete (before, the publish succeeded and its event was lost with a log line).
TYPED_TEST(RegistryHttp, APublishWhoseAuditEventFailsDoesNotHappen) {
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  this->backend.refuse_audit_events();
  auto tree = this->sample_tree();
  const std::string tag = "/alice/app/_tag/1.0.0";
  ASSERT_EQ(this->put(tag, entry_to_json(tree.root()), std::string(kEntryType), alice).status, 201);
  int last = 0;
  for (const auto& n : tree.nodes)
    last = this->put(tag + "/tree/" + n.path, std::string(n.content.begin(), n.content.end()), n.meta.type, alice).status;
  EXPECT_EQ(last, 500) << "the node completing the tag was accepted without its audit event";
  EXPECT_EQ(this->get(tag).status, 404);
  EXPECT_EQ(this->get("/alice/app/_tag").body, "[]");
  EXPECT_EQ(this->put("/alice/lib", repo_to_json({true}), "application/json", alice, false).status, 500);
  EXPECT_EQ(this->get("/alice/lib", alice).status, 404);
}

// Attack: two uploads that each fit the owner's byte quota, but not both, sent at once. Both
// pass the header check (neither has committed yet); the store's hook holds each until the other
// has got as far, so neither has committed when the other is decided. One is stored, the other
// refused 403 drawbridge.quota.bytes. When the handler checked usage just before the store's
// transaction, both were stored and the owner ended past the quota. Then tags: four new tags
// at once with room for one.
TYPED_TEST(RegistryHttp, UploadsSentAtOnceCannotTogetherExceedAQuota) {
  constexpr std::size_t kFile = 40000;
  std::vector<Tree> trees;
  std::uint64_t directories = 0;
  for (int i = 0; i < 2; ++i) {
    trees.push_back(build_tree_from_files({{"main.wasm", {Bytes(kFile, static_cast<std::uint8_t>('a' + i)), "application/wasm"}}}));
    directories += trees.back().root().meta.length;
  }
  this->max_bytes_per_user = directories + kFile;  // both root directories and one of the files
  this->max_tags_per_user = 3;
  this->start();
  auto alice = this->token("alice");
  this->make_user("alice", alice);
  this->make_repo("alice", "app", true, alice);
  for (int i = 0; i < 2; ++i) {
    const std::string prefix = "/alice/app/_tag/1.0." + std::to_string(i);
    ASSERT_EQ(this->put(prefix, entry_to_json(trees[i].root()), std::string(kEntryType), alice).status, 201);
    for (const auto& n : trees[i].nodes) {
      if (n.path.empty()) {
        ASSERT_EQ(this->put(prefix + "/tree/", std::string(n.content.begin(), n.content.end()), n.meta.type, alice).status, 201);
      }
    }
  }

  enarx::test::Rendezvous both_checked(2, std::chrono::seconds(10));
  this->store->set_test_hooks({.before_node_reference = [&](std::string_view) { both_checked.arrive_and_wait(); }});
  std::vector<Result> answers(2);
  {
    std::vector<std::thread> senders;
    for (int i = 0; i < 2; ++i)
      senders.emplace_back([&, i] {
        const auto& file = trees[i].nodes[trees[i].nodes[0].path.empty() ? 1 : 0];
        answers[i] = this->put("/alice/app/_tag/1.0." + std::to_string(i) + "/tree/main.wasm",
                               std::string(file.content.begin(), file.content.end()), file.meta.type, alice);
      });
    for (auto& t : senders) t.join();
  }
  this->store->set_test_hooks({});
  EXPECT_TRUE(both_checked.all_met()) << "the uploads did not race: both should pass the header check together";
  std::multiset<int> statuses{answers[0].status, answers[1].status};
  EXPECT_EQ(statuses, (std::multiset<int>{201, 403})) << answers[0].body << " / " << answers[1].body;
  for (const auto& a : answers) {
    if (a.status == 403) {
      EXPECT_EQ(a.code(), "drawbridge.quota.bytes") << a.body;
    }
  }
  nlohmann::json usage = nlohmann::json::parse(this->get("/alice/_usage", alice).body);
  EXPECT_EQ(usage["bytes"].get<std::uint64_t>(), directories + kFile) << "the owner ended past the byte quota";

  std::vector<Result> tag_answers(4);
  {
    std::vector<std::thread> senders;
    for (int i = 0; i < 4; ++i)
      senders.emplace_back([&, i] {
        tag_answers[i] = this->put("/alice/app/_tag/2.0." + std::to_string(i), entry_to_json(trees[0].root()),
                                   std::string(kEntryType), alice);
      });
    for (auto& t : senders) t.join();
  }
  int tags_created = 0;
  for (const auto& a : tag_answers) {
    tags_created += a.status == 201;
    if (a.status != 201) {
      EXPECT_EQ(a.code(), "drawbridge.quota.tags") << a.status << " " << a.body;
    }
  }
  EXPECT_EQ(tags_created, 1);
  usage = nlohmann::json::parse(this->get("/alice/_usage", alice).body);
  EXPECT_EQ(usage["tags"], 3);
}

// Quotas are charged to the owner and refused from the header alone: a node over the byte
// quota and a tag over the tag quota get 403 before any of the body is read; deleting frees
// quota; GET <user>/_usage tells the owner where they stand.
TYPED_TEST(RegistryHttp, QuotasAreRefusedBeforeTheBody) {
  this->max_bytes_per_user = 1u << 20;
  this->max_tags_per_user = 2;
  this->start();
  auto alice = this->token("alice"), writer = this->token("writer");
  this->make_user("alice", alice);
  this->make_user("writer", writer);
  this->make_repo("alice", "app", false, alice);
  ASSERT_EQ(this->put("/alice/app/_grants/users/writer", grant_body("write"), "application/json", alice, false).status, 201);
  this->upload("/alice/app/_tag/1.0.0", this->sample_tree(), alice);
  nlohmann::json usage = nlohmann::json::parse(this->get("/alice/_usage", alice).body);
  const auto used = usage["bytes"].get<std::uint64_t>();
  EXPECT_GT(used, 100000u);
  EXPECT_LT(used, 110000u);
  EXPECT_EQ(usage["tags"], 1);
  EXPECT_EQ(usage["max_bytes"], 1u << 20);
  EXPECT_EQ(usage["max_tags"], 2);

  constexpr std::uint64_t kLength = 6u << 20;  // under max_blob_size, over the quota
  this->expect_file("/alice/app/_tag/2.0.0", "big.wasm", kLength, alice);
  const std::string digest = ContentDigest::compute(to_bytes("stand-in")).to_header();
  struct Case {
    std::string name, path, type, token;
    std::uint64_t length;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"node over the byte quota", "/alice/app/_tag/2.0.0/tree/big.wasm", "application/wasm", alice, kLength,
       "drawbridge.quota.bytes"},
      {"a writer's node, charged to the owner", "/alice/app/_tag/2.0.0/tree/big.wasm", "application/wasm", writer,
       kLength, "drawbridge.quota.bytes"},
      {"tag over the tag quota", "/alice/app/_tag/3.0.0", std::string(kEntryType), alice, 1000,
       "drawbridge.quota.tags"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto silent = this->put_header(c.path, c.length, c.type, c.token, digest);
    silent->read_response(std::chrono::seconds(5));
    EXPECT_EQ(silent->status(), 403) << silent->received();
    Result r;
    r.body = silent->received().substr(std::min(silent->received().size(), silent->received().find("\r\n\r\n") + 4));
    EXPECT_EQ(r.code(), c.code) << silent->received();
    EXPECT_NE(r.body.find(std::to_string(c.code == "drawbridge.quota.tags" ? 2u : 1u << 20)), std::string::npos)
        << "the message names the limit: " << r.body;
    EXPECT_TRUE(silent->wait_closed(std::chrono::seconds(5))) << "the connection stays open for the body";
    if (c.length < (4u << 20)) continue;
    auto pushy = this->put_header(c.path, c.length, c.type, c.token, digest);
    pushy->limit_send_buffer(64 << 10);
    pushy->send_filler_until_answered(c.length, std::chrono::seconds(20));
    pushy->read_response(std::chrono::seconds(5));
    EXPECT_EQ(pushy->status(), 403);
    EXPECT_LT(pushy->body_sent(), 2u << 20) << "the body was read before the answer";
  }
  // Re-sending a pending tag is not a new tag.
  const Directory dir{{"big.wasm", Entry{Meta{ContentDigest::compute(to_bytes("stand-in")), kLength, "application/wasm"}, {}}}};
  const auto root = entry_to_json(Entry{Meta::of(as_bytes(directory_to_json(dir)), std::string(kDirectoryType)), {}});
  EXPECT_EQ(this->put("/alice/app/_tag/2.0.0", root, std::string(kEntryType), alice).status, 200);
  // Deleting frees quota: a tag, then bytes.
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/2.0.0", {}, bearer(alice)).status, 204);
  EXPECT_EQ(this->put("/alice/app/_tag/3.0.0", root, std::string(kEntryType), alice).status, 201);
  ASSERT_EQ(this->call(net::Method::Delete, "/alice/app/_tag/1.0.0", {}, bearer(alice)).status, 204);
  usage = nlohmann::json::parse(this->get("/alice/_usage", alice).body);
  EXPECT_EQ(usage["bytes"], 0);
  EXPECT_EQ(usage["tags"], 1);
  // Another user's quota is their own.
  auto bob = this->token("bob");
  this->make_user("bob", bob);
  this->make_repo("bob", "app", true, bob);
  this->upload("/bob/app/_tag/1.0.0", this->sample_tree(), bob);
}
