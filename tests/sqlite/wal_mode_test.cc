// Entering WAL mode while another connection holds the database's write lock (wal_mode.h).
#include "sqlite/wal_mode.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <string>

#include "core/file.h"
#include "support/sqlite_writer.h"

namespace enarx::sqlite {
namespace {

using namespace std::chrono_literals;

struct Connection {
  explicit Connection(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
  }
  ~Connection() { sqlite3_close(db); }
  sqlite3* db = nullptr;
};

// The premise, and the fix: the pragma itself fails at once under the stand-in's lock, busy
// timeout or not; enter_wal_mode waits for the lock to go and then switches.
TEST(WalMode, WaitsOutAnotherConnectionsWriteLock) {
  TempDir dir("wal-mode");
  const auto path = (dir.path() / "db.sqlite3").string();
  {
    test::SqliteWriterStandIn writer(path, 300ms);
    Connection plain(path);
    const auto started = std::chrono::steady_clock::now();
    const int rc = sqlite3_exec(plain.db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    EXPECT_EQ(rc, SQLITE_BUSY) << "SQLite now waits here by itself: wal_mode.h's premise no longer holds";
    EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms);
  }
  TempDir dir2("wal-mode");
  const auto path2 = (dir2.path() / "db.sqlite3").string();
  const auto started = std::chrono::steady_clock::now();  // the lock goes 300 ms after this at the earliest
  test::SqliteWriterStandIn writer(path2, 300ms);
  Connection c(path2);
  const auto wal = enter_wal_mode(c.db, 10s);
  EXPECT_EQ(wal.rc, SQLITE_OK) << sqlite3_errmsg(c.db);
  EXPECT_EQ(wal.mode, "wal");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms) << "switched under another writer's lock?";
}

TEST(WalMode, GivesUpAfterItsTimeoutWithSqlitesBusyCode) {
  TempDir dir("wal-mode");
  const auto path = (dir.path() / "db.sqlite3").string();
  test::SqliteWriterStandIn writer(path, 1500ms);
  Connection c(path);
  const auto started = std::chrono::steady_clock::now();
  const auto wal = enter_wal_mode(c.db, 200ms);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(wal.rc, SQLITE_BUSY);
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 1400ms) << "waited past its timeout";
}

TEST(WalMode, AnAlreadyWalDatabaseAnswersAtOnce) {
  TempDir dir("wal-mode");
  const auto path = (dir.path() / "db.sqlite3").string();
  Connection first(path);
  ASSERT_EQ(enter_wal_mode(first.db, 1s).mode, "wal");
  Connection second(path);
  const auto wal = enter_wal_mode(second.db, 1s);
  EXPECT_EQ(wal.rc, SQLITE_OK);
  EXPECT_EQ(wal.mode, "wal");
}

}  // namespace
}  // namespace enarx::sqlite
