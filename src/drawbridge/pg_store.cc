// PostgreSQL store: metadata and blobs (bytea) in one database, so several drawbridge instances
// can serve one registry. Every mutation is one transaction; node uploads lock their tag row
// (SELECT … FOR UPDATE) so the "missing" counter and the completion flip are serialized across
// instances.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include <pqxx/pqxx>

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "drawbridge/store.h"

namespace enarx::drawbridge {
namespace {

using Conn = pqxx::connection;

class Pool {
 public:
  Pool(std::string conninfo, int size) : conninfo_(std::move(conninfo)), free_slots_(size) {}

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Conn> c) : pool_(pool), conn_(std::move(c)) {}
    ~Lease() { pool_.give_back(std::move(conn_), broken_); }
    Conn& operator*() { return *conn_; }
    void mark_broken() { broken_ = true; }

   private:
    Pool& pool_;
    std::unique_ptr<Conn> conn_;
    bool broken_ = false;
  };

  std::unique_ptr<Conn> take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || free_slots_ > 0; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.front());
      idle_.pop_front();
      return c;
    }
    --free_slots_;
    lock.unlock();
    try {
      return std::make_unique<Conn>(conninfo_);
    } catch (const std::exception& e) {
      std::lock_guard relock(mu_);
      ++free_slots_;
      cv_.notify_one();
      throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL connection failed: ") + e.what());
    }
  }

  void give_back(std::unique_ptr<Conn> c, bool broken) {
    std::lock_guard lock(mu_);
    if (broken || !c || !c->is_open()) ++free_slots_;
    else idle_.push_back(std::move(c));
    cv_.notify_one();
  }

 private:
  std::string conninfo_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Conn>> idle_;
  int free_slots_;
};

pqxx::binarystring bin(ByteView v) { return pqxx::binarystring(v.data(), v.size()); }
Bytes bytes_of(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}
std::string str(std::string_view s) { return std::string(s); }

// A counting semaphore (std::counting_semaphore needs a compile-time maximum).
class Slots {
 public:
  explicit Slots(int n) : free_(n) {}
  void acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void release() {
    std::lock_guard lock(mu_);
    ++free_;
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;
};

class PgStore final : public Store {
 public:
  PgStore(std::string conninfo, int pool_size, std::filesystem::path spool_dir, bool own_spool_dir)
      : pool_(conninfo, pool_size), conninfo_(std::move(conninfo)), spool_dir_(std::move(spool_dir)) {
    std::error_code ec;
    std::filesystem::create_directories(spool_dir_, ec);
    // Spool files of an earlier run that died mid-upload (not in a shared temp directory, where
    // they may be another instance's uploads in flight).
    if (own_spool_dir) {
      for (const auto& e : std::filesystem::directory_iterator(spool_dir_, ec)) {
        if (e.path().filename().string().rfind("spool.", 0) == 0) std::filesystem::remove(e.path(), ec);
      }
    }
    run([](pqxx::work& w) {
      w.exec("SELECT pg_advisory_xact_lock(7273120)");
      w.exec(R"sql(
        CREATE TABLE IF NOT EXISTS drawbridge_users(
          name TEXT PRIMARY KEY, meta TEXT NOT NULL, content BYTEA NOT NULL, subject TEXT NOT NULL,
          issuer TEXT);
        CREATE TABLE IF NOT EXISTS drawbridge_repos(
          usr TEXT NOT NULL REFERENCES drawbridge_users(name), name TEXT NOT NULL,
          meta TEXT NOT NULL, content BYTEA NOT NULL, public BOOLEAN NOT NULL,
          PRIMARY KEY(usr, name));
        CREATE TABLE IF NOT EXISTS drawbridge_tags(
          id BIGSERIAL PRIMARY KEY, usr TEXT NOT NULL, repo TEXT NOT NULL, name TEXT NOT NULL,
          meta TEXT NOT NULL, content BYTEA NOT NULL, complete BOOLEAN NOT NULL,
          missing BIGINT NOT NULL, UNIQUE(usr, repo, name),
          FOREIGN KEY(usr, repo) REFERENCES drawbridge_repos(usr, name));
        CREATE TABLE IF NOT EXISTS drawbridge_nodes(
          tag_id BIGINT NOT NULL REFERENCES drawbridge_tags(id) ON DELETE CASCADE,
          path TEXT NOT NULL, entry TEXT NOT NULL, present BOOLEAN NOT NULL, blob TEXT,
          PRIMARY KEY(tag_id, path));
        CREATE TABLE IF NOT EXISTS drawbridge_blobs(key TEXT PRIMARY KEY, data BYTEA NOT NULL);
      )sql");
      // Migrations of databases created by earlier versions (still under the advisory lock).
      // Existing users keep a NULL issuer: who registered them is unknown (see Registry).
      w.exec("ALTER TABLE drawbridge_users ADD COLUMN IF NOT EXISTS issuer TEXT");
      // Sharing: new tables, created in databases of earlier versions too.
      w.exec(R"sql(
        CREATE TABLE IF NOT EXISTS drawbridge_groups(
          owner TEXT NOT NULL REFERENCES drawbridge_users(name), name TEXT NOT NULL,
          PRIMARY KEY(owner, name));
        CREATE TABLE IF NOT EXISTS drawbridge_group_members(
          owner TEXT NOT NULL, grp TEXT NOT NULL, member TEXT NOT NULL REFERENCES drawbridge_users(name),
          PRIMARY KEY(owner, grp, member),
          FOREIGN KEY(owner, grp) REFERENCES drawbridge_groups(owner, name) ON DELETE CASCADE);
        CREATE TABLE IF NOT EXISTS drawbridge_grants(
          usr TEXT NOT NULL, repo TEXT NOT NULL, kind TEXT NOT NULL CHECK(kind IN ('user', 'group')),
          grantee TEXT NOT NULL, access TEXT NOT NULL CHECK(access IN ('read', 'write')),
          PRIMARY KEY(usr, repo, kind, grantee),
          FOREIGN KEY(usr, repo) REFERENCES drawbridge_repos(usr, name));
        CREATE INDEX IF NOT EXISTS drawbridge_users_by_subject ON drawbridge_users(subject);
      )sql");
      return 0;
    });
    ops_schema();
    migrate_gc();
  }

  PutResult create_user(std::string_view user, std::string_view meta_json, ByteView content,
                        std::string_view issuer, std::string_view subject) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "INSERT INTO drawbridge_users(name, meta, content, subject, issuer) VALUES($1,$2,$3,$4,$5) "
          "ON CONFLICT DO NOTHING",
          str(user), str(meta_json), bin(content), str(subject), str(issuer));
      return r.affected_rows() == 1 ? PutResult::Created : PutResult::Exists;
    });
  }

  std::optional<StoredUser> get_user(std::string_view user) override {
    return run([&](pqxx::work& w) -> std::optional<StoredUser> {
      auto r = w.exec_params("SELECT meta, content, subject, issuer FROM drawbridge_users WHERE name = $1",
                             str(user));
      if (r.empty()) return std::nullopt;
      return StoredUser{r[0][0].as<std::string>(), bytes_of(r[0][1]), r[0][2].as<std::string>(),
                        r[0][3].is_null() ? std::nullopt : std::optional(r[0][3].as<std::string>())};
    });
  }

  PutResult create_repo(std::string_view user, std::string_view repo, std::string_view meta_json,
                        ByteView content, bool is_public, const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto u = w.exec_params("SELECT 1 FROM drawbridge_users WHERE name = $1 FOR SHARE", str(user));
      require(!u.empty(), ErrorKind::kInternal, "drawbridge.store.no_user", "user does not exist");
      auto r = w.exec_params(
          "INSERT INTO drawbridge_repos(usr, name, meta, content, public) VALUES($1,$2,$3,$4,$5) "
          "ON CONFLICT DO NOTHING",
          str(user), str(repo), str(meta_json), bin(content), is_public);
      if (r.affected_rows() != 1) return PutResult::Exists;
      if (audit) append(w, *audit);
      return PutResult::Created;
    });
  }

  std::optional<StoredRepo> get_repo(std::string_view user, std::string_view repo) override {
    return run([&](pqxx::work& w) -> std::optional<StoredRepo> {
      auto r = w.exec_params("SELECT meta, content, public FROM drawbridge_repos WHERE usr = $1 AND name = $2",
                             str(user), str(repo));
      if (r.empty()) return std::nullopt;
      return StoredRepo{r[0][0].as<std::string>(), bytes_of(r[0][1]), r[0][2].as<bool>()};
    });
  }

  bool replace_repo_config(std::string_view user, std::string_view repo, std::string_view meta_json,
                           ByteView content) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("UPDATE drawbridge_repos SET meta = $3, content = $4 WHERE usr = $1 AND name = $2",
                             str(user), str(repo), str(meta_json), bin(content));
      return r.affected_rows() == 1;
    });
  }

  std::vector<std::pair<std::string, bool>> list_repos(std::string_view user) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT name, public FROM drawbridge_repos WHERE usr = $1 ORDER BY name COLLATE \"C\"",
                             str(user));
      std::vector<std::pair<std::string, bool>> out;
      for (const auto& row : r) out.emplace_back(row[0].as<std::string>(), row[1].as<bool>());
      return out;
    });
  }

  PutResult put_tag(std::string_view user, std::string_view repo, std::string_view tag,
                    std::string_view meta_json, ByteView content,
                    std::string_view root_entry_json, const QuotaLimits& quota) override {
    return run([&](pqxx::work& w) {
      // Locking the repository row serializes tag creation within it.
      auto r = w.exec_params("SELECT 1 FROM drawbridge_repos WHERE usr = $1 AND name = $2 FOR UPDATE",
                             str(user), str(repo));
      require(!r.empty(), ErrorKind::kInternal, "drawbridge.store.no_repo", "repository does not exist");
      // Under the repository lock delete_tag takes too: a tombstone is seen or not yet written.
      require(!tombstoned(w, user, repo, tag), ErrorKind::kConflict, "drawbridge.tag.deleted",
              "this tag was deleted; its name is not published again");
      // FOR UPDATE: a node upload completing the tag concurrently (it locks the row too) is
      // waited for and its result seen, so a just-completed tag is never resumed or dropped.
      auto t = w.exec_params(
          "SELECT id, complete FROM drawbridge_tags WHERE usr = $1 AND repo = $2 AND name = $3 FOR UPDATE",
          str(user), str(repo), str(tag));
      if (!t.empty()) {
        if (t[0][1].as<bool>()) return PutResult::Exists;
        const auto id = t[0][0].as<std::int64_t>();
        if (auto root = node(w, id, ""); root && root->entry_json == root_entry_json) {
          // Same tree: resume. Replace the tag body (e.g. a fresh signature over the same root).
          w.exec_params("UPDATE drawbridge_tags SET meta = $1, content = $2, touched = now() WHERE id = $3",
                        str(meta_json), bin(content), id);
          return PutResult::Resumed;
        }
        w.exec_params("DELETE FROM drawbridge_tags WHERE id = $1", id);
      } else if (quota.max_tags != 0) {
        // A new tag: counted under the owner's quota lock, taken last (after the row locks).
        lock_quota(w, user);
        const auto used = usage(w, user).tags;
        if (used >= quota.max_tags) throw quota_tags_reached(user, used, quota.max_tags);
      }
      auto id = w.exec_params1(
                     "INSERT INTO drawbridge_tags(usr, repo, name, meta, content, complete, missing) "
                     "VALUES($1,$2,$3,$4,$5,false,1) RETURNING id",
                     str(user), str(repo), str(tag), str(meta_json), bin(content))[0]
                    .as<std::int64_t>();
      w.exec_params("INSERT INTO drawbridge_nodes(tag_id, path, entry, present) VALUES($1, '', $2, false)",
                    id, str(root_entry_json));
      return PutResult::Created;
    });
  }

  std::optional<StoredTag> get_tag(std::string_view user, std::string_view repo,
                                   std::string_view tag) override {
    return run([&](pqxx::work& w) -> std::optional<StoredTag> {
      auto r = w.exec_params(
          "SELECT id, meta, content, complete, yanked FROM drawbridge_tags WHERE usr = $1 AND repo = $2 AND name = $3",
          str(user), str(repo), str(tag));
      if (r.empty()) return std::nullopt;
      return StoredTag{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>(), bytes_of(r[0][2]),
                       r[0][3].as<bool>(), r[0][4].as<bool>()};
    });
  }

  std::vector<std::string> list_tags(std::string_view user, std::string_view repo) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT name FROM drawbridge_tags WHERE usr = $1 AND repo = $2 AND complete AND NOT yanked",
                             str(user), str(repo));
      std::vector<std::string> out;
      for (const auto& row : r) out.push_back(row[0].as<std::string>());
      return out;
    });
  }

  std::optional<StoredNode> get_node(std::int64_t tag_id, std::string_view path) override {
    return run([&](pqxx::work& w) { return node(w, tag_id, path); });
  }

  NodePutOutcome put_node(std::int64_t tag_id, std::string_view path, std::string_view blob_key,
                          ByteView content, const std::vector<ChildExpectation>& children,
                          const AuditEvent* on_complete, const QuotaLimits& quota) override {
    return run([&](pqxx::work& w) -> NodePutOutcome {
      auto t = w.exec_params("SELECT complete FROM drawbridge_tags WHERE id = $1 FOR UPDATE", tag_id);
      if (t.empty()) return {NodePutResult::TagGone, false};
      auto n = node(w, tag_id, path);
      if (!n) return {NodePutResult::NotExpected, false};
      if (n->present) return {NodePutResult::Exists, false};
      // GC deletes a blob row only while holding it FOR UPDATE and seeing no node reference to
      // it: holding the row FOR KEY SHARE until this transaction commits, the reference is
      // seen. ON CONFLICT DO NOTHING locks nothing, and a GC may have deleted the row it
      // found since: then it is inserted again.
      for (int attempt = 0;; ++attempt) {
        w.exec_params("INSERT INTO drawbridge_blobs(key, data) VALUES($1, $2) ON CONFLICT DO NOTHING",
                      str(blob_key), bin(content));
        if (test_hooks_.before_node_reference) test_hooks_.before_node_reference(blob_key);
        if (!w.exec_params("SELECT 1 FROM drawbridge_blobs WHERE key = $1 FOR KEY SHARE", str(blob_key)).empty()) break;
        if (attempt >= 8)
          throw Error(ErrorKind::kInternal, "drawbridge.store.backend",
                      "blob " + std::string(blob_key) + " kept vanishing before its node was recorded");
      }
      if (quota.max_bytes != 0) {
        auto o = w.exec_params1(
            "SELECT t.usr, (n.entry::jsonb->>'length')::bigint FROM drawbridge_nodes n "
            "JOIN drawbridge_tags t ON t.id = n.tag_id WHERE n.tag_id = $1 AND n.path = $2",
            tag_id, str(path));
        const auto owner = o[0].as<std::string>();
        const auto length = o[1].as<std::uint64_t>();
        lock_quota(w, owner);
        const auto used = usage(w, owner).bytes;
        if (exceeds_byte_quota(used, length, quota.max_bytes))
          throw quota_bytes_exceeded(owner, used, quota.max_bytes, length);
      }
      w.exec_params("UPDATE drawbridge_nodes SET present = true, blob = $1 WHERE tag_id = $2 AND path = $3",
                    str(blob_key), tag_id, str(path));
      for (const auto& c : children)
        w.exec_params("INSERT INTO drawbridge_nodes(tag_id, path, entry, present) VALUES($1,$2,$3,false)",
                      tag_id, c.path, c.entry_json);
      // One UPDATE of the tag row: a second one would update a row version this transaction
      // created, which makes PostgreSQL re-check the tag's foreign key (FOR KEY SHARE on the
      // repository row) — a deadlock with put_tag, which holds that row while waiting for ours.
      auto missing = w.exec_params1(
                          "UPDATE drawbridge_tags SET missing = missing - 1 + $1, complete = (missing - 1 + $1 = 0), "
                          "touched = now() WHERE id = $2 RETURNING missing",
                          static_cast<std::int64_t>(children.size()), tag_id)[0]
                         .as<std::int64_t>();
      if (missing == 0) {
        announce_change(w);
        if (on_complete) append(w, *on_complete);
      }
      return {NodePutResult::Created, missing == 0};
    });
  }

  std::unique_ptr<BlobSpool> spool(std::vector<DigestAlgorithm> algorithms) override {
    return std::make_unique<BlobSpool>(spool_dir_, std::move(algorithms));
  }

  // bytea takes the value in one piece: the spooled body is read back whole, a bounded number
  // of them at a time (kPgSpooledInserts), so that uploads cost a bounded amount of memory.
  NodePutOutcome put_node_spooled(std::int64_t tag_id, std::string_view path, std::string_view blob_key,
                                  BlobSpool& spool, const std::vector<ChildExpectation>& children,
                                  const AuditEvent* on_complete, const QuotaLimits& quota) override {
    // Refused uploads need not be read back (put_node decides the rest, TagGone included).
    if (auto n = get_node(tag_id, path); n && n->present) return {NodePutResult::Exists, false};
    inserts_.acquire();
    struct Release {
      Slots& s;
      ~Release() { s.release(); }
    } release{inserts_};
    const Bytes content = read_file(spool.path(), static_cast<std::size_t>(spool.size()) + 1);
    return put_node(tag_id, path, blob_key, content, children, on_complete, quota);
  }

  Bytes read_blob(std::string_view blob_key) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT data FROM drawbridge_blobs WHERE key = $1", str(blob_key));
      if (r.empty()) throw Error(ErrorKind::kInternal, "drawbridge.store.blob_missing", "blob " + std::string(blob_key) + " is missing");
      return bytes_of(r[0][0]);
    });
  }

  std::vector<UserRef> user_for(std::string_view issuer, std::string_view subject) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT name, issuer FROM drawbridge_users WHERE subject = $1 AND (issuer = $2 OR issuer IS NULL) "
          "ORDER BY name COLLATE \"C\"",
          str(subject), str(issuer));
      std::vector<UserRef> out;
      for (const auto& row : r)
        out.push_back({row[0].as<std::string>(),
                       row[1].is_null() ? std::nullopt : std::optional(row[1].as<std::string>())});
      return out;
    });
  }

  PutResult put_grant(std::string_view user, std::string_view repo, Grantee kind, std::string_view grantee,
                      Access access, const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT 1 FROM drawbridge_repos WHERE usr = $1 AND name = $2 FOR SHARE", str(user), str(repo));
      require(!r.empty(), ErrorKind::kNotFound, "drawbridge.store.no_repo", "repository does not exist");
      if (kind == Grantee::User) {
        auto u = w.exec_params("SELECT 1 FROM drawbridge_users WHERE name = $1", str(grantee));
        require(!u.empty(), ErrorKind::kNotFound, "drawbridge.share.no_user", "no such user");
      } else {
        // FOR SHARE: a concurrent delete_group waits, so no grant outlives its group.
        auto g = w.exec_params("SELECT 1 FROM drawbridge_groups WHERE owner = $1 AND name = $2 FOR SHARE", str(user),
                               str(grantee));
        require(!g.empty(), ErrorKind::kNotFound, "drawbridge.share.no_group", "no such group");
      }
      // xmax = 0 only for a row this statement inserted (an update sets it).
      auto res = w.exec_params1(
          "INSERT INTO drawbridge_grants(usr, repo, kind, grantee, access) VALUES($1,$2,$3,$4,$5) "
          "ON CONFLICT(usr, repo, kind, grantee) DO UPDATE SET access = excluded.access RETURNING (xmax = 0)",
          str(user), str(repo), str(to_string(kind)), str(grantee), str(to_string(access)));
      if (audit) append(w, *audit);
      return res[0].as<bool>() ? PutResult::Created : PutResult::Exists;
    });
  }

  bool delete_grant(std::string_view user, std::string_view repo, Grantee kind, std::string_view grantee,
                    const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("DELETE FROM drawbridge_grants WHERE usr = $1 AND repo = $2 AND kind = $3 AND grantee = $4",
                             str(user), str(repo), str(to_string(kind)), str(grantee));
      if (r.affected_rows() != 1) return false;
      if (audit) append(w, *audit);
      return true;
    });
  }

  std::vector<RepoGrant> list_grants(std::string_view user, std::string_view repo) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT kind, grantee, access FROM drawbridge_grants WHERE usr = $1 AND repo = $2 "
          "ORDER BY kind COLLATE \"C\" DESC, grantee COLLATE \"C\"",
          str(user), str(repo));
      std::vector<RepoGrant> out;
      for (const auto& row : r)
        out.push_back({row[0].as<std::string>() == "group" ? Grantee::Group : Grantee::User, row[1].as<std::string>(),
                       row[2].as<std::string>() == "write" ? Access::Write : Access::Read});
      return out;
    });
  }

  std::optional<Access> access_of(std::string_view user, std::string_view repo, std::string_view member) override {
    return run([&](pqxx::work& w) -> std::optional<Access> {
      auto r = w.exec_params(
          "SELECT bool_or(g.access = 'write') FROM drawbridge_grants g WHERE g.usr = $1 AND g.repo = $2 AND "
          "((g.kind = 'user' AND g.grantee = $3) OR (g.kind = 'group' AND EXISTS("
          "SELECT 1 FROM drawbridge_group_members m WHERE m.owner = $1 AND m.grp = g.grantee AND m.member = $3)))",
          str(user), str(repo), str(member));
      if (r.empty() || r[0][0].is_null()) return std::nullopt;
      return r[0][0].as<bool>() ? Access::Write : Access::Read;
    });
  }

  PutResult create_group(std::string_view owner, std::string_view group, const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto u = w.exec_params("SELECT 1 FROM drawbridge_users WHERE name = $1 FOR SHARE", str(owner));
      require(!u.empty(), ErrorKind::kInternal, "drawbridge.store.no_user", "user does not exist");
      auto r = w.exec_params("INSERT INTO drawbridge_groups(owner, name) VALUES($1,$2) ON CONFLICT DO NOTHING",
                             str(owner), str(group));
      if (r.affected_rows() != 1) return PutResult::Exists;
      if (audit) append(w, *audit);
      return PutResult::Created;
    });
  }

  bool delete_group(std::string_view owner, std::string_view group, const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto g = w.exec_params("SELECT 1 FROM drawbridge_groups WHERE owner = $1 AND name = $2 FOR UPDATE", str(owner),
                             str(group));
      if (g.empty()) return false;
      w.exec_params("DELETE FROM drawbridge_grants WHERE usr = $1 AND kind = 'group' AND grantee = $2", str(owner),
                    str(group));
      w.exec_params("DELETE FROM drawbridge_groups WHERE owner = $1 AND name = $2", str(owner), str(group));
      if (audit) append(w, *audit);
      return true;
    });
  }

  std::vector<std::string> list_groups(std::string_view owner) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT name FROM drawbridge_groups WHERE owner = $1 ORDER BY name COLLATE \"C\"",
                             str(owner));
      std::vector<std::string> out;
      for (const auto& row : r) out.push_back(row[0].as<std::string>());
      return out;
    });
  }

  std::optional<std::vector<std::string>> group_members(std::string_view owner, std::string_view group) override {
    return run([&](pqxx::work& w) -> std::optional<std::vector<std::string>> {
      auto g = w.exec_params("SELECT 1 FROM drawbridge_groups WHERE owner = $1 AND name = $2", str(owner), str(group));
      if (g.empty()) return std::nullopt;
      auto r = w.exec_params(
          "SELECT member FROM drawbridge_group_members WHERE owner = $1 AND grp = $2 ORDER BY member COLLATE \"C\"",
          str(owner), str(group));
      std::vector<std::string> out;
      for (const auto& row : r) out.push_back(row[0].as<std::string>());
      return out;
    });
  }

  PutResult add_member(std::string_view owner, std::string_view group, std::string_view member,
                       const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto g = w.exec_params("SELECT 1 FROM drawbridge_groups WHERE owner = $1 AND name = $2 FOR SHARE", str(owner),
                             str(group));
      require(!g.empty(), ErrorKind::kNotFound, "drawbridge.share.no_group", "no such group");
      auto u = w.exec_params("SELECT 1 FROM drawbridge_users WHERE name = $1", str(member));
      require(!u.empty(), ErrorKind::kNotFound, "drawbridge.share.no_user", "no such user");
      auto r = w.exec_params(
          "INSERT INTO drawbridge_group_members(owner, grp, member) VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
          str(owner), str(group), str(member));
      if (r.affected_rows() != 1) return PutResult::Exists;
      if (audit) append(w, *audit);
      return PutResult::Created;
    });
  }

  bool remove_member(std::string_view owner, std::string_view group, std::string_view member,
                     const AuditEvent* audit) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("DELETE FROM drawbridge_group_members WHERE owner = $1 AND grp = $2 AND member = $3",
                             str(owner), str(group), str(member));
      if (r.affected_rows() != 1) return false;
      if (audit) append(w, *audit);
      return true;
    });
  }

  // ---- web UI (docs/drawbridge.md "Web UI") ----
  std::vector<std::string> list_public_users(std::string_view after, std::size_t limit) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT DISTINCT usr COLLATE \"C\" AS u FROM drawbridge_repos WHERE public AND usr > $1 COLLATE \"C\" "
          "ORDER BY u LIMIT $2",
          str(after), static_cast<std::int64_t>(limit));
      std::vector<std::string> out;
      for (const auto& row : r) out.push_back(row[0].as<std::string>());
      return out;
    });
  }

  std::string describe() const override { return "postgres"; }

 private:
  static std::optional<StoredNode> node(pqxx::work& w, std::int64_t tag_id, std::string_view path) {
    auto r = w.exec_params("SELECT entry, present, blob FROM drawbridge_nodes WHERE tag_id = $1 AND path = $2",
                           tag_id, str(path));
    if (r.empty()) return std::nullopt;
    return StoredNode{r[0][0].as<std::string>(), r[0][1].as<bool>(),
                      r[0][2].is_null() ? std::string() : r[0][2].as<std::string>()};
  }

  // One transaction on a pooled connection; serialization failures and deadlocks are retried.
  template <typename F>
  auto run(F&& f) -> decltype(f(std::declval<pqxx::work&>())) {
    for (int attempt = 0;; ++attempt) {
      Pool::Lease lease(pool_, pool_.take());
      try {
        pqxx::work w(*lease);
        auto result = f(w);
        w.commit();
        return result;
      } catch (const Error&) {
        throw;
      } catch (const pqxx::broken_connection& e) {
        lease.mark_broken();
        if (attempt >= 2) throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL: ") + e.what());
      } catch (const pqxx::unique_violation& e) {
        // Concurrent first-time inserts race on unique keys: retry sees the winner's row.
        if (attempt >= 3) throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL: ") + e.what());
      } catch (const pqxx::transaction_rollback& e) {
        // Serialization failures and deadlocks (libpqxx 6 does not always fill sqlstate()).
        if (attempt >= 3) throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL: ") + e.what());
      } catch (const pqxx::sql_error& e) {
        // 53100 disk_full: the server could not extend a file. Not a fault, not retried.
        if (e.sqlstate() == "53100") throw Error(ErrorKind::kResourceExhausted, "drawbridge.store.full", std::string("PostgreSQL: ") + e.what());
        bool retry = e.sqlstate() == "40001" || e.sqlstate() == "40P01";
        if (!retry || attempt >= 3) throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL: ") + e.what());
      } catch (const std::exception& e) {
        lease.mark_broken();
        throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL: ") + e.what());
      }
    }
  }

  // ---- yank, delete, registry audit log, quotas ----
 public:
  std::vector<TagSummary> list_tag_summaries(std::string_view user, std::string_view repo) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT name, yanked FROM drawbridge_tags WHERE usr = $1 AND repo = $2 AND complete ORDER BY name COLLATE \"C\"",
          str(user), str(repo));
      std::vector<TagSummary> out;
      for (const auto& row : r) out.push_back({row[0].as<std::string>(), row[1].as<bool>()});
      return out;
    });
  }

  YankResult set_yanked(std::string_view user, std::string_view repo, std::string_view tag, bool yanked,
                        const AuditEvent& event) override {
    return run([&](pqxx::work& w) {
      auto t = w.exec_params(
          "SELECT id, yanked FROM drawbridge_tags WHERE usr = $1 AND repo = $2 AND name = $3 AND complete FOR UPDATE",
          str(user), str(repo), str(tag));
      if (t.empty()) return YankResult::NotFound;
      if (t[0][1].as<bool>() == yanked) return YankResult::Unchanged;
      w.exec_params("UPDATE drawbridge_tags SET yanked = $1 WHERE id = $2", yanked, t[0][0].as<std::int64_t>());
      announce_change(w);
      append(w, event);
      return YankResult::Changed;
    });
  }

  bool delete_tag(std::string_view user, std::string_view repo, std::string_view tag,
                  const AuditEvent& event) override {
    return run([&](pqxx::work& w) {
      // The repository row first, as put_tag locks it: a concurrent re-publish of this name
      // either ran before (and is deleted here) or sees the tombstone.
      auto r = w.exec_params("SELECT 1 FROM drawbridge_repos WHERE usr = $1 AND name = $2 FOR UPDATE", str(user),
                             str(repo));
      if (r.empty()) return false;
      auto t = w.exec_params(
          "SELECT id, complete FROM drawbridge_tags WHERE usr = $1 AND repo = $2 AND name = $3 FOR UPDATE", str(user),
          str(repo), str(tag));
      if (t.empty()) return false;
      if (t[0][1].as<bool>())
        w.exec_params("INSERT INTO drawbridge_tag_tombstones(usr, repo, name) VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
                      str(user), str(repo), str(tag));
      w.exec_params("DELETE FROM drawbridge_tags WHERE id = $1", t[0][0].as<std::int64_t>());  // nodes cascade
      announce_change(w);
      append(w, event);
      return true;
    });
  }

  bool delete_repo(std::string_view user, std::string_view repo, const AuditEvent& event) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT 1 FROM drawbridge_repos WHERE usr = $1 AND name = $2 FOR UPDATE", str(user),
                             str(repo));
      if (r.empty()) return false;
      w.exec_params(
          "INSERT INTO drawbridge_tag_tombstones(usr, repo, name) SELECT usr, repo, name FROM drawbridge_tags "
          "WHERE usr = $1 AND repo = $2 AND complete ON CONFLICT DO NOTHING",
          str(user), str(repo));
      w.exec_params("DELETE FROM drawbridge_tags WHERE usr = $1 AND repo = $2", str(user), str(repo));
      w.exec_params("DELETE FROM drawbridge_grants WHERE usr = $1 AND repo = $2", str(user), str(repo));
      w.exec_params("DELETE FROM drawbridge_repos WHERE usr = $1 AND name = $2", str(user), str(repo));
      announce_change(w);
      append(w, event);
      return true;
    });
  }

  bool tag_tombstoned(std::string_view user, std::string_view repo, std::string_view tag) override {
    return run([&](pqxx::work& w) { return tombstoned(w, user, repo, tag); });
  }

  void append_audit(const AuditEvent& event) override {
    run([&](pqxx::work& w) {
      append(w, event);
      return 0;
    });
  }

  std::vector<AuditRecord> read_audit(std::optional<std::string_view> user, std::int64_t after,
                                      std::size_t limit) override {
    return run([&](pqxx::work& w) {
      const std::string columns =
          "SELECT seq, at, action, usr, repo, tag, actor_issuer, actor_subject, detail FROM drawbridge_registry_audit ";
      const auto lim = static_cast<std::int64_t>(limit);
      auto r = user ? w.exec_params(columns + "WHERE usr = $3 AND seq > $1 ORDER BY seq LIMIT $2", after, lim, str(*user))
                    : w.exec_params(columns + "WHERE seq > $1 ORDER BY seq LIMIT $2", after, lim);
      std::vector<AuditRecord> out;
      for (const auto& row : r)
        out.push_back({row[0].as<std::int64_t>(),
                       AuditEvent{row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(),
                                  row[4].as<std::string>(), row[5].as<std::string>(), row[6].as<std::string>(),
                                  row[7].as<std::string>(), row[8].as<std::string>()}});
      return out;
    });
  }

  QuotaUsage usage(std::string_view user) override {
    return run([&](pqxx::work& w) { return usage(w, user); });
  }

 private:
  static QuotaUsage usage(pqxx::work& w, std::string_view user) {
    QuotaUsage u;
    u.tags = w.exec_params1("SELECT COUNT(*) FROM drawbridge_tags WHERE usr = $1", str(user))[0].as<std::uint64_t>();
    // The entry's declared length: what the node's upload was checked against.
    u.bytes = w.exec_params1(
                   "SELECT COALESCE(SUM((n.entry::jsonb->>'length')::bigint), 0) FROM drawbridge_nodes n "
                   "JOIN drawbridge_tags t ON t.id = n.tag_id WHERE t.usr = $1 AND n.present",
                   str(user))[0]
                  .as<std::uint64_t>();
    return u;
  }

  // Serializes the quota checks of one owner across replicas until this transaction ends (the
  // two-key advisory lock space is apart from the schema's one-key locks; owners whose names
  // hash alike merely wait for each other). Taken after the mutation's row and blob locks;
  // after it the transaction writes only its own tag's rows and takes only the audit log's
  // lock (always last), so it adds no lock cycle. Under READ COMMITTED the usage read
  // after it sees every upload that held it before.
  static void lock_quota(pqxx::work& w, std::string_view owner) {
    w.exec_params("SELECT pg_advisory_xact_lock(7273122, hashtext($1))", str(owner));
  }

 private:
  // The tables, functions and triggers of this section (databases of earlier versions get them
  // too), under the schema's advisory lock. Append-only is the database's rule: the trigger
  // refuses UPDATE, DELETE and TRUNCATE of the audit log whoever runs them.
  void ops_schema() {
    run([](pqxx::work& w) {
      w.exec("SELECT pg_advisory_xact_lock(7273120)");
      w.exec(R"sql(
        ALTER TABLE drawbridge_tags ADD COLUMN IF NOT EXISTS yanked BOOLEAN NOT NULL DEFAULT false;
        CREATE TABLE IF NOT EXISTS drawbridge_registry_audit(
          seq BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, usr TEXT NOT NULL, repo TEXT NOT NULL,
          tag TEXT NOT NULL, actor_issuer TEXT NOT NULL, actor_subject TEXT NOT NULL, detail TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS drawbridge_registry_audit_by_user ON drawbridge_registry_audit(usr, seq);
        CREATE TABLE IF NOT EXISTS drawbridge_tag_tombstones(
          usr TEXT NOT NULL, repo TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(usr, repo, name));
        CREATE OR REPLACE FUNCTION drawbridge_registry_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'drawbridge_registry_audit is append-only'; END $$;
        CREATE OR REPLACE FUNCTION drawbridge_tags_not_tombstoned() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF EXISTS(SELECT 1 FROM drawbridge_tag_tombstones WHERE usr = NEW.usr AND repo = NEW.repo AND name = NEW.name)
            THEN RAISE EXCEPTION 'tag name was deleted'; END IF;
            RETURN NEW;
          END $$;
        DO $$ BEGIN
          IF NOT EXISTS(SELECT 1 FROM pg_trigger WHERE tgname = 'drawbridge_registry_audit_no_change') THEN
            CREATE TRIGGER drawbridge_registry_audit_no_change BEFORE UPDATE OR DELETE ON drawbridge_registry_audit
              FOR EACH ROW EXECUTE FUNCTION drawbridge_registry_audit_append_only();
          END IF;
          IF NOT EXISTS(SELECT 1 FROM pg_trigger WHERE tgname = 'drawbridge_registry_audit_no_truncate') THEN
            CREATE TRIGGER drawbridge_registry_audit_no_truncate BEFORE TRUNCATE ON drawbridge_registry_audit
              FOR EACH STATEMENT EXECUTE FUNCTION drawbridge_registry_audit_append_only();
          END IF;
          IF NOT EXISTS(SELECT 1 FROM pg_trigger WHERE tgname = 'drawbridge_tags_not_tombstoned') THEN
            CREATE TRIGGER drawbridge_tags_not_tombstoned BEFORE INSERT ON drawbridge_tags
              FOR EACH ROW EXECUTE FUNCTION drawbridge_tags_not_tombstoned();
          END IF;
        END $$;
      )sql");
      return 0;
    });
  }

  static bool tombstoned(pqxx::work& w, std::string_view user, std::string_view repo, std::string_view tag) {
    return !w.exec_params("SELECT 1 FROM drawbridge_tag_tombstones WHERE usr = $1 AND repo = $2 AND name = $3",
                          str(user), str(repo), str(tag))
                .empty();
  }

  // Always a transaction's last statement. The lock, held to commit, makes seq order commit
  // order across instances (a sequence alone hands out numbers that may commit out of order, and
  // a reader paging with ?after= would skip the late one); appends are rare enough to queue.
  static void append(pqxx::work& w, const AuditEvent& e) {
    w.exec("SELECT pg_advisory_xact_lock(7273121)");
    w.exec_params(
        "INSERT INTO drawbridge_registry_audit(at, action, usr, repo, tag, actor_issuer, actor_subject, detail) "
        "VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
        e.at, e.action, e.user, e.repo, e.tag, e.actor_issuer, e.actor_subject, e.detail);
  }

  // ---- changes made elsewhere (watch_changes) ----
  // NOTIFY is transactional: listeners hear of the change when (and only if) it commits.
  static void announce_change(pqxx::work& w) { w.exec("NOTIFY " + std::string(kChangeChannel)); }

 public:
  std::unique_ptr<ChangeSubscription> watch_changes(std::function<void()> listener) override {
    std::lock_guard lock(listen_mu_);
    const auto id = ++last_listener_id_;
    listeners_.emplace_back(id, std::move(listener));
    if (!listener_.joinable()) {
      stop_listening_ = false;
      listener_ = std::thread([this] { listen_loop(); });
    }
    return std::make_unique<Subscription>(*this, id);
  }
  ~PgStore() override {
    {
      std::lock_guard lock(listen_mu_);
      stop_listening_ = true;
    }
    listen_cv_.notify_all();
    if (listener_.joinable()) listener_.join();
  }

 private:
  static constexpr const char* kChangeChannel = "drawbridge_changes";

  class Subscription final : public ChangeSubscription {
   public:
    Subscription(PgStore& store, std::uint64_t id) : store_(store), id_(id) {}
    ~Subscription() override { store_.unsubscribe(id_); }

   private:
    PgStore& store_;
    std::uint64_t id_;
  };

  class ChangeReceiver final : public pqxx::notification_receiver {
   public:
    ChangeReceiver(pqxx::connection_base& c, PgStore& store)
        : pqxx::notification_receiver(c, kChangeChannel), store_(store) {}
    void operator()(const std::string&, int) override { store_.tell_listeners(); }

   private:
    PgStore& store_;
  };

  // Listeners are called under listen_mu_, so that unsubscribe() returning means no call of
  // that listener is in progress or will come.
  void tell_listeners() {
    std::lock_guard lock(listen_mu_);
    for (const auto& [id, listener] : listeners_) listener();
  }
  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(listen_mu_);
    std::erase_if(listeners_, [&](const auto& l) { return l.first == id; });
  }

  // One connection of its own, LISTENing while the store lives; after any failure it
  // reconnects (a second later) and tells the listeners of a change, since it may have missed
  // some while it was not listening.
  void listen_loop() {
    bool failing = false;
    while (!listening_stopped()) {
      try {
        Conn c(conninfo_);
        ChangeReceiver receiver(c, *this);
        if (failing) log::info("drawbridge.store.change_feed_restored", {});
        failing = false;
        tell_listeners();
        while (!listening_stopped()) c.await_notification(0, 200'000);
      } catch (const std::exception& e) {
        if (!failing) log::warn("drawbridge.store.change_feed_lost", {{"error", e.what()}});
        failing = true;
        std::unique_lock lock(listen_mu_);
        listen_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_listening_; });
      }
    }
  }
  bool listening_stopped() {
    std::lock_guard lock(listen_mu_);
    return stop_listening_;
  }

  Pool pool_;
  std::string conninfo_;
  std::filesystem::path spool_dir_;
  Slots inserts_{kPgSpooledInserts};
  std::mutex listen_mu_;
  std::condition_variable listen_cv_;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> listeners_;
  std::uint64_t last_listener_id_ = 0;
  bool stop_listening_ = true;
  std::thread listener_;

  // ---- garbage collection ----
  // Blob rows are deleted only in a transaction that first locks them FOR UPDATE and then, in
  // a later statement (READ COMMITTED: a fresh snapshot), finds no node referencing them.
  // put_node holds the blob row FOR KEY SHARE from before its reference until its commit
  // (and inserts the row again when it is gone), so either GC waits and then sees the
  // reference, or the upload waits and then finds the row gone and re-inserts it. The
  // deduplicated upload (the row existed, nothing inserted) is covered the same way.
 public:
  GcReport collect_garbage(const GcOptions& o) override {
    GcReport report;
    report.dry_run = o.dry_run;
    const auto batch = static_cast<std::int64_t>(std::max<std::size_t>(1, o.batch_size));
    const auto ttl = static_cast<double>(o.pending_ttl.count());
    // Expired pending tags (nodes cascade). The outer conditions are repeated so that a tag a
    // concurrent upload touched while this waited for its row is re-checked and kept.
    for (std::int64_t after = 0;;) {
      auto tags = run([&](pqxx::work& w) {
        pqxx::result r;
        if (o.dry_run) {
          r = w.exec_params(
              "SELECT id, usr, repo, name FROM drawbridge_tags WHERE NOT complete AND "
              "touched < now() - make_interval(secs => $1) AND id > $2 ORDER BY id LIMIT $3",
              ttl, after, batch);
        } else {
          r = w.exec_params(
              "DELETE FROM drawbridge_tags WHERE id IN (SELECT id FROM drawbridge_tags WHERE NOT complete AND "
              "touched < now() - make_interval(secs => $1) ORDER BY id LIMIT $2) AND NOT complete AND "
              "touched < now() - make_interval(secs => $1) RETURNING id, usr, repo, name",
              ttl, batch);
        }
        std::vector<std::pair<std::int64_t, GcExpiredTag>> out;
        for (const auto& row : r)
          out.push_back({row[0].as<std::int64_t>(),
                         {row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>()}});
        return out;
      });
      for (const auto& [id, t] : tags) {
        after = std::max(after, id);
        ++report.expired_tags;
        if (o.on_expired_tag) o.on_expired_tag(t);
      }
      if (static_cast<std::int64_t>(tags.size()) < batch) break;
    }
    // Blobs, in key order, a batch of candidates at a time.
    for (std::string after;;) {
      auto candidates = run([&](pqxx::work& w) {
        // A dry run deletes no tag: only nodes of tags a real run keeps count.
        auto r = o.dry_run
                     ? w.exec_params(
                           "SELECT b.key, octet_length(b.data) FROM drawbridge_blobs b WHERE b.key > $1 AND NOT EXISTS("
                           "SELECT 1 FROM drawbridge_nodes n JOIN drawbridge_tags t ON t.id = n.tag_id WHERE n.blob = b.key "
                           "AND (t.complete OR t.touched >= now() - make_interval(secs => $3))) ORDER BY b.key LIMIT $2",
                           after, batch, ttl)
                     : w.exec_params(
                           "SELECT b.key, octet_length(b.data) FROM drawbridge_blobs b WHERE b.key > $1 AND NOT EXISTS("
                           "SELECT 1 FROM drawbridge_nodes n WHERE n.blob = b.key) ORDER BY b.key LIMIT $2",
                           after, batch);
        std::vector<GcBlob> out;
        for (const auto& row : r) out.push_back({row[0].as<std::string>(), row[1].as<std::uint64_t>()});
        return out;
      });
      if (candidates.empty()) break;
      after = candidates.back().key;
      const bool last = static_cast<std::int64_t>(candidates.size()) < batch;
      std::vector<GcBlob> freed;
      if (o.dry_run) {
        freed = std::move(candidates);
      } else {
        std::vector<std::string> keys;
        keys.reserve(candidates.size());
        for (const auto& b : candidates)
          // Only lower-case hex keys (all the registry stores) are swept: safe in an array literal.
          if (b.key.size() == 64 && b.key.find_first_not_of("0123456789abcdef") == std::string::npos) keys.push_back(b.key);
        if (o.before_sweep) o.before_sweep(keys);
        std::string array = "{";
        for (const auto& k : keys) array += (array.size() > 1 ? "," : "") + k;
        array += "}";
        freed = run([&](pqxx::work& w) {
          w.exec_params("SELECT key FROM drawbridge_blobs WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE", array);
          auto r = w.exec_params(
              "DELETE FROM drawbridge_blobs b WHERE b.key = ANY($1::text[]) AND NOT EXISTS("
              "SELECT 1 FROM drawbridge_nodes n WHERE n.blob = b.key) RETURNING b.key, octet_length(b.data)",
              array);
          std::vector<GcBlob> out;
          for (const auto& row : r) out.push_back({row[0].as<std::string>(), row[1].as<std::uint64_t>()});
          return out;
        });
      }
      for (const auto& b : freed) {
        ++report.blobs;
        report.bytes += b.bytes;
        if (o.on_blob) o.on_blob(b);
      }
      if (last) break;
    }
    return report;
  }

 private:
  // drawbridge_tags.touched: when a pending tag was created, resumed or last given a node
  // (tags of earlier versions: from this upgrade). The index makes reference checks lookups.
  void migrate_gc() {
    run([](pqxx::work& w) {
      w.exec("SELECT pg_advisory_xact_lock(7273120)");
      w.exec("ALTER TABLE drawbridge_tags ADD COLUMN IF NOT EXISTS touched TIMESTAMPTZ NOT NULL DEFAULT now()");
      w.exec("CREATE INDEX IF NOT EXISTS drawbridge_nodes_by_blob ON drawbridge_nodes(blob)");
      w.exec("CREATE INDEX IF NOT EXISTS drawbridge_tags_pending ON drawbridge_tags(complete, touched)");
      return 0;
    });
  }
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& conninfo, int pool_size,
                                           const std::filesystem::path& spool_dir) {
  return std::make_unique<PgStore>(conninfo, pool_size < 1 ? 1 : pool_size,
                                   spool_dir.empty() ? std::filesystem::temp_directory_path() : spool_dir,
                                   !spool_dir.empty());
}

}  // namespace enarx::drawbridge
