// The coalescing VFS (src/sqlite/coalescing_vfs.h): fewer WAL writes, the same database.
#include "sqlite/coalescing_vfs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "core/file.h"

namespace enarx::sqlite {
namespace {

class Db {
 public:
  Db(const std::string& path, const char* vfs) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK)
      throw std::runtime_error(db_ ? sqlite3_errmsg(db_) : "open failed");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  // The SQLite result code; `error` gets the message.
  int exec(const std::string& sql, std::string* error = nullptr) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    if (error) *error = msg ? msg : "";
    sqlite3_free(msg);
    return rc;
  }
  void must(const std::string& sql) {
    std::string error;
    ASSERT_EQ(exec(sql, &error), SQLITE_OK) << sql << ": " << error;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return std::string("error: ") + sqlite3_errmsg(db_);
    std::string out;
    if (const int rc = sqlite3_step(st); rc == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    } else {
      out = std::string("error: ") + sqlite3_errmsg(db_);
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// A row's payload: n bytes that depend on the row, so a page read back from the wrong frame shows.
std::string payload_sql(int row, int bytes) {
  return "printf('%0" + std::to_string(bytes) + "d', " + std::to_string(row) + ")";
}

TEST(CoalescingVfs, ACommitReachesTheWalInAFewWritesAndReadsBack) {
  TempDir dir("vfs");
  const std::string path = (dir.path() / "a.db").string();
  Db db(path, coalescing_vfs());
  db.must("PRAGMA journal_mode=WAL");
  db.must("PRAGMA synchronous=FULL");
  db.must("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const auto before = coalescing_vfs_counters();
  std::string tx = "BEGIN;";
  for (int i = 0; i < 40; ++i) tx += "INSERT INTO t VALUES(" + std::to_string(i) + ", " + payload_sql(i, 3000) + ");";
  db.must(tx + "COMMIT;");
  const auto after = coalescing_vfs_counters();
  const auto taken = after.writes_taken - before.writes_taken;
  const auto issued = after.writes_issued - before.writes_issued;
  // About 40 frames of 4 KiB (two writes each) in ~160 KiB: two flushes, not ~80 writes.
  EXPECT_GE(taken, 60u);
  EXPECT_LE(issued, 3u) << taken << " writes taken";
  EXPECT_EQ(db.text("SELECT count(*) FROM t"), "40");
  EXPECT_EQ(db.text("SELECT body FROM t WHERE id = 17"), db.text("SELECT " + payload_sql(17, 3000)));
  db.must("PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_EQ(db.text("PRAGMA integrity_check"), "ok");
}

TEST(CoalescingVfs, AWalNeverHoldsMoreThanItsBoundAndLargeTransactionsCommit) {
  TempDir dir("vfs");
  const std::string path = (dir.path() / "big.db").string();
  {
    Db db(path, coalescing_vfs());
    db.must("PRAGMA journal_mode=WAL");
    db.must("PRAGMA synchronous=FULL");
    db.must("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    // ~8 MiB in one transaction: many times the bound (and the default VFS's 128 KiB per write).
    db.must("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
            "INSERT INTO t SELECT i, printf('%04000d', i) FROM n");
    EXPECT_LE(coalescing_vfs_counters().most_gathered, kMaxGatheredBytes);
  }
  Db reopened(path, nullptr);
  EXPECT_EQ(reopened.text("SELECT count(*) FROM t"), "2000");
  EXPECT_EQ(reopened.text("SELECT sum(CAST(body AS INTEGER)) FROM t"), "2001000");
  EXPECT_EQ(reopened.text("PRAGMA integrity_check"), "ok");
}

// The writer never syncs (synchronous=OFF), so only its shared-memory calls can put its frames in
// the file before another connection (default VFS: its own file descriptors) is told of them.
TEST(CoalescingVfs, AnotherConnectionSeesEveryCommitAtOnceEvenWithoutSyncs) {
  TempDir dir("vfs");
  const std::string path = (dir.path() / "shared.db").string();
  Db writer(path, coalescing_vfs());
  writer.must("PRAGMA journal_mode=WAL");
  writer.must("PRAGMA synchronous=OFF");
  writer.must("PRAGMA wal_autocheckpoint=50");  // checkpoints (and WAL restarts) along the way
  writer.must("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  Db reader(path, nullptr);
  for (int i = 1; i <= 150; ++i) {
    writer.must("INSERT INTO t VALUES(" + std::to_string(i) + ", " + payload_sql(i, 2500) + ")");
    ASSERT_EQ(reader.text("SELECT count(*) FROM t"), std::to_string(i));
    ASSERT_EQ(reader.text("SELECT body FROM t WHERE id = " + std::to_string(i)),
              reader.text("SELECT " + payload_sql(i, 2500)));
  }
  EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
}

// A WAL write that fails (the file-size limit stands in for a full disk) fails the commit with an
// error, in a child process; what was committed before it is intact.
TEST(CoalescingVfs, AFailedWalWriteFailsTheCommitAndLeavesTheDatabaseIntact) {
  TempDir dir("vfs");
  const std::string path = (dir.path() / "full.db").string();
  {
    Db db(path, coalescing_vfs());
    db.must("PRAGMA journal_mode=WAL");
    db.must("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  }
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{512 * 1024, 512 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
    int committed = 0, rc = SQLITE_OK;
    {
      Db db(path, coalescing_vfs());
      db.exec("PRAGMA synchronous=FULL");
      db.exec("PRAGMA wal_autocheckpoint=0");  // the WAL grows until the limit
      for (int i = 1; i <= 400 && rc == SQLITE_OK; ++i) {
        rc = db.exec("INSERT INTO t VALUES(" + std::to_string(i) + ", " + payload_sql(i, 3000) + ")");
        if (rc == SQLITE_OK) committed = i;
      }
    }
    const std::string report = std::to_string(committed) + " " + std::to_string(rc & 0xff);
    if (::write(pipe_fds[1], report.data(), report.size()) < 0) ::_exit(4);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  char buf[64] = {};
  const auto n = ::read(pipe_fds[0], buf, sizeof buf - 1);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child crashed (signal " << WTERMSIG(status) << ")";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_GT(n, 0);
  int committed = 0, rc = 0;
  ASSERT_EQ(std::sscanf(buf, "%d %d", &committed, &rc), 2);
  EXPECT_NE(rc, SQLITE_OK) << "the limit was never reached";
  EXPECT_TRUE(rc == SQLITE_FULL || rc == SQLITE_IOERR) << "result code " << rc;
  EXPECT_GT(committed, 10);
  Db after(path, nullptr);
  EXPECT_EQ(after.text("SELECT count(*) FROM t"), std::to_string(committed));
  EXPECT_EQ(after.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace enarx::sqlite
