// Internal (drawbridge SQLite store): prepared statements, cached per database connection.
//
// A registry lookup is one or two single-row SELECTs; preparing them (parsing and planning the
// SQL) cost more than running them, on every request. The cache keeps each statement prepared
// for the life of the connection; Stmt borrows it and resets it when done (which also ends its
// implicit read transaction, so WAL checkpoints are not held back). Not thread-safe: used under
// the store's mutex, like the connection itself.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace enarx::drawbridge {

// Throws Error("drawbridge.store.full") if the connection's last error is a full disk
// (SQLITE_FULL, or an I/O error with errno ENOSPC/EDQUOT), else Error("drawbridge.store.backend").
[[noreturn]] void sql_fail(sqlite3* db, std::string_view what);

class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
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

class Stmt {
 public:
  // The cached statement for `sql`; a private one if that is in use already (the same SQL
  // nested inside itself), so nesting stays correct.
  Stmt(StatementCache& cache, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, ByteView v);
  Stmt& bind(int i, std::int64_t v);
  // True when a row is available. Throws drawbridge.store.constraint / .backend.
  bool step();
  std::string text(int col);
  Bytes blob(int col);
  std::int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void check(int rc);
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  StatementCache::Entry* entry_ = nullptr;  // null: a private statement, finalized here
};

}  // namespace enarx::drawbridge
