// The embedded back end: one SQLite file (<state_dir>/index.sqlite3), WAL, synchronous=FULL.
//
// One connection per CertIndex, used under its mutex. Every write is a BEGIN IMMEDIATE
// transaction, so writers (threads here, or other processes on the same file) take SQLite's
// write lock before reading what they decide on: the revocation epoch, the CRL's number and the
// audit ids are read and written by one writer at a time. A writer that cannot get the lock
// within the busy timeout fails with steward.index.unavailable.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "core/error.h"
#include "sqlite/coalescing_vfs.h"
#include "sqlite/wal_mode.h"
#include "steward/index/cert_index.h"
#include "steward/index/group_commit.h"
#include "steward/index/index_detail.h"

namespace enarx::steward {
namespace {

using namespace index_detail;
namespace fs = std::filesystem;

constexpr int kBusyTimeoutMs = 10000;
// The connection's page cache. SQLite's default (2 MiB) let the pages a commit touches (the
// serial and keep indexes, the table's right edge) fall out between commits once certificates
// overflow onto their own pages, and read them back from the WAL: 1.4 reads per certificate.
constexpr int kPageCacheKiB = 16 * 1024;

[[noreturn]] void sql_fail(sqlite3* db, std::string_view what) {
  const int rc = sqlite3_extended_errcode(db);
  const bool constraint = (rc & 0xff) == SQLITE_CONSTRAINT;
  // A constraint is a statement this code got wrong; anything else (busy past the timeout, a
  // full disk, an I/O error) means the index cannot be written now.
  throw Error(constraint ? ErrorKind::kInternal : ErrorKind::kUnavailable,
              constraint ? "steward.index.backend" : "steward.index.unavailable",
              "certificate index (SQLite) " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// Prepared statements, kept for the life of the connection (used under the index's mutex).
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() {
    for (auto& [sql, e] : entries_) sqlite3_finalize(e.stmt);
  }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

 private:
  friend class Stmt;
  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_;
  std::map<std::string, Entry, std::less<>> entries_;
};

sqlite3_stmt* prepare(sqlite3* db, std::string_view sql, unsigned flags) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt, nullptr) !=
      SQLITE_OK)
    sql_fail(db, "prepare");
  return stmt;
}

class Stmt {
 public:
  // `cache` = false: a one-off statement (the selector's dynamic SQL), finalized here.
  Stmt(StatementCache& cache, std::string_view sql, bool cached = true) : db_(cache.db_) {
    if (!cached) {
      stmt_ = prepare(db_, sql, 0);
      return;
    }
    auto it = cache.entries_.find(sql);
    if (it == cache.entries_.end()) {
      sqlite3_stmt* s = prepare(db_, sql, SQLITE_PREPARE_PERSISTENT);
      it = cache.entries_.emplace(std::string(sql), StatementCache::Entry{s, false}).first;
    }
    if (it->second.in_use) {
      stmt_ = prepare(db_, sql, 0);
      return;
    }
    entry_ = &it->second;
    entry_->in_use = true;
    stmt_ = entry_->stmt;
  }
  ~Stmt() {
    if (!entry_) {
      sqlite3_finalize(stmt_);
      return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    entry_->in_use = false;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, ByteView v) {
    check(sqlite3_bind_blob(stmt_, i, v.empty() ? "" : static_cast<const void*>(v.data()),
                            static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Stmt& bind_all(const std::vector<Param>& params) {
    int i = 1;
    for (const auto& p : params) {
      if (const auto* n = std::get_if<std::int64_t>(&p)) bind(i++, *n);
      else bind(i++, std::string_view(std::get<std::string>(p)));
    }
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sql_fail(db_, "step");
  }
  std::string text(int col) {
    auto p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  Bytes blob(int col) {
    auto p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
    return p ? Bytes(p, p + n) : Bytes();
  }
  std::int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) sql_fail(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  StatementCache::Entry* entry_ = nullptr;
};

// BEGIN IMMEDIATE (writes) or BEGIN (a read snapshot); rolled back unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, bool write) : db_(db) { exec(write ? "BEGIN IMMEDIATE" : "BEGIN"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
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

IssuedCertificate read_certificate(Stmt& s) {
  IssuedCertificate c;
  c.serial = s.text(0);
  c.issued_at = from_ns(s.integer(1));
  c.not_before = from_ns(s.integer(2));
  c.not_after = from_ns(s.integer(3));
  c.sans = strings_from_json(s.text(4));
  c.platform = s.text(5);
  c.measurement = s.text(6);
  c.signer = s.text(7);
  c.tcb_status = s.text(8);
  c.tcb_level = s.text(9);
  c.chip_id = s.text(10);
  c.ppid = s.text(11);
  c.fmspc = s.text(12);
  c.keep_identity = s.text(13);
  c.policy_digest = s.text(14);
  c.collateral_digests = strings_from_json(s.text(15));
  c.insecure = s.integer(16) != 0;
  c.issued_by = s.text(17);
  c.der = s.blob(18);
  return c;
}

constexpr const char* kRevocationColumns = "serial, revoked_at_ns, reason, detail, revoked_by";

RevocationRecord read_revocation(Stmt& s) {
  RevocationRecord r;
  r.serial = s.text(0);
  r.revoked_at = from_ns(s.integer(1));
  r.reason = reason_from_code(s.integer(2));
  r.detail = s.text(3);
  r.revoked_by = s.text(4);
  return r;
}

[[noreturn]] void open_fail(const std::string& path, const std::string& why) {
  throw Error(ErrorKind::kUnavailable, "steward.index.open",
              "cannot open the certificate index " + path + ": " + why);
}

// Missing directories are made 0700 (an existing one keeps its mode); the file is created 0600
// before SQLite opens it, and SQLite gives its -wal and -shm files the database file's mode.
void prepare_file(const std::string& path) {
  const fs::path p(path);
  const fs::path parent = p.parent_path();
  if (!parent.empty()) {
    std::vector<fs::path> missing;
    for (fs::path d = parent; !d.empty(); d = d.parent_path()) {
      std::error_code ec;
      if (fs::exists(d, ec)) break;
      missing.push_back(d);
      if (d == d.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST)
        open_fail(path, "mkdir " + it->string() + ": " + std::strerror(errno));
    }
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) open_fail(path, std::strerror(errno));
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                  ((st.st_mode & 077) == 0 || ::fchmod(fd, 0600) == 0);
  const int err = errno;
  ::close(fd);
  if (!ok) open_fail(path, std::string("not a regular file, or cannot make it 0600: ") + std::strerror(err));
}

class SqliteCertIndex final : public CertIndex {
 public:
  using CertIndex::revoke;  // and the one-argument form
  explicit SqliteCertIndex(const std::string& path) : path_(path) {
    if (path.empty()) open_fail(path, "no path");
    prepare_file(path);
    // NOMUTEX: every use of the connection is under mu_. The coalescing VFS writes a commit's
    // WAL frames in one system call per 124 KiB, not one per frame header and one per page
    // (docs/steward.md "The index's cost").
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        sqlite::coalescing_vfs()) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      open_fail(path, msg);
    }
    int found = 0;
    try {
      sqlite3_busy_timeout(db_, kBusyTimeoutMs);
      stmts_.emplace(db_);
      // Not a Stmt: a concurrent opener's schema transaction makes it SQLITE_BUSY at once,
      // past the busy timeout (wal_mode.h); CI failed on it with four replicas opening at once.
      const auto wal = sqlite::enter_wal_mode(db_, std::chrono::milliseconds(kBusyTimeoutMs));
      if (wal.rc != SQLITE_OK) sql_fail(db_, "PRAGMA journal_mode=WAL");
      if (wal.mode != "wal") {
        close();
        open_fail(path, "the database refused WAL mode (journal_mode=" + wal.mode + ")");
      }
      exec("PRAGMA synchronous=FULL");
      exec("PRAGMA foreign_keys=ON");
      exec(("PRAGMA cache_size=-" + std::to_string(kPageCacheKiB)).c_str());
      found = migrate();
    } catch (const Error& e) {
      if (!db_) throw;  // open_fail above
      close();
      open_fail(path, e.describe());
    }
    if (found > kSchemaVersion) {
      close();
      throw Error(ErrorKind::kUnavailable, "steward.index.schema_too_new",
                  "the certificate index " + path + " has schema version " + std::to_string(found) +
                      "; this steward knows versions up to " + std::to_string(kSchemaVersion));
    }
  }
  ~SqliteCertIndex() override {
    group_.stop();  // its committer writes through db_
    close();
  }

  std::vector<RevocationRecord> record_issued(std::span<const IssuedCertificate> certs,
                                              std::span<const nlohmann::json> audit) override {
    for (const auto& c : certs) check_certificate(c);
    return group_.submit(certs, audit);
  }

  void record_issued_async(std::span<const IssuedCertificate> certs, std::span<const nlohmann::json> audit,
                           IssuedCompletion done) override {
    submit_checked_async(group_, certs, audit, std::move(done));
  }

  std::optional<IssuedCertificate> find(std::string_view serial) const override {
    check_serial(serial);
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, std::string("SELECT ") + kCertColumns + " FROM certificates WHERE serial = ?1");
    s.bind(1, serial);
    if (!s.step()) return std::nullopt;
    return read_certificate(s);
  }

  std::vector<IssuedCertificate> list(const CertSelector& selector, TimePoint now, bool include_revoked,
                                      std::size_t limit, std::string_view after) const override {
    check_selector(selector, false);
    check_limit(limit, kMaxListLimit);
    if (!after.empty()) check_serial(after);
    if (limit == 0) return {};
    std::lock_guard lock(mu_);
    Transaction tx(db_, false);  // the cursor and the page from one snapshot
    Query q(false);
    q.sql = std::string("SELECT ") + kCertColumns + " FROM certificates c WHERE c.not_after_ns > " +
            q.bind(to_ns(now));
    if (!after.empty()) {
      Stmt cur(*stmts_, "SELECT issued_at_ns FROM certificates WHERE serial = ?1");
      cur.bind(1, after);
      require(cur.step(), ErrorKind::kInvalidInput, "steward.index.bad_cursor",
              "no certificate with serial " + std::string(after) + " to list after");
      const auto t = q.bind(cur.integer(0));
      const auto s = q.bind(std::string(after));
      q.sql += " AND (c.issued_at_ns > " + t + " OR (c.issued_at_ns = " + t + " AND c.serial > " + s + "))";
    }
    if (!include_revoked) q.sql += " AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.serial = c.serial)";
    append_selector(q, selector, "c");
    q.sql += " ORDER BY c.issued_at_ns, c.serial LIMIT " + q.bind(static_cast<std::int64_t>(limit));
    Stmt s(*stmts_, q.sql);
    s.bind_all(q.params);
    std::vector<IssuedCertificate> out;
    while (s.step()) out.push_back(read_certificate(s));
    return out;
  }

  std::size_t count_issued() const override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT COUNT(*) FROM certificates");
    s.step();
    return static_cast<std::size_t>(s.integer(0));
  }

  bool revoke(const RevocationRecord& record, const nlohmann::json& audit) override {
    check_serial(record.serial);
    check_reason(record.reason);
    check_revocation_text(record);
    const std::string audit_text = audit_to_text(audit);
    std::lock_guard lock(mu_);
    Transaction tx(db_, true);
    {
      Stmt c(*stmts_, "SELECT 1 FROM certificates WHERE serial = ?1");
      c.bind(1, record.serial);
      if (!c.step()) return false;
    }
    {
      Stmt r(*stmts_, "SELECT 1 FROM revocations WHERE serial = ?1");
      r.bind(1, record.serial);
      if (r.step()) return true;  // the first revocation stands
    }
    const std::int64_t epoch = bump_epoch();
    insert_revocation(record.serial, record, epoch);
    append_audit_row(record.revoked_at, audit_text);
    tx.commit();
    return true;
  }

  std::vector<std::string> revoke_matching(const CertSelector& selector, const RevocationRecord& how,
                                           TimePoint now) override {
    check_selector(selector, true);
    check_reason(how.reason);
    check_revocation_text(how);
    std::lock_guard lock(mu_);
    Transaction tx(db_, true);
    Query q(false);
    q.sql = "SELECT c.serial FROM certificates c WHERE c.not_after_ns > " + q.bind(to_ns(now)) +
            " AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.serial = c.serial)";
    append_selector(q, selector, "c");
    q.sql += " ORDER BY length(c.serial), c.serial LIMIT " +
             q.bind(static_cast<std::int64_t>(kMaxRevocationsListed + 1));
    std::vector<std::string> serials;
    {
      Stmt s(*stmts_, q.sql);
      s.bind_all(q.params);
      while (s.step()) serials.push_back(s.text(0));
    }
    require(serials.size() <= kMaxRevocationsListed, ErrorKind::kResourceExhausted, "steward.index.too_many",
            "the selector matches more than " + std::to_string(kMaxRevocationsListed) +
                " certificates; nothing was revoked");
    {
      // For the issuances in flight: they commit after this scan (insert() checks this table).
      Stmt r(*stmts_,
             "INSERT INTO selector_revocations(revoked_at_ns, selector, reason, detail, revoked_by) "
             "VALUES(?1,?2,?3,?4,?5)");
      r.bind(1, to_ns(how.revoked_at)).bind(2, selector_to_json(selector));
      r.bind(3, static_cast<std::int64_t>(how.reason)).bind(4, how.detail).bind(5, how.revoked_by).step();
    }
    if (!serials.empty()) {
      const std::int64_t epoch = bump_epoch();
      for (const auto& serial : serials) {
        insert_revocation(serial, how, epoch);
        RevocationRecord r = how;
        r.serial = serial;
        append_audit_row(how.revoked_at, audit_to_text(revocation_audit_record(r)));
      }
    }
    tx.commit();
    return serials;
  }

  std::optional<RevocationRecord> revocation(std::string_view serial) const override {
    check_serial(serial);
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, std::string("SELECT ") + kRevocationColumns + " FROM revocations WHERE serial = ?1");
    s.bind(1, serial);
    if (!s.step()) return std::nullopt;
    return read_revocation(s);
  }

  std::size_t prune_expired(TimePoint expired_before, std::size_t limit) override {
    check_limit(limit, kMaxPruneLimit);
    if (limit == 0) return 0;
    std::lock_guard lock(mu_);
    Transaction tx(db_, true);
    exec("CREATE TEMP TABLE IF NOT EXISTS prune_batch(serial TEXT PRIMARY KEY)");
    exec("DELETE FROM prune_batch");
    {
      Stmt pick(*stmts_,
                "INSERT INTO prune_batch SELECT serial FROM certificates WHERE not_after_ns < ?1 "
                "ORDER BY not_after_ns LIMIT ?2");
      pick.bind(1, to_ns(expired_before)).bind(2, static_cast<std::int64_t>(limit)).step();
    }
    {
      Stmt forget(*stmts_, "DELETE FROM selector_revocations WHERE revoked_at_ns < ?1");
      forget.bind(1, to_ns(expired_before)).step();
    }
    exec("DELETE FROM revocations WHERE serial IN (SELECT serial FROM prune_batch)");
    exec("DELETE FROM certificates WHERE serial IN (SELECT serial FROM prune_batch)");
    const auto pruned = static_cast<std::size_t>(sqlite3_changes(db_));
    exec("DELETE FROM prune_batch");
    tx.commit();
    return pruned;
  }

  std::vector<RevocationRecord> revoked_unexpired(TimePoint now) const override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_,
           "SELECT r.serial, r.revoked_at_ns, r.reason, r.detail, r.revoked_by FROM revocations r "
           "JOIN certificates c ON c.serial = r.serial WHERE c.not_after_ns > ?1 "
           "ORDER BY length(r.serial), r.serial LIMIT ?2");
    s.bind(1, to_ns(now)).bind(2, static_cast<std::int64_t>(kMaxRevocationsListed + 1));
    std::vector<RevocationRecord> out;
    while (s.step()) {
      require(out.size() < kMaxRevocationsListed, ErrorKind::kResourceExhausted, "steward.index.too_many",
              "more than " + std::to_string(kMaxRevocationsListed) + " unexpired revoked certificates");
      out.push_back(read_revocation(s));
    }
    return out;
  }

  std::uint64_t revocation_epoch() const override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT value FROM revocation_epoch WHERE id = 1");
    if (!s.step()) corrupt("the revocation epoch row is missing");
    return static_cast<std::uint64_t>(s.integer(0));
  }

  std::optional<CrlRecord> current_crl() const override {
    std::lock_guard lock(mu_);
    Stmt s(*stmts_, "SELECT number, revocation_epoch, this_update_ns, next_update_ns, der FROM crl WHERE id = 1");
    if (!s.step()) corrupt("the CRL row is missing");
    if (s.integer(0) == 0) return std::nullopt;
    CrlRecord c;
    c.number = static_cast<std::uint64_t>(s.integer(0));
    c.revocation_epoch = static_cast<std::uint64_t>(s.integer(1));
    c.this_update = from_ns(s.integer(2));
    c.next_update = from_ns(s.integer(3));
    c.der = s.blob(4);
    return c;
  }

  bool publish_crl(std::uint64_t expected_number, const CrlRecord& next) override {
    check_crl(next);
    if (next.number <= expected_number) return false;  // so expected_number < 2^63 too
    std::lock_guard lock(mu_);
    Transaction tx(db_, true);
    Stmt s(*stmts_,
           "UPDATE crl SET number = ?1, revocation_epoch = ?2, this_update_ns = ?3, next_update_ns = ?4, "
           "der = ?5 WHERE id = 1 AND number = ?6");
    s.bind(1, static_cast<std::int64_t>(next.number)).bind(2, static_cast<std::int64_t>(next.revocation_epoch));
    s.bind(3, to_ns(next.this_update)).bind(4, to_ns(next.next_update)).bind(5, ByteView(next.der));
    s.bind(6, static_cast<std::int64_t>(expected_number));
    s.step();
    const bool stored = sqlite3_changes(db_) == 1;
    tx.commit();
    return stored;
  }

  void append_audit(TimePoint at, const nlohmann::json& record) override {
    const std::string text = audit_to_text(record);
    std::lock_guard lock(mu_);
    Transaction tx(db_, true);
    append_audit_row(at, text);
    tx.commit();
  }

  std::vector<AuditEntry> audit_entries(std::int64_t after_id, std::size_t limit) const override {
    check_limit(limit, kMaxAuditLimit);
    if (limit == 0) return {};
    std::lock_guard lock(mu_);
    Stmt s(*stmts_,
           "SELECT id, at_ns, record FROM (SELECT id, at_ns, record FROM audit WHERE id > ?1 "
           "ORDER BY id DESC LIMIT ?2) ORDER BY id");
    s.bind(1, after_id).bind(2, static_cast<std::int64_t>(limit));
    std::vector<AuditEntry> out;
    while (s.step()) out.push_back({s.integer(0), from_ns(s.integer(1)), audit_from_text(s.text(2))});
    return out;
  }

 private:
  void close() {
    stmts_.reset();  // finalized before the connection closes
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
  }

  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) sql_fail(db_, "exec");
  }

  // One group of rows (GroupCommit): one write transaction, one durable commit.
  std::vector<RevocationRecord> insert(std::span<const IssuedCertificate* const> rows,
                                       std::span<const GroupCommit::AuditRecord> audit) {
    static const std::string sql = std::string("INSERT INTO certificates(") + kCertColumns +
                                   ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19) "
                                   "ON CONFLICT(serial) DO NOTHING";
    std::lock_guard lock(mu_);
    Transaction tx(db_, true);
    TimePoint earliest = TimePoint::max();
    for (const IssuedCertificate* row : rows) {
      const IssuedCertificate& c = *row;
      Stmt s(*stmts_, sql);
      s.bind(1, c.serial).bind(2, to_ns(c.issued_at)).bind(3, to_ns(c.not_before)).bind(4, to_ns(c.not_after));
      s.bind(5, strings_to_json(c.sans)).bind(6, c.platform).bind(7, c.measurement).bind(8, c.signer);
      s.bind(9, c.tcb_status).bind(10, c.tcb_level).bind(11, c.chip_id).bind(12, c.ppid).bind(13, c.fmspc);
      s.bind(14, c.keep_identity).bind(15, c.policy_digest).bind(16, strings_to_json(c.collateral_digests));
      s.bind(17, std::int64_t{c.insecure}).bind(18, c.issued_by).bind(19, ByteView(c.der));
      s.step();
      require(sqlite3_changes(db_) == 1, ErrorKind::kConflict, "steward.index.duplicate_serial",
              "serial " + c.serial + " is already recorded");
      earliest = std::min(earliest, c.issued_at);
    }
    for (const auto& a : audit) append_audit_row(a.at, audit_to_text(*a.record));
    // Writers take turns (BEGIN IMMEDIATE): every revoke_matching either committed before this
    // transaction began, and is read here, or begins after it commits and sees these rows.
    std::vector<SelectorRevocation> made;
    {
      Stmt s(*stmts_,
             "SELECT selector, revoked_at_ns, reason, detail, revoked_by FROM selector_revocations "
             "WHERE revoked_at_ns >= ?1 ORDER BY id");
      s.bind(1, to_ns(earliest));
      while (s.step())
        made.push_back({selector_from_json(s.text(0)),
                        RevocationRecord{"", from_ns(s.integer(1)), reason_from_code(s.integer(2)), s.text(3),
                                         s.text(4)}});
    }
    auto revoked = revocations_in_flight(rows, made);
    if (!revoked.empty()) {
      const std::int64_t epoch = bump_epoch();
      for (const auto& r : revoked) {
        insert_revocation(r.serial, r, epoch);
        append_audit_row(r.revoked_at, audit_to_text(revocation_in_flight_audit(r)));
      }
    }
    tx.commit();
    return revoked;
  }

  void append_audit_row(TimePoint at, const std::string& text) {
    Stmt s(*stmts_, "INSERT INTO audit(at_ns, record) VALUES(?1, ?2)");
    s.bind(1, to_ns(at)).bind(2, text).step();
  }

  // Under a write transaction: the next epoch, stored.
  std::int64_t bump_epoch() {
    Stmt s(*stmts_, "UPDATE revocation_epoch SET value = value + 1 WHERE id = 1 RETURNING value");
    if (!s.step()) corrupt("the revocation epoch row is missing");
    return s.integer(0);
  }

  void insert_revocation(const std::string& serial, const RevocationRecord& how, std::int64_t epoch) {
    Stmt s(*stmts_,
           "INSERT INTO revocations(serial, revoked_at_ns, reason, detail, revoked_by, epoch) "
           "VALUES(?1,?2,?3,?4,?5,?6)");
    s.bind(1, serial).bind(2, to_ns(how.revoked_at)).bind(3, static_cast<std::int64_t>(how.reason));
    s.bind(4, how.detail).bind(5, how.revoked_by).bind(6, epoch).step();
  }

  // Creates the schema, or upgrades an older one, in one write transaction (a second process
  // opening the file at the same time waits, then finds it done). Returns the version found.
  int migrate() {
    Transaction tx(db_, true);
    int version = 0;
    {
      Stmt m(*stmts_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'", false);
      if (m.step()) {
        Stmt v(*stmts_, "SELECT value FROM meta WHERE key = 'schema_version'", false);
        if (!v.step()) corrupt("meta has no schema_version");
        const std::string text = v.text(0);
        try {
          version = std::stoi(text);
        } catch (const std::exception&) {
          corrupt("schema_version is " + text);
        }
      }
    }
    if (version >= kSchemaVersion) return version;  // current, or too new: nothing written
    if (version < 1) {
      exec(R"sql(
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE certificates(
          serial TEXT PRIMARY KEY,
          issued_at_ns INTEGER NOT NULL, not_before_ns INTEGER NOT NULL, not_after_ns INTEGER NOT NULL,
          sans TEXT NOT NULL, platform TEXT NOT NULL, measurement TEXT NOT NULL, signer TEXT NOT NULL,
          tcb_status TEXT NOT NULL, tcb_level TEXT NOT NULL, chip_id TEXT NOT NULL, ppid TEXT NOT NULL,
          fmspc TEXT NOT NULL, keep_identity TEXT NOT NULL, policy_digest TEXT NOT NULL,
          collateral_digests TEXT NOT NULL, insecure INTEGER NOT NULL, issued_by TEXT NOT NULL,
          der BLOB NOT NULL);
        CREATE INDEX certificates_by_issued ON certificates(issued_at_ns, serial);
        CREATE INDEX certificates_by_not_after ON certificates(not_after_ns);
        CREATE INDEX certificates_by_platform ON certificates(platform);
        CREATE INDEX certificates_by_measurement ON certificates(measurement);
        CREATE INDEX certificates_by_signer ON certificates(signer);
        CREATE INDEX certificates_by_chip_id ON certificates(chip_id);
        CREATE INDEX certificates_by_ppid ON certificates(ppid);
        CREATE INDEX certificates_by_fmspc ON certificates(fmspc, tcb_status);
        CREATE INDEX certificates_by_tcb_status ON certificates(tcb_status);
        CREATE INDEX certificates_by_keep_identity ON certificates(keep_identity);
        CREATE TABLE revocations(
          serial TEXT PRIMARY KEY REFERENCES certificates(serial), revoked_at_ns INTEGER NOT NULL,
          reason INTEGER NOT NULL, detail TEXT NOT NULL, revoked_by TEXT NOT NULL,
          epoch INTEGER NOT NULL);
        CREATE TABLE revocation_epoch(id INTEGER PRIMARY KEY CHECK(id = 1), value INTEGER NOT NULL);
        INSERT INTO revocation_epoch VALUES(1, 0);
        CREATE TABLE crl(
          id INTEGER PRIMARY KEY CHECK(id = 1), number INTEGER NOT NULL,
          revocation_epoch INTEGER NOT NULL, this_update_ns INTEGER NOT NULL,
          next_update_ns INTEGER NOT NULL, der BLOB);
        INSERT INTO crl VALUES(1, 0, 0, 0, 0, NULL);
        CREATE TABLE audit(
          id INTEGER PRIMARY KEY AUTOINCREMENT, at_ns INTEGER NOT NULL, record TEXT NOT NULL);
        INSERT INTO meta VALUES('schema_version', '1');
      )sql");
    }
    if (version < 2) {
      exec(R"sql(
        DROP INDEX IF EXISTS certificates_by_platform;
        DROP INDEX IF EXISTS certificates_by_tcb_status;
        DROP INDEX IF EXISTS certificates_by_chip_id;
        DROP INDEX IF EXISTS certificates_by_ppid;
        DROP INDEX IF EXISTS certificates_by_fmspc;
        DROP INDEX IF EXISTS certificates_by_keep_identity;
        CREATE INDEX IF NOT EXISTS certificates_by_chip_id_set ON certificates(chip_id) WHERE chip_id <> '';
        CREATE INDEX IF NOT EXISTS certificates_by_ppid_set ON certificates(ppid) WHERE ppid <> '';
        CREATE INDEX IF NOT EXISTS certificates_by_fmspc_set ON certificates(fmspc, tcb_status) WHERE fmspc <> '';
        CREATE INDEX IF NOT EXISTS certificates_by_keep_identity_set ON certificates(keep_identity) WHERE keep_identity <> '';
        UPDATE meta SET value = '2' WHERE key = 'schema_version';
      )sql");
    }
    if (version < 3) {
      exec(R"sql(
        CREATE TABLE IF NOT EXISTS selector_revocations(
          id INTEGER PRIMARY KEY AUTOINCREMENT, revoked_at_ns INTEGER NOT NULL, selector TEXT NOT NULL,
          reason INTEGER NOT NULL, detail TEXT NOT NULL, revoked_by TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS selector_revocations_by_time ON selector_revocations(revoked_at_ns);
        UPDATE meta SET value = '3' WHERE key = 'schema_version';
      )sql");
    }
    // Later versions: `if (version < 4) { ...; UPDATE meta SET value = '4' ...; }`.
    tx.commit();
    return version;
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  mutable std::optional<StatementCache> stmts_;  // for db_; under mu_ like db_
  mutable std::mutex mu_;
  index_detail::GroupCommit group_{
      [this](std::span<const IssuedCertificate* const> rows, std::span<const GroupCommit::AuditRecord> audit) {
        return insert(rows, audit);
      }};
};

}  // namespace

std::shared_ptr<CertIndex> open_sqlite_cert_index(const std::string& path) {
  return std::make_shared<SqliteCertIndex>(path);
}

}  // namespace enarx::steward
