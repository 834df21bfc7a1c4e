#include "sqlite/coalescing_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace enarx::sqlite {
namespace {

std::atomic<std::uint64_t> g_taken{0}, g_issued{0}, g_most{0};

enum class Role { kMainDb, kWal, kOther };

struct GatherFile {
  sqlite3_file base;  // first: this is the sqlite3_file SQLite holds
  sqlite3_file* real = nullptr;
  Role role = Role::kOther;
  std::string db_name;  // the database's file name (main database and WAL)
  std::mutex mu;        // the buffer is also flushed from other connections' threads
  std::vector<unsigned char> pending;
  sqlite3_int64 pending_at = 0;
  int failed = SQLITE_OK;  // a flush that failed, for this file's next call
};

sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_vfs{};
sqlite3_io_methods g_methods{};

// WAL files by their database's name: that database's shared-memory calls flush them first.
std::mutex g_wal_mu;
std::multimap<std::string, GatherFile*> g_wal_files;

constexpr std::size_t kRealOffset = (sizeof(GatherFile) + 15) & ~std::size_t{15};

GatherFile* as_gather(sqlite3_file* f) { return reinterpret_cast<GatherFile*>(f); }

// Under f->mu.
int flush_locked(GatherFile* f) {
  if (f->pending.empty()) return SQLITE_OK;
  const int rc = f->real->pMethods->xWrite(f->real, f->pending.data(), static_cast<int>(f->pending.size()),
                                           f->pending_at);
  g_issued.fetch_add(1, std::memory_order_relaxed);
  f->pending.clear();
  if (rc != SQLITE_OK && f->failed == SQLITE_OK) f->failed = rc;
  return rc;
}

// Under f->mu: the write error still owed to this file's connection, once.
int take_failure(GatherFile* f) {
  const int rc = f->failed;
  f->failed = SQLITE_OK;
  return rc;
}

// Flushes and then reports either the flush's failure or an earlier one.
int flush_for_call(GatherFile* f) {
  std::lock_guard lock(f->mu);
  flush_locked(f);
  return take_failure(f);
}

void flush_wal_of(const std::string& db_name) {
  std::lock_guard registry(g_wal_mu);
  auto [from, to] = g_wal_files.equal_range(db_name);
  for (auto it = from; it != to; ++it) {
    std::lock_guard lock(it->second->mu);
    flush_locked(it->second);  // a failure is kept for that file's own next call
  }
}

int x_close(sqlite3_file* file) {
  GatherFile* f = as_gather(file);
  if (f->role == Role::kWal) {
    std::lock_guard registry(g_wal_mu);
    auto [from, to] = g_wal_files.equal_range(f->db_name);
    for (auto it = from; it != to; ++it)
      if (it->second == f) {
        g_wal_files.erase(it);
        break;
      }
  }
  int rc = flush_for_call(f);
  const int closed = f->real->pMethods->xClose(f->real);
  if (rc == SQLITE_OK) rc = closed;
  f->~GatherFile();
  return rc;
}

int x_read(sqlite3_file* file, void* buf, int amt, sqlite3_int64 off) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, buf, amt, off);
}

int x_write(sqlite3_file* file, const void* buf, int amt, sqlite3_int64 off) {
  GatherFile* f = as_gather(file);
  std::lock_guard lock(f->mu);
  if (int rc = take_failure(f); rc != SQLITE_OK) return rc;
  if (f->role != Role::kWal || amt <= 0) return f->real->pMethods->xWrite(f->real, buf, amt, off);
  g_taken.fetch_add(1, std::memory_order_relaxed);
  const auto* bytes = static_cast<const unsigned char*>(buf);
  const auto size = static_cast<std::size_t>(amt);
  const sqlite3_int64 end = f->pending_at + static_cast<sqlite3_int64>(f->pending.size());
  if (!f->pending.empty() && off >= f->pending_at && off + amt <= end) {
    // A rewrite inside what is held (SQLite rewrites a frame of the open transaction in place).
    std::memcpy(f->pending.data() + (off - f->pending_at), bytes, size);
    return SQLITE_OK;
  }
  if (f->pending.empty() || off != end || f->pending.size() + size > kMaxGatheredBytes) {
    if (int rc = flush_locked(f); rc != SQLITE_OK) return take_failure(f);
    if (size >= kMaxGatheredBytes) {
      g_issued.fetch_add(1, std::memory_order_relaxed);
      return f->real->pMethods->xWrite(f->real, buf, amt, off);
    }
    f->pending_at = off;
  }
  f->pending.insert(f->pending.end(), bytes, bytes + size);
  std::uint64_t held = f->pending.size();
  for (std::uint64_t most = g_most.load(); held > most && !g_most.compare_exchange_weak(most, held);) {
  }
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* file, int level) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xLock(f->real, level);
}

int x_unlock(sqlite3_file* file, int level) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xUnlock(f->real, level);
}

int x_check_reserved_lock(sqlite3_file* file, int* out) {
  GatherFile* f = as_gather(file);
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  GatherFile* f = as_gather(file);
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int x_sector_size(sqlite3_file* file) {
  GatherFile* f = as_gather(file);
  return f->real->pMethods->xSectorSize(f->real);
}

int x_device_characteristics(sqlite3_file* file) {
  GatherFile* f = as_gather(file);
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

// The shared-memory calls go to the database file. Before each, the database's WAL writes reach
// the file: these calls are how SQLite tells other connections of new frames (the wal-index
// header is written around xShmBarrier; locks are taken and released through xShmLock).
void before_shm(GatherFile* f) {
  if (f->role == Role::kMainDb) flush_wal_of(f->db_name);
}

int x_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  GatherFile* f = as_gather(file);
  if (f->real->pMethods->iVersion < 2 || !f->real->pMethods->xShmMap) return SQLITE_IOERR_SHMMAP;
  before_shm(f);
  return f->real->pMethods->xShmMap(f->real, page, page_size, extend, out);
}

int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  GatherFile* f = as_gather(file);
  before_shm(f);
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

void x_shm_barrier(sqlite3_file* file) {
  GatherFile* f = as_gather(file);
  before_shm(f);
  f->real->pMethods->xShmBarrier(f->real);
}

int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  GatherFile* f = as_gather(file);
  before_shm(f);
  return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

int x_fetch(sqlite3_file* file, sqlite3_int64 off, int amt, void** out) {
  GatherFile* f = as_gather(file);
  *out = nullptr;
  if (int rc = flush_for_call(f); rc != SQLITE_OK) return rc;
  if (f->real->pMethods->iVersion < 3 || !f->real->pMethods->xFetch) return SQLITE_OK;
  return f->real->pMethods->xFetch(f->real, off, amt, out);
}

int x_unfetch(sqlite3_file* file, sqlite3_int64 off, void* page) {
  GatherFile* f = as_gather(file);
  if (f->real->pMethods->iVersion < 3 || !f->real->pMethods->xUnfetch) return SQLITE_OK;
  return f->real->pMethods->xUnfetch(f->real, off, page);
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = new (file) GatherFile();
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  const int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || !f->real->pMethods) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    f->~GatherFile();
    file->pMethods = nullptr;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  if ((flags & SQLITE_OPEN_WAL) && name) {
    f->role = Role::kWal;
    f->db_name = sqlite3_filename_database(name);
    std::lock_guard registry(g_wal_mu);
    g_wal_files.emplace(f->db_name, f);
  } else if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
    f->role = Role::kMainDb;
    f->db_name = name;
  }
  f->base.pMethods = &g_methods;
  return SQLITE_OK;
}

void register_once() {
  g_base = sqlite3_vfs_find(nullptr);
  if (!g_base) return;
  g_methods.iVersion = 3;
  g_methods.xClose = x_close;
  g_methods.xRead = x_read;
  g_methods.xWrite = x_write;
  g_methods.xTruncate = x_truncate;
  g_methods.xSync = x_sync;
  g_methods.xFileSize = x_file_size;
  g_methods.xLock = x_lock;
  g_methods.xUnlock = x_unlock;
  g_methods.xCheckReservedLock = x_check_reserved_lock;
  g_methods.xFileControl = x_file_control;
  g_methods.xSectorSize = x_sector_size;
  g_methods.xDeviceCharacteristics = x_device_characteristics;
  g_methods.xShmMap = x_shm_map;
  g_methods.xShmLock = x_shm_lock;
  g_methods.xShmBarrier = x_shm_barrier;
  g_methods.xShmUnmap = x_shm_unmap;
  g_methods.xFetch = x_fetch;
  g_methods.xUnfetch = x_unfetch;

  // Everything but xOpen is the default VFS's own, called with its own sqlite3_vfs.
  g_vfs.iVersion = std::min(g_base->iVersion, 3);
  g_vfs.szOsFile = static_cast<int>(kRealOffset) + g_base->szOsFile;
  g_vfs.mxPathname = g_base->mxPathname;
  g_vfs.zName = "enarx-coalescing";
  g_vfs.xOpen = x_open;
  g_vfs.xDelete = [](sqlite3_vfs*, const char* n, int sync) { return g_base->xDelete(g_base, n, sync); };
  g_vfs.xAccess = [](sqlite3_vfs*, const char* n, int flags, int* out) {
    return g_base->xAccess(g_base, n, flags, out);
  };
  g_vfs.xFullPathname = [](sqlite3_vfs*, const char* n, int size, char* out) {
    return g_base->xFullPathname(g_base, n, size, out);
  };
  g_vfs.xDlOpen = [](sqlite3_vfs*, const char* n) { return g_base->xDlOpen(g_base, n); };
  g_vfs.xDlError = [](sqlite3_vfs*, int size, char* out) { g_base->xDlError(g_base, size, out); };
  g_vfs.xDlSym = [](sqlite3_vfs*, void* h, const char* s) { return g_base->xDlSym(g_base, h, s); };
  g_vfs.xDlClose = [](sqlite3_vfs*, void* h) { g_base->xDlClose(g_base, h); };
  g_vfs.xRandomness = [](sqlite3_vfs*, int size, char* out) { return g_base->xRandomness(g_base, size, out); };
  g_vfs.xSleep = [](sqlite3_vfs*, int us) { return g_base->xSleep(g_base, us); };
  g_vfs.xCurrentTime = [](sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); };
  g_vfs.xGetLastError = [](sqlite3_vfs*, int size, char* out) { return g_base->xGetLastError(g_base, size, out); };
  if (g_vfs.iVersion >= 2)
    g_vfs.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* out) { return g_base->xCurrentTimeInt64(g_base, out); };
  if (g_vfs.iVersion >= 3) {
    g_vfs.xSetSystemCall = [](sqlite3_vfs*, const char* n, sqlite3_syscall_ptr p) {
      return g_base->xSetSystemCall(g_base, n, p);
    };
    g_vfs.xGetSystemCall = [](sqlite3_vfs*, const char* n) { return g_base->xGetSystemCall(g_base, n); };
    g_vfs.xNextSystemCall = [](sqlite3_vfs*, const char* n) { return g_base->xNextSystemCall(g_base, n); };
  }
  if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) g_base = nullptr;
}

}  // namespace

const char* coalescing_vfs() {
  static std::once_flag once;
  std::call_once(once, register_once);
  // Without a default VFS to wrap (not a build this code supports), SQLite's own default.
  return g_base ? g_vfs.zName : nullptr;
}

CoalescingVfsCounters coalescing_vfs_counters() {
  return {g_taken.load(), g_issued.load(), g_most.load()};
}

}  // namespace enarx::sqlite
