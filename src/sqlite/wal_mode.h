// Switching an embedded store's database into WAL mode when other connections may be opening it
// at the same moment (replicas starting together, a `gc` process beside a server).
//
// `PRAGMA journal_mode=WAL` on a database still in rollback mode needs its exclusive lock, and
// SQLite answers SQLITE_BUSY at once — without calling the busy handler — while another
// connection holds the RESERVED lock (say, creating the schema in BEGIN IMMEDIATE). The busy
// timeout therefore does not cover it; this retries until `timeout`.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <string>

namespace enarx::sqlite {

struct WalModeResult {
  int rc = SQLITE_OK;  // the last sqlite3 result code; SQLITE_OK when the pragma answered
  std::string mode;    // the journal mode SQLite reports afterwards ("wal" on success)
};

// Runs `PRAGMA journal_mode=WAL` on `db`, retrying SQLITE_BUSY with a short back-off for up to
// `timeout`. The caller turns a failure (rc != SQLITE_OK, or a mode other than "wal") into its
// own error; sqlite3_errmsg(db) describes the last one.
WalModeResult enter_wal_mode(sqlite3* db, std::chrono::milliseconds timeout);

}  // namespace enarx::sqlite
