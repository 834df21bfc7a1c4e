#include "sqlite/wal_mode.h"

#include <algorithm>
#include <thread>

namespace enarx::sqlite {

WalModeResult enter_wal_mode(sqlite3* db, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  WalModeResult out;
  for (;;) {
    sqlite3_stmt* stmt = nullptr;
    out.rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr);
    if (out.rc == SQLITE_OK) {
      out.rc = sqlite3_step(stmt);
      if (out.rc == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(stmt, 0);
        out.mode = text ? reinterpret_cast<const char*>(text) : "";
        out.rc = SQLITE_OK;
      }
    }
    // A failed step's code is also finalize's; the step's was kept above.
    sqlite3_finalize(stmt);
    if ((out.rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() + pause > deadline) return out;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace enarx::sqlite
