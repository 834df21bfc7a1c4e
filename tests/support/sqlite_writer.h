// Stands in for another connection creating a store's schema: holds the write (RESERVED) lock
// of the database at `path`, still in rollback-journal mode, for `hold`, then rolls back. While
// it holds it, `PRAGMA journal_mode=WAL` elsewhere fails at once despite any busy timeout
// (src/sqlite/wal_mode.h), which is how replicas opening a fresh store together collided.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace enarx::test {

class SqliteWriterStandIn {
 public:
  SqliteWriterStandIn(const std::string& path, std::chrono::milliseconds hold) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK ||
        sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_close(db_);
      throw std::runtime_error("cannot hold the write lock of " + path);
    }
    releaser_ = std::thread([this, hold] {
      std::this_thread::sleep_for(hold);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    });
  }
  ~SqliteWriterStandIn() {
    releaser_.join();
    sqlite3_close(db_);
  }
  SqliteWriterStandIn(const SqliteWriterStandIn&) = delete;
  SqliteWriterStandIn& operator=(const SqliteWriterStandIn&) = delete;

 private:
  sqlite3* db_ = nullptr;
  std::thread releaser_;
};

}  // namespace enarx::test
