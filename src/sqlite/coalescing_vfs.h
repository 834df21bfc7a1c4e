// A SQLite VFS that writes a connection's WAL appends in one system call per 124 KiB, not two per page.
//
// SQLite appends a WAL frame as two writes (its 24-byte header, then the page): for steward's
// issued-certificate index about 9 system calls per certificate, 0.6 through this VFS
// (docs/steward.md "The index's cost", which also says how little CPU that saved on our VM).
// This VFS wraps the platform's default one and holds a WAL file's contiguous writes in
// memory until something needs them in the file: the connection syncs, reads, truncates, sizes,
// locks or closes the WAL, or touches its database's shared memory. SQLite tells other
// connections of new frames only through that shared memory (the wal-index header is written
// around xShmBarrier, locks move through xShmLock), so no connection is ever told of a frame that
// is not in the file yet; and nothing SQLite syncs is still held when the sync returns, so
// durability is unchanged. Every other file (the database itself, rollback journals, temporary
// files) is written through untouched.
//
// A WAL holds at most kMaxGatheredBytes. A write failure is reported by the next call on that WAL
// (a flush made on another connection's behalf cannot hide it from the owner).
#pragma once

#include <cstddef>
#include <cstdint>

namespace enarx::sqlite {

// What one WAL holds at most, and so the most one flush writes. The default unix VFS writes at
// most 128 KiB - 1 bytes per call (it masks the count with 0x1ffff and calls a short write a full
// disk), so a flush stays below that.
inline constexpr std::size_t kMaxGatheredBytes = 124 * 1024;

// The VFS's name for sqlite3_open_v2, registered on first use (never as the default VFS).
const char* coalescing_vfs();

// Process-wide counts since start, for tests and benchmarks.
struct CoalescingVfsCounters {
  std::uint64_t writes_taken = 0;   // writes SQLite made to WAL files
  std::uint64_t writes_issued = 0;  // writes passed on to the default VFS for them
  std::uint64_t most_gathered = 0;  // the most bytes one WAL has held at once
};
CoalescingVfsCounters coalescing_vfs_counters();

}  // namespace enarx::sqlite
