// Embedded store: content-addressed blob files + SQLite metadata.
//
// Crash safety: a blob is written to <dir>/tmp, fsynced and renamed to its content address
// (then the directory is fsynced) BEFORE the metadata transaction that references it commits;
// SQLite runs in WAL mode with synchronous=FULL. So after a crash every committed row points
// at a complete blob; an interrupted upload leaves at most an unreferenced blob (harmless) or a
// temp file under tmp/ (never looked up, removed at the next start). Uploaded node bodies are
// spooled into tmp/ as they arrive (BlobSpool) and hard-linked into place the same way (the
// spool name goes when the upload ends; see put_node_spooled for why a link).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>

#include "core/crypto.h"
#include "core/error.h"
#include "core/file.h"
#include "drawbridge/sqlite_stmt.h"
#include "drawbridge/store.h"
#include "sqlite/wal_mode.h"

namespace enarx::drawbridge {

std::string blob_key_of(ByteView content) { return to_hex(sha256(content)); }

Error quota_bytes_exceeded(std::string_view owner, std::uint64_t used, std::uint64_t max, std::uint64_t length) {
  return Error(ErrorKind::kPolicyRejected, "drawbridge.quota.bytes",
               "Byte quota of " + std::string(owner) + " exceeded: " + std::to_string(used) + " of " +
                   std::to_string(max) + " bytes in use, this node has " + std::to_string(length));
}

Error quota_tags_reached(std::string_view owner, std::uint64_t used, std::uint64_t max) {
  return Error(ErrorKind::kPolicyRejected, "drawbridge.quota.tags",
               "Tag quota of " + std::string(owner) + " reached: " + std::to_string(used) + " of " +
                   std::to_string(max) + " tags (complete and pending) in use");
}

std::string_view to_string(Access access) { return access == Access::Write ? "write" : "read"; }
std::string_view to_string(Grantee kind) { return kind == Grantee::Group ? "group" : "user"; }

namespace {

namespace fs = std::filesystem;

class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec("COMMIT");
    done_ = true;
  }

 private:
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) sql_fail(db_, sql);
  }
  sqlite3* db_;
  bool done_ = false;
};

void write_all(int fd, ByteView data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "write", path, errno);
    }
    off += static_cast<std::size_t>(n);
  }
}

// ---- garbage collection (lock file) ----
// An exclusive flock on <data_dir>/gc.lock while blob files are deleted: an online backup
// holds it shared, so it never copies metadata that references a blob deleted under it.
class GcFileLock {
 public:
  explicit GcFileLock(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "open", path, errno);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd_);
      throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "flock", path, err);
    }
  }
  ~GcFileLock() { ::close(fd_); }
  GcFileLock(const GcFileLock&) = delete;
  GcFileLock& operator=(const GcFileLock&) = delete;

 private:
  int fd_ = -1;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& dir, bool own_tmp = true) : dir_(dir) {
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace);
    fs::create_directories(dir_ / "blobs" / "sha256");
    // Leftovers of interrupted uploads: never referenced, safe to drop.
    if (own_tmp) fs::remove_all(dir_ / "tmp");
    fs::create_directories(dir_ / "tmp");
    auto db_path = (dir_ / "meta.sqlite3").string();
    // NOMUTEX: every use of the connection is under mu_ already, so SQLite's own per-call
    // locking would only be paid twice.
    if (sqlite3_open_v2(db_path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(ErrorKind::kInternal, "drawbridge.store.backend", "open " + db_path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    stmts_.emplace(db_);
    // A server and `drawbridge gc` may open a new directory together: see wal_mode.h.
    if (sqlite::enter_wal_mode(db_, std::chrono::milliseconds(10000)).rc != SQLITE_OK)
      sql_fail(db_, "PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    exec(R"sql(
      CREATE TABLE IF NOT EXISTS users(
        name TEXT PRIMARY KEY, meta TEXT NOT NULL, content BLOB NOT NULL, subject TEXT NOT NULL,
        issuer TEXT);
      CREATE TABLE IF NOT EXISTS repos(
        user TEXT NOT NULL REFERENCES users(name), name TEXT NOT NULL, meta TEXT NOT NULL,
        content BLOB NOT NULL, public INTEGER NOT NULL, PRIMARY KEY(user, name));
      CREATE TABLE IF NOT EXISTS tags(
        id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, repo TEXT NOT NULL,
        name TEXT NOT NULL, meta TEXT NOT NULL, content BLOB NOT NULL,
        complete INTEGER NOT NULL, missing INTEGER NOT NULL, UNIQUE(user, repo, name),
        FOREIGN KEY(user, repo) REFERENCES repos(user, name));
      CREATE TABLE IF NOT EXISTS nodes(
        tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE, path TEXT NOT NULL,
        entry TEXT NOT NULL, present INTEGER NOT NULL, blob TEXT, PRIMARY KEY(tag_id, path));
    )sql");
    // Sharing. New tables, so databases of earlier versions get them here too.
    exec(R"sql(
      CREATE TABLE IF NOT EXISTS user_groups(
        owner TEXT NOT NULL REFERENCES users(name), name TEXT NOT NULL, PRIMARY KEY(owner, name));
      CREATE TABLE IF NOT EXISTS group_members(
        owner TEXT NOT NULL, grp TEXT NOT NULL, member TEXT NOT NULL REFERENCES users(name),
        PRIMARY KEY(owner, grp, member),
        FOREIGN KEY(owner, grp) REFERENCES user_groups(owner, name) ON DELETE CASCADE);
      CREATE TABLE IF NOT EXISTS repo_grants(
        user TEXT NOT NULL, repo TEXT NOT NULL, kind TEXT NOT NULL CHECK(kind IN ('user', 'group')),
        grantee TEXT NOT NULL, access TEXT NOT NULL CHECK(access IN ('read', 'write')),
        PRIMARY KEY(user, repo, kind, grantee), FOREIGN KEY(user, repo) REFERENCES repos(user, name));
      CREATE INDEX IF NOT EXISTS users_by_subject ON users(subject);
    )sql");
    migrate();
    ops_schema();
    migrate_gc();
  }
  ~SqliteStore() override {
    stmts_.reset();  // finalized before the connection closes
    sqlite3_close(db_);
  }

  PutResult create_user(std::string_view user, std::string_view meta_json, ByteView content,
                        std::string_view issuer, std::string_view subject) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_,
           "INSERT INTO users(name, meta, content, subject, issuer) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING");
    s.bind(1, user).bind(2, meta_json).bind(3, content).bind(4, subject).bind(5, issuer).step();
    return sqlite3_changes(db_) == 1 ? PutResult::Created : PutResult::Exists;
  }

  std::optional<StoredUser> get_user(std::string_view user) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT meta, content, subject, issuer FROM users WHERE name = ?");
    s.bind(1, user);
    if (!s.step()) return std::nullopt;
    return StoredUser{s.text(0), s.blob(1), s.text(2), s.is_null(3) ? std::nullopt : std::optional(s.text(3))};
  }

  PutResult create_repo(std::string_view user, std::string_view repo, std::string_view meta_json,
                        ByteView content, bool is_public, const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt u(*stmts_, "SELECT 1 FROM users WHERE name = ?");
      u.bind(1, user);
      require(u.step(), ErrorKind::kInternal, "drawbridge.store.no_user", "user does not exist");
    }
    Stmt s(*stmts_, "INSERT INTO repos(user, name, meta, content, public) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING");
    s.bind(1, user).bind(2, repo).bind(3, meta_json).bind(4, content).bind(5, std::int64_t{is_public}).step();
    auto result = sqlite3_changes(db_) == 1 ? PutResult::Created : PutResult::Exists;
    if (audit && result == PutResult::Created) append_locked(*audit);
    tx.commit();
    return result;
  }

  std::optional<StoredRepo> get_repo(std::string_view user, std::string_view repo) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT meta, content, public FROM repos WHERE user = ? AND name = ?");
    s.bind(1, user).bind(2, repo);
    if (!s.step()) return std::nullopt;
    return StoredRepo{s.text(0), s.blob(1), s.integer(2) != 0};
  }

  bool replace_repo_config(std::string_view user, std::string_view repo, std::string_view meta_json,
                           ByteView content) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    Stmt s(*stmts_, "UPDATE repos SET meta = ?, content = ? WHERE user = ? AND name = ?");
    s.bind(1, meta_json).bind(2, content).bind(3, user).bind(4, repo).step();
    bool found = sqlite3_changes(db_) == 1;
    tx.commit();
    return found;
  }

  std::vector<std::pair<std::string, bool>> list_repos(std::string_view user) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT name, public FROM repos WHERE user = ? ORDER BY name");
    s.bind(1, user);
    std::vector<std::pair<std::string, bool>> out;
    while (s.step()) out.emplace_back(s.text(0), s.integer(1) != 0);
    return out;
  }

  PutResult put_tag(std::string_view user, std::string_view repo, std::string_view tag,
                    std::string_view meta_json, ByteView content,
                    std::string_view root_entry_json, const QuotaLimits& quota) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt r(*stmts_, "SELECT 1 FROM repos WHERE user = ? AND name = ?");
      r.bind(1, user).bind(2, repo);
      require(r.step(), ErrorKind::kInternal, "drawbridge.store.no_repo", "repository does not exist");
    }
    require(!tombstoned_locked(user, repo, tag), ErrorKind::kConflict, "drawbridge.tag.deleted",
            "this tag was deleted; its name is not published again");
    {
      Stmt t(*stmts_, "SELECT id, complete FROM tags WHERE user = ? AND repo = ? AND name = ?");
      t.bind(1, user).bind(2, repo).bind(3, tag);
      if (t.step()) {
        if (t.integer(1) != 0) return PutResult::Exists;
        const auto id = t.integer(0);
        if (auto root = get_node_locked(id, ""); root && root->entry_json == root_entry_json) {
          // Same tree: resume. Replace the tag body (e.g. a fresh signature over the same root).
          Stmt u(*stmts_, "UPDATE tags SET meta = ?, content = ?, touched = ? WHERE id = ?");
          u.bind(1, meta_json).bind(2, content).bind(3, now_seconds()).bind(4, id).step();
          tx.commit();
          return PutResult::Resumed;
        }
        Stmt d(*stmts_, "DELETE FROM tags WHERE id = ?");
        d.bind(1, id).step();
      } else if (quota.max_tags != 0) {
        // A new tag. BEGIN IMMEDIATE makes this the only writer: the count is exact.
        const auto used = usage_locked(user).tags;
        if (used >= quota.max_tags) throw quota_tags_reached(user, used, quota.max_tags);
      }
    }
    Stmt ins(*stmts_,
             "INSERT INTO tags(user, repo, name, meta, content, complete, missing, touched) VALUES(?,?,?,?,?,0,1,?)");
    ins.bind(1, user).bind(2, repo).bind(3, tag).bind(4, meta_json).bind(5, content).bind(6, now_seconds()).step();
    auto id = sqlite3_last_insert_rowid(db_);
    Stmt n(*stmts_, "INSERT INTO nodes(tag_id, path, entry, present) VALUES(?, '', ?, 0)");
    n.bind(1, id).bind(2, root_entry_json).step();
    tx.commit();
    return PutResult::Created;
  }

  std::optional<StoredTag> get_tag(std::string_view user, std::string_view repo,
                                   std::string_view tag) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT id, meta, content, complete, yanked FROM tags WHERE user = ? AND repo = ? AND name = ?");
    s.bind(1, user).bind(2, repo).bind(3, tag);
    if (!s.step()) return std::nullopt;
    return StoredTag{s.integer(0), s.text(1), s.blob(2), s.integer(3) != 0, s.integer(4) != 0};
  }

  std::vector<std::string> list_tags(std::string_view user, std::string_view repo) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT name FROM tags WHERE user = ? AND repo = ? AND complete = 1 AND yanked = 0");
    s.bind(1, user).bind(2, repo);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  std::optional<StoredNode> get_node(std::int64_t tag_id, std::string_view path) override {
    std::lock_guard lock(mu_);
    return get_node_locked(tag_id, path);
  }

  NodePutOutcome put_node(std::int64_t tag_id, std::string_view path, std::string_view blob_key,
                          ByteView content, const std::vector<ChildExpectation>& children,
                          const AuditEvent* on_complete, const QuotaLimits& quota) override {
    // Cheap pre-check so refused uploads do not write blobs.
    {
      std::lock_guard lock(mu_);
      if (auto r = precheck(tag_id, path)) return {*r, false};
    }
    // GC may delete the blob between our finding it stored (deduplicated) and the commit of
    // the reference: commit_node checks it under the write lock GC deletes under, and when it
    // is gone we store it again.
    for (int attempt = 0;; ++attempt) {
      write_blob(blob_key, content);
      if (test_hooks_.before_node_reference) test_hooks_.before_node_reference(blob_key);
      if (auto out = commit_node(tag_id, path, blob_key, children, on_complete, quota)) return *out;
      blob_vanished(blob_key, attempt);
    }
  }

  std::unique_ptr<BlobSpool> spool(std::vector<DigestAlgorithm> algorithms) override {
    return std::make_unique<BlobSpool>(dir_ / "tmp", std::move(algorithms));
  }

  NodePutOutcome put_node_spooled(std::int64_t tag_id, std::string_view path, std::string_view blob_key,
                                  BlobSpool& spool, const std::vector<ChildExpectation>& children,
                                  const AuditEvent* on_complete, const QuotaLimits& quota) override {
    {
      std::lock_guard lock(mu_);
      if (auto r = precheck(tag_id, path)) return {*r, false};
    }
    // The spool is on the blobs' file system: keeping it is fsync + link, no copy. A link, not
    // a rename: the spool stays until the reference is committed, so that a blob GC deletes
    // in between (see put_node) can be put back from it.
    auto target = blob_path(blob_key);
    for (int attempt = 0;; ++attempt) {
      std::error_code ec;
      if (!fs::exists(target, ec)) {
        make_shard(target.parent_path());
        if (::fsync(spool.fd()) != 0) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "fsync", spool.path(), errno);
        // EEXIST: a concurrent upload of the same content placed it (complete, content-addressed).
        if (::link(spool.path().c_str(), target.c_str()) != 0 && errno != EEXIST)
          throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "link onto", target, errno);
        fsync_directory(target.parent_path());
      }
      if (test_hooks_.before_node_reference) test_hooks_.before_node_reference(blob_key);
      if (auto out = commit_node(tag_id, path, blob_key, children, on_complete, quota)) return *out;
      blob_vanished(blob_key, attempt);
    }
  }

  // nullopt: the blob is not stored (any more); the caller stores it again and retries.
  std::optional<NodePutOutcome> commit_node(std::int64_t tag_id, std::string_view path, std::string_view blob_key,
                                            const std::vector<ChildExpectation>& children,
                                            const AuditEvent* on_complete, const QuotaLimits& quota) {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    if (auto r = precheck(tag_id, path)) return NodePutOutcome{*r, false};
    if (quota.max_bytes != 0) check_byte_quota_locked(tag_id, path, quota.max_bytes);
    // GC deletes blob files only inside a write transaction in which it found them
    // unreferenced: present now, it stays so until this reference commits.
    {
      std::error_code ec;
      if (!fs::exists(blob_path(blob_key), ec)) return std::nullopt;
    }
    {
      Stmt u(*stmts_, "UPDATE nodes SET present = 1, blob = ? WHERE tag_id = ? AND path = ?");
      u.bind(1, blob_key).bind(2, tag_id).bind(3, path).step();
    }
    for (const auto& c : children) {
      Stmt i(*stmts_, "INSERT INTO nodes(tag_id, path, entry, present) VALUES(?,?,?,0)");
      i.bind(1, tag_id).bind(2, c.path).bind(3, c.entry_json).step();
    }
    std::int64_t missing;
    {
      Stmt m(*stmts_, "UPDATE tags SET missing = missing - 1 + ?, touched = ? WHERE id = ? RETURNING missing");
      m.bind(1, static_cast<std::int64_t>(children.size())).bind(2, now_seconds()).bind(3, tag_id);
      if (!m.step()) throw Error(ErrorKind::kInternal, "drawbridge.store.backend", "tag vanished inside a transaction");
      missing = m.integer(0);
    }
    bool completed = false;
    if (missing == 0) {
      Stmt c(*stmts_, "UPDATE tags SET complete = 1 WHERE id = ?");
      c.bind(1, tag_id).step();
      completed = true;
      if (on_complete) append_locked(*on_complete);
    }
    tx.commit();
    return NodePutOutcome{NodePutResult::Created, completed};
  }

  Bytes read_blob(std::string_view blob_key) override {
    auto path = blob_path(blob_key);
    std::error_code ec;
    if (!fs::exists(path, ec))
      throw Error(ErrorKind::kInternal, "drawbridge.store.blob_missing", "blob " + std::string(blob_key) + " is missing");
    return read_file(path, std::size_t{1} << 40);
  }

  std::optional<std::string> blob_file(std::string_view blob_key) override {
    auto path = blob_path(blob_key);
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;
    return path.string();
  }

  std::vector<UserRef> user_for(std::string_view issuer, std::string_view subject) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT name, issuer FROM users WHERE subject = ? AND (issuer = ? OR issuer IS NULL) ORDER BY name");
    s.bind(1, subject).bind(2, issuer);
    std::vector<UserRef> out;
    while (s.step()) out.push_back({s.text(0), s.is_null(1) ? std::nullopt : std::optional(s.text(1))});
    return out;
  }

  PutResult put_grant(std::string_view user, std::string_view repo, Grantee kind, std::string_view grantee,
                      Access access, const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt r(*stmts_, "SELECT 1 FROM repos WHERE user = ? AND name = ?");
      r.bind(1, user).bind(2, repo);
      require(r.step(), ErrorKind::kNotFound, "drawbridge.store.no_repo", "repository does not exist");
    }
    if (kind == Grantee::User) {
      Stmt u(*stmts_, "SELECT 1 FROM users WHERE name = ?");
      u.bind(1, grantee);
      require(u.step(), ErrorKind::kNotFound, "drawbridge.share.no_user", "no such user");
    } else {
      Stmt g(*stmts_, "SELECT 1 FROM user_groups WHERE owner = ? AND name = ?");
      g.bind(1, user).bind(2, grantee);
      require(g.step(), ErrorKind::kNotFound, "drawbridge.share.no_group", "no such group");
    }
    bool existed;
    {
      Stmt e(*stmts_, "SELECT 1 FROM repo_grants WHERE user = ? AND repo = ? AND kind = ? AND grantee = ?");
      e.bind(1, user).bind(2, repo).bind(3, to_string(kind)).bind(4, grantee);
      existed = e.step();
    }
    Stmt s(*stmts_,
           "INSERT INTO repo_grants(user, repo, kind, grantee, access) VALUES(?,?,?,?,?) "
           "ON CONFLICT(user, repo, kind, grantee) DO UPDATE SET access = excluded.access");
    s.bind(1, user).bind(2, repo).bind(3, to_string(kind)).bind(4, grantee).bind(5, to_string(access)).step();
    if (audit) append_locked(*audit);
    tx.commit();
    return existed ? PutResult::Exists : PutResult::Created;
  }

  bool delete_grant(std::string_view user, std::string_view repo, Grantee kind, std::string_view grantee,
                    const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    Stmt s(*stmts_, "DELETE FROM repo_grants WHERE user = ? AND repo = ? AND kind = ? AND grantee = ?");
    s.bind(1, user).bind(2, repo).bind(3, to_string(kind)).bind(4, grantee).step();
    const bool removed = sqlite3_changes(db_) == 1;
    if (removed && audit) append_locked(*audit);
    tx.commit();
    return removed;
  }

  std::vector<RepoGrant> list_grants(std::string_view user, std::string_view repo) override {
    std::lock_guard lock(mu_);
    // 'group' < 'user': DESC puts users first.
    Stmt s(*stmts_, "SELECT kind, grantee, access FROM repo_grants WHERE user = ? AND repo = ? ORDER BY kind DESC, grantee");
    s.bind(1, user).bind(2, repo);
    std::vector<RepoGrant> out;
    while (s.step())
      out.push_back({s.text(0) == "group" ? Grantee::Group : Grantee::User, s.text(1),
                     s.text(2) == "write" ? Access::Write : Access::Read});
    return out;
  }

  std::optional<Access> access_of(std::string_view user, std::string_view repo, std::string_view member) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_,
           "SELECT MAX(g.access = 'write') FROM repo_grants g WHERE g.user = ?1 AND g.repo = ?2 AND "
           "((g.kind = 'user' AND g.grantee = ?3) OR (g.kind = 'group' AND EXISTS("
           "SELECT 1 FROM group_members m WHERE m.owner = ?1 AND m.grp = g.grantee AND m.member = ?3)))");
    s.bind(1, user).bind(2, repo).bind(3, member);
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return s.integer(0) != 0 ? Access::Write : Access::Read;
  }

  PutResult create_group(std::string_view owner, std::string_view group, const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt u(*stmts_, "SELECT 1 FROM users WHERE name = ?");
      u.bind(1, owner);
      require(u.step(), ErrorKind::kInternal, "drawbridge.store.no_user", "user does not exist");
    }
    Stmt s(*stmts_, "INSERT INTO user_groups(owner, name) VALUES(?,?) ON CONFLICT DO NOTHING");
    s.bind(1, owner).bind(2, group).step();
    auto result = sqlite3_changes(db_) == 1 ? PutResult::Created : PutResult::Exists;
    if (audit && result == PutResult::Created) append_locked(*audit);
    tx.commit();
    return result;
  }

  bool delete_group(std::string_view owner, std::string_view group, const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt g(*stmts_, "DELETE FROM repo_grants WHERE user = ? AND kind = 'group' AND grantee = ?");
      g.bind(1, owner).bind(2, group).step();
    }
    Stmt s(*stmts_, "DELETE FROM user_groups WHERE owner = ? AND name = ?");  // members cascade
    s.bind(1, owner).bind(2, group).step();
    const bool removed = sqlite3_changes(db_) == 1;
    if (removed && audit) append_locked(*audit);
    tx.commit();
    return removed;
  }

  std::vector<std::string> list_groups(std::string_view owner) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT name FROM user_groups WHERE owner = ? ORDER BY name");
    s.bind(1, owner);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  std::optional<std::vector<std::string>> group_members(std::string_view owner, std::string_view group) override {
    std::lock_guard lock(mu_);
    {
      Stmt g(*stmts_, "SELECT 1 FROM user_groups WHERE owner = ? AND name = ?");
      g.bind(1, owner).bind(2, group);
      if (!g.step()) return std::nullopt;
    }
    Stmt s(*stmts_, "SELECT member FROM group_members WHERE owner = ? AND grp = ? ORDER BY member");
    s.bind(1, owner).bind(2, group);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  PutResult add_member(std::string_view owner, std::string_view group, std::string_view member,
                       const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt g(*stmts_, "SELECT 1 FROM user_groups WHERE owner = ? AND name = ?");
      g.bind(1, owner).bind(2, group);
      require(g.step(), ErrorKind::kNotFound, "drawbridge.share.no_group", "no such group");
    }
    {
      Stmt u(*stmts_, "SELECT 1 FROM users WHERE name = ?");
      u.bind(1, member);
      require(u.step(), ErrorKind::kNotFound, "drawbridge.share.no_user", "no such user");
    }
    Stmt s(*stmts_, "INSERT INTO group_members(owner, grp, member) VALUES(?,?,?) ON CONFLICT DO NOTHING");
    s.bind(1, owner).bind(2, group).bind(3, member).step();
    auto result = sqlite3_changes(db_) == 1 ? PutResult::Created : PutResult::Exists;
    if (audit && result == PutResult::Created) append_locked(*audit);
    tx.commit();
    return result;
  }

  bool remove_member(std::string_view owner, std::string_view group, std::string_view member,
                     const AuditEvent* audit) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    Stmt s(*stmts_, "DELETE FROM group_members WHERE owner = ? AND grp = ? AND member = ?");
    s.bind(1, owner).bind(2, group).bind(3, member).step();
    const bool removed = sqlite3_changes(db_) == 1;
    if (removed && audit) append_locked(*audit);
    tx.commit();
    return removed;
  }

  // ---- web UI (docs/drawbridge.md "Web UI") ----
  std::vector<std::string> list_public_users(std::string_view after, std::size_t limit) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT DISTINCT user FROM repos WHERE public = 1 AND user > ? ORDER BY user LIMIT ?");
    s.bind(1, after);
    s.bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  std::string describe() const override { return "sqlite:" + dir_.string(); }

 private:
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) sql_fail(db_, "exec");
  }

  // Databases created before a column existed get it here. SQLite has no ADD COLUMN IF NOT
  // EXISTS, so look first; BEGIN IMMEDIATE keeps a second process opening the same directory
  // from adding it twice.
  void migrate() {
    Transaction tx(db_);
    bool has_issuer = false;
    {
      Stmt s(*stmts_, "SELECT 1 FROM pragma_table_info('users') WHERE name = 'issuer'");
      has_issuer = s.step();
    }
    // Existing users keep a NULL issuer: who registered them is unknown (see Registry).
    if (!has_issuer) exec("ALTER TABLE users ADD COLUMN issuer TEXT");
    tx.commit();
  }

  std::optional<StoredNode> get_node_locked(std::int64_t tag_id, std::string_view path) {
    Stmt s(*stmts_, "SELECT entry, present, blob FROM nodes WHERE tag_id = ? AND path = ?");
    s.bind(1, tag_id).bind(2, path);
    if (!s.step()) return std::nullopt;
    return StoredNode{s.text(0), s.integer(1) != 0, s.is_null(2) ? std::string() : s.text(2)};
  }

  std::optional<NodePutResult> precheck(std::int64_t tag_id, std::string_view path) {
    Stmt t(*stmts_, "SELECT complete FROM tags WHERE id = ?");
    t.bind(1, tag_id);
    if (!t.step()) return NodePutResult::TagGone;
    auto node = get_node_locked(tag_id, path);
    if (!node) return NodePutResult::NotExpected;
    if (node->present) return NodePutResult::Exists;
    return std::nullopt;
  }

  fs::path blob_path(std::string_view key) const {
    require(key.size() == 64 && key.find_first_not_of("0123456789abcdef") == std::string_view::npos, ErrorKind::kInvalidInput,
            "drawbridge.store.blob_key", "malformed blob key");
    return dir_ / "blobs" / "sha256" / std::string(key.substr(0, 2)) / std::string(key);
  }

  void make_shard(const fs::path& shard) {
    std::error_code ec;
    if (fs::exists(shard, ec)) return;
    // With an error code: a full disk must arrive as io.no_space, not as a filesystem_error.
    fs::create_directories(shard, ec);
    if (ec) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "mkdir", shard, ec.value());
    fsync_directory(shard.parent_path());
  }

  void write_blob(std::string_view key, ByteView content) {
    auto target = blob_path(key);
    std::error_code ec;
    if (fs::exists(target, ec)) return;  // content-addressed: an existing blob is complete
    auto shard = target.parent_path();
    make_shard(shard);
    auto tmp = dir_ / "tmp" / (std::string(key) + "." + to_hex(random_bytes(8)));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "create", tmp, errno);
    try {
      write_all(fd, content, tmp.string());
      if (::fsync(fd) != 0) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "fsync", tmp, errno);
    } catch (...) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "rename onto", target, err);
    }
    fsync_directory(shard);
  }

  // ---- yank, delete, registry audit log, quotas ----
 public:
  std::vector<TagSummary> list_tag_summaries(std::string_view user, std::string_view repo) override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT name, yanked FROM tags WHERE user = ? AND repo = ? AND complete = 1 ORDER BY name");
    s.bind(1, user).bind(2, repo);
    std::vector<TagSummary> out;
    while (s.step()) out.push_back({s.text(0), s.integer(1) != 0});
    return out;
  }

  YankResult set_yanked(std::string_view user, std::string_view repo, std::string_view tag, bool yanked,
                        const AuditEvent& event) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    std::int64_t was;
    {
      Stmt t(*stmts_, "SELECT yanked FROM tags WHERE user = ? AND repo = ? AND name = ? AND complete = 1");
      t.bind(1, user).bind(2, repo).bind(3, tag);
      if (!t.step()) return YankResult::NotFound;
      was = t.integer(0);
    }
    if ((was != 0) == yanked) return YankResult::Unchanged;
    {
      Stmt u(*stmts_, "UPDATE tags SET yanked = ? WHERE user = ? AND repo = ? AND name = ?");
      u.bind(1, std::int64_t{yanked}).bind(2, user).bind(3, repo).bind(4, tag).step();
    }
    append_locked(event);
    tx.commit();
    return YankResult::Changed;
  }

  bool delete_tag(std::string_view user, std::string_view repo, std::string_view tag,
                  const AuditEvent& event) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    std::int64_t id, complete;
    {
      Stmt t(*stmts_, "SELECT id, complete FROM tags WHERE user = ? AND repo = ? AND name = ?");
      t.bind(1, user).bind(2, repo).bind(3, tag);
      if (!t.step()) return false;
      id = t.integer(0);
      complete = t.integer(1);
    }
    if (complete != 0) {
      Stmt b(*stmts_, "INSERT OR IGNORE INTO tag_tombstones(user, repo, name) VALUES(?,?,?)");
      b.bind(1, user).bind(2, repo).bind(3, tag).step();
    }
    {
      Stmt d(*stmts_, "DELETE FROM tags WHERE id = ?");  // its nodes cascade
      d.bind(1, id).step();
    }
    append_locked(event);
    tx.commit();
    return true;
  }

  bool delete_repo(std::string_view user, std::string_view repo, const AuditEvent& event) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    {
      Stmt r(*stmts_, "SELECT 1 FROM repos WHERE user = ? AND name = ?");
      r.bind(1, user).bind(2, repo);
      if (!r.step()) return false;
    }
    {
      Stmt b(*stmts_,
             "INSERT OR IGNORE INTO tag_tombstones(user, repo, name) "
             "SELECT user, repo, name FROM tags WHERE user = ? AND repo = ? AND complete = 1");
      b.bind(1, user).bind(2, repo).step();
    }
    for (const char* sql : {"DELETE FROM tags WHERE user = ? AND repo = ?", "DELETE FROM repo_grants WHERE user = ? AND repo = ?",
                            "DELETE FROM repos WHERE user = ? AND name = ?"}) {
      Stmt d(*stmts_, sql);
      d.bind(1, user).bind(2, repo).step();
    }
    append_locked(event);
    tx.commit();
    return true;
  }

  bool tag_tombstoned(std::string_view user, std::string_view repo, std::string_view tag) override {
    std::lock_guard lock(mu_);
    return tombstoned_locked(user, repo, tag);
  }

  void append_audit(const AuditEvent& event) override {
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    append_locked(event);
    tx.commit();
  }

  std::vector<AuditRecord> read_audit(std::optional<std::string_view> user, std::int64_t after,
                                      std::size_t limit) override {
    std::lock_guard lock(mu_);
    constexpr const char* kColumns = "SELECT seq, at, action, user, repo, tag, actor_issuer, actor_subject, detail FROM registry_audit ";
    Stmt s(*stmts_, std::string(kColumns) + (user ? "WHERE user = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2"
                                                   : "WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
    s.bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    if (user) s.bind(3, *user);
    std::vector<AuditRecord> out;
    while (s.step())
      out.push_back({s.integer(0), AuditEvent{s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6),
                                              s.text(7), s.text(8)}});
    return out;
  }

  QuotaUsage usage(std::string_view user) override {
    std::lock_guard lock(mu_);
    return usage_locked(user);
  }

 private:
  QuotaUsage usage_locked(std::string_view user) {
    QuotaUsage u;
    {
      Stmt t(*stmts_, "SELECT COUNT(*) FROM tags WHERE user = ?");
      t.bind(1, user).step();
      u.tags = static_cast<std::uint64_t>(t.integer(0));
    }
    // The entry's declared length: what the node's upload was checked against.
    Stmt b(*stmts_,
           "SELECT COALESCE(SUM(json_extract(n.entry, '$.length')), 0) FROM nodes n JOIN tags t ON t.id = n.tag_id "
           "WHERE t.user = ? AND n.present = 1");
    b.bind(1, user).step();
    u.bytes = static_cast<std::uint64_t>(b.integer(0));
    return u;
  }

  // Inside the node's write transaction (BEGIN IMMEDIATE: the only writer, in this process and
  // any other on the same database), so usage is exact and no concurrent upload can slip in
  // between the check and the commit.
  void check_byte_quota_locked(std::int64_t tag_id, std::string_view path, std::uint64_t max) {
    Stmt n(*stmts_,
           "SELECT t.user, json_extract(n.entry, '$.length') FROM nodes n JOIN tags t ON t.id = n.tag_id "
           "WHERE n.tag_id = ? AND n.path = ?");
    n.bind(1, tag_id).bind(2, path);
    if (!n.step()) throw Error(ErrorKind::kInternal, "drawbridge.store.backend", "node vanished inside a transaction");
    const auto owner = n.text(0);
    const auto length = static_cast<std::uint64_t>(n.integer(1));
    const auto used = usage_locked(owner).bytes;
    if (exceeds_byte_quota(used, length, max)) throw quota_bytes_exceeded(owner, used, max, length);
  }

  // The tables and triggers of this section, created in databases of earlier versions too.
  // Append-only is the database's rule, not only this code's: the triggers refuse any UPDATE or
  // DELETE of an audit row, whoever runs it. The tombstone trigger backs put_tag's own check.
  void ops_schema() {
    Transaction tx(db_);
    bool has_yanked = false;
    {
      Stmt s(*stmts_, "SELECT 1 FROM pragma_table_info('tags') WHERE name = 'yanked'");
      has_yanked = s.step();
    }
    if (!has_yanked) exec("ALTER TABLE tags ADD COLUMN yanked INTEGER NOT NULL DEFAULT 0");
    exec(R"sql(
      CREATE TABLE IF NOT EXISTS registry_audit(
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL, user TEXT NOT NULL,
        repo TEXT NOT NULL, tag TEXT NOT NULL, actor_issuer TEXT NOT NULL, actor_subject TEXT NOT NULL,
        detail TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS registry_audit_by_user ON registry_audit(user, seq);
      CREATE TRIGGER IF NOT EXISTS registry_audit_no_update BEFORE UPDATE ON registry_audit
        BEGIN SELECT RAISE(ABORT, 'registry_audit is append-only'); END;
      CREATE TRIGGER IF NOT EXISTS registry_audit_no_delete BEFORE DELETE ON registry_audit
        BEGIN SELECT RAISE(ABORT, 'registry_audit is append-only'); END;
      CREATE TABLE IF NOT EXISTS tag_tombstones(
        user TEXT NOT NULL, repo TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(user, repo, name));
      CREATE TRIGGER IF NOT EXISTS tags_not_tombstoned BEFORE INSERT ON tags
        WHEN EXISTS(SELECT 1 FROM tag_tombstones WHERE user = NEW.user AND repo = NEW.repo AND name = NEW.name)
        BEGIN SELECT RAISE(ABORT, 'tag name was deleted'); END;
    )sql");
    tx.commit();
  }

  bool tombstoned_locked(std::string_view user, std::string_view repo, std::string_view tag) {
    Stmt s(*stmts_, "SELECT 1 FROM tag_tombstones WHERE user = ? AND repo = ? AND name = ?");
    s.bind(1, user).bind(2, repo).bind(3, tag);
    return s.step();
  }

  void append_locked(const AuditEvent& e) {
    Stmt s(*stmts_,
           "INSERT INTO registry_audit(at, action, user, repo, tag, actor_issuer, actor_subject, detail) "
           "VALUES(?,?,?,?,?,?,?,?)");
    s.bind(1, e.at).bind(2, e.action).bind(3, e.user).bind(4, e.repo).bind(5, e.tag).bind(6, e.actor_issuer)
        .bind(7, e.actor_subject).bind(8, e.detail).step();
  }

  fs::path dir_;
  sqlite3* db_ = nullptr;
  std::optional<StatementCache> stmts_;  // for db_; under mu_ like db_
  std::mutex mu_;

  // ---- garbage collection ----
  // Blob files are deleted only inside a SQLite write transaction (BEGIN IMMEDIATE: one
  // writer across processes, so `drawbridge gc` beside `drawbridge serve` too) in which no
  // node row references them; commit_node checks, inside its own write transaction, that the
  // blob it references is present, and stores it again otherwise. So a reference is never
  // committed to a file GC deletes: either GC's transaction comes first (the upload sees the
  // file gone and restores it) or the upload's does (GC sees the reference). Marking (the
  // directory walk and a first reference check) runs without the write lock; only candidates
  // are re-checked, a batch at a time, so uploads wait for one batch at most.
 public:
  GcReport collect_garbage(const GcOptions& o) override {
    GcReport report;
    report.dry_run = o.dry_run;
    const std::size_t batch = std::max<std::size_t>(1, o.batch_size);
    const std::int64_t cutoff = now_seconds() - static_cast<std::int64_t>(o.pending_ttl.count());
    // Blob files changed at or after this (seconds since the epoch) are kept.
    const std::int64_t young_after = o.min_blob_age.count() <= 0
                                         ? std::numeric_limits<std::int64_t>::max()
                                         : now_seconds() - static_cast<std::int64_t>(o.min_blob_age.count());
    expire_pending(o, cutoff, batch, report);
    std::vector<GcBlob> found;
    const auto root = dir_ / "blobs" / "sha256";
    std::error_code ec;
    for (fs::directory_iterator shard(root, ec), end; shard != end; shard.increment(ec)) {
      if (ec) break;
      std::error_code dec;
      if (!shard->is_directory(dec)) continue;
      for (fs::directory_iterator f(shard->path(), dec), fend; f != fend; f.increment(dec)) {
        if (dec) break;
        auto name = f->path().filename().string();
        if (!is_blob_key(name)) continue;  // not a blob (never created by the store): left alone
        struct stat st {};
        if (::lstat(f->path().c_str(), &st) != 0 || young(st, young_after)) continue;  // gone meanwhile, or young
        found.push_back({std::move(name), static_cast<std::uint64_t>(st.st_size)});
        if (found.size() >= batch) {
          gc_batch(o, cutoff, young_after, found, report);
          found.clear();
        }
      }
      if (dec) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "read directory", shard->path(), dec.value());
    }
    if (ec) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "read directory", root, ec.value());
    if (!found.empty()) gc_batch(o, cutoff, young_after, found, report);
    return report;
  }

 private:
  static std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  // ctime, not mtime: link() and rename() change it, so a spool linked into place is young.
  static bool young(const struct stat& st, std::int64_t young_after) { return st.st_ctim.tv_sec >= young_after; }

  static bool is_blob_key(std::string_view name) {
    return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  }

  // tags.touched (seconds since the epoch): when a pending tag was created, resumed or last
  // given a node. Tags of earlier versions count from this upgrade. nodes_by_blob makes the
  // reference checks index lookups.
  void migrate_gc() {
    Transaction tx(db_);
    bool has_touched = false;
    {
      Stmt s(*stmts_, "SELECT 1 FROM pragma_table_info('tags') WHERE name = 'touched'");
      has_touched = s.step();
    }
    if (!has_touched) exec("ALTER TABLE tags ADD COLUMN touched INTEGER");
    {
      Stmt u(*stmts_, "UPDATE tags SET touched = ? WHERE touched IS NULL");
      u.bind(1, now_seconds()).step();
    }
    exec("CREATE INDEX IF NOT EXISTS nodes_by_blob ON nodes(blob)");
    exec("CREATE INDEX IF NOT EXISTS tags_pending ON tags(complete, touched)");
    tx.commit();
  }

  static void blob_vanished(std::string_view blob_key, int attempt) {
    // Each retry needs another GC run to have found the blob unreferenced in between.
    if (attempt >= 8)
      throw Error(ErrorKind::kInternal, "drawbridge.store.backend",
                  "blob " + std::string(blob_key) + " kept vanishing before its node was recorded");
  }

  // Batches of up to `batch` expired pending tags, each deleted (its nodes cascade) in one
  // transaction; callbacks run outside the lock.
  void expire_pending(const GcOptions& o, std::int64_t cutoff, std::size_t batch, GcReport& report) {
    std::int64_t after = 0;
    for (;;) {
      std::vector<GcExpiredTag> tags;
      {
        std::lock_guard lock(mu_);
        if (o.dry_run) {
          Stmt s(*stmts_,
                 "SELECT id, user, repo, name FROM tags WHERE complete = 0 AND touched < ? AND id > ? ORDER BY id LIMIT ?");
          s.bind(1, cutoff).bind(2, after).bind(3, static_cast<std::int64_t>(batch));
          while (s.step()) {
            after = s.integer(0);
            tags.push_back({s.text(1), s.text(2), s.text(3)});
          }
        } else {
          Transaction tx(db_);
          Stmt d(*stmts_,
                 "DELETE FROM tags WHERE id IN (SELECT id FROM tags WHERE complete = 0 AND touched < ? LIMIT ?) "
                 "RETURNING user, repo, name");
          d.bind(1, cutoff).bind(2, static_cast<std::int64_t>(batch));
          while (d.step()) tags.push_back({d.text(0), d.text(1), d.text(2)});
          tx.commit();
        }
      }
      report.expired_tags += tags.size();
      if (o.on_expired_tag)
        for (const auto& t : tags) o.on_expired_tag(t);
      if (tags.size() < batch) return;
    }
  }

  // A node row references the blob. With `live_cutoff` (dry runs, which delete no tags): only
  // nodes of tags a real run would keep count.
  bool referenced(std::string_view key, std::optional<std::int64_t> live_cutoff) {
    if (live_cutoff) {
      Stmt s(*stmts_,
             "SELECT 1 FROM nodes n JOIN tags t ON t.id = n.tag_id WHERE n.blob = ? AND "
             "(t.complete = 1 OR t.touched IS NULL OR t.touched >= ?) LIMIT 1");
      s.bind(1, key).bind(2, *live_cutoff);
      return s.step();
    }
    Stmt s(*stmts_, "SELECT 1 FROM nodes WHERE blob = ? LIMIT 1");
    s.bind(1, key);
    return s.step();
  }

  void gc_batch(const GcOptions& o, std::int64_t cutoff, std::int64_t young_after, std::vector<GcBlob>& found,
                GcReport& report) {
    std::vector<GcBlob> candidates;
    {
      std::lock_guard lock(mu_);
      for (auto& b : found)
        if (!referenced(b.key, o.dry_run ? std::optional(cutoff) : std::nullopt)) candidates.push_back(std::move(b));
    }
    if (candidates.empty()) return;
    std::vector<GcBlob> freed;
    if (o.dry_run) {
      freed = std::move(candidates);
    } else {
      if (o.before_sweep) {
        std::vector<std::string> keys;
        keys.reserve(candidates.size());
        for (const auto& b : candidates) keys.push_back(b.key);
        o.before_sweep(keys);
      }
      // Lock order: gc.lock (a backup holds it shared), then mu_, then SQLite's write lock.
      GcFileLock backup_lock(dir_ / "gc.lock");
      std::lock_guard lock(mu_);
      Transaction tx(db_);
      for (auto& b : candidates) {
        if (referenced(b.key, std::nullopt)) continue;  // referenced since the mark
        const auto p = blob_path(b.key);
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
          if (errno == ENOENT) continue;  // another GC was first
          throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "stat", p, errno);
        }
        if (young(st, young_after)) continue;  // restored by an upload since the mark
        if (::unlink(p.c_str()) != 0) {
          if (errno == ENOENT) continue;
          throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "unlink", p, errno);
        }
        // Not fsynced: a deletion lost in a crash leaves an unreferenced blob, freed next time.
        freed.push_back({std::move(b.key), static_cast<std::uint64_t>(st.st_size)});
      }
      tx.commit();  // wrote nothing: ends the write lock
    }
    for (const auto& b : freed) {
      ++report.blobs;
      report.bytes += b.bytes;
      if (o.on_blob) o.on_blob(b);
    }
  }
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& data_dir) {
  return std::make_unique<SqliteStore>(data_dir);
}

// ---- garbage collection (opening) ----
std::unique_ptr<Store> open_sqlite_store_shared(const std::string& data_dir) {
  return std::make_unique<SqliteStore>(data_dir, /*own_tmp=*/false);
}

}  // namespace enarx::drawbridge
