#include "drawbridge/sqlite_stmt.h"

#include <cerrno>

#include "core/error.h"

namespace enarx::drawbridge {

void sql_fail(sqlite3* db, std::string_view what) {
  // A full disk, not a fault: SQLite reports ENOSPC on a write as SQLITE_FULL, but a quota
  // (EDQUOT) or ENOSPC from fsync as an I/O error whose errno it keeps.
  const int rc = sqlite3_extended_errcode(db) & 0xff;
  const int err = sqlite3_system_errno(db);
  const bool full = rc == SQLITE_FULL || (rc == SQLITE_IOERR && (err == ENOSPC || err == EDQUOT));
  throw Error(full ? ErrorKind::kResourceExhausted : ErrorKind::kInternal,
              full ? "drawbridge.store.full" : "drawbridge.store.backend",
              std::string(what) + ": " + sqlite3_errmsg(db));
}

namespace {

sqlite3_stmt* prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  // PERSISTENT: a hint that the statement lives long (SQLite allocates it outside lookaside).
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    sql_fail(db, "prepare");
  }
  return stmt;
}

}  // namespace

StatementCache::~StatementCache() {
  for (auto& [sql, e] : entries_) sqlite3_finalize(e.stmt);
}

Stmt::Stmt(StatementCache& cache, std::string_view sql) : db_(cache.db_) {
  auto it = cache.entries_.find(sql);
  if (it == cache.entries_.end()) {
    sqlite3_stmt* s = prepare(db_, sql);
    it = cache.entries_.emplace(std::string(sql), StatementCache::Entry{s, false}).first;
  }
  if (it->second.in_use) {
    stmt_ = prepare(db_, sql);
    return;
  }
  entry_ = &it->second;  // std::map nodes stay put while others are added
  entry_->in_use = true;
  stmt_ = entry_->stmt;
}

Stmt::~Stmt() {
  if (!entry_) {
    sqlite3_finalize(stmt_);
    return;
  }
  // Ready for the next user: no open read transaction, no bound copies of request data.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  entry_->in_use = false;
}

void Stmt::check(int rc) {
  if (rc != SQLITE_OK) sql_fail(db_, "bind");
}

Stmt& Stmt::bind(int i, std::string_view v) {
  check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}

Stmt& Stmt::bind(int i, ByteView v) {
  check(sqlite3_bind_blob(stmt_, i, v.empty() ? "" : static_cast<const void*>(v.data()),
                          static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  check(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  if (rc == SQLITE_CONSTRAINT) throw Error(ErrorKind::kInternal, "drawbridge.store.constraint", sqlite3_errmsg(db_));
  sql_fail(db_, "step");
}

std::string Stmt::text(int col) {
  auto p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

Bytes Stmt::blob(int col) {
  auto p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
  return p ? Bytes(p, p + n) : Bytes();
}

}  // namespace enarx::drawbridge
