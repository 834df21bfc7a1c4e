// Backup, restore and verification of a drawbridge registry (docs/drawbridge.md "Backup and
// restore").
//
// Embedded store: `backup_sqlite_store` takes an online backup while `drawbridge serve` keeps
// publishing. The metadata is copied with SQLite's online backup API in one read transaction
// (a snapshot: WAL readers do not block the writer); the blobs that snapshot references are
// then copied, each hashed on the way and checked against its name. Every committed node row
// points at a blob that was fsynced before the row committed (sqlite_store.cc), so the
// snapshot's blobs exist; garbage collection cannot delete them meanwhile because the backup
// holds a shared flock on <data_dir>/gc.lock (GC takes it exclusively while deleting) from
// before the snapshot until the last referenced blob is copied.
//
// A backup directory holds meta.sqlite3 (rollback-journal mode, self-contained), blobs.txt
// ("<key> <size>\n" per blob, sorted), blobs/sha256/<2 hex>/<64 hex>, the data dir's other
// state (the local issuer key, self-signed TLS) and manifest.json, written last: a directory
// without it is an interrupted backup, and restore refuses it.
//
// PostgreSQL keeps blobs in the database, so `pg_dump` is the backup; `verify_postgres_store`
// checks the restored database.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace enarx::drawbridge {

inline constexpr int kBackupFormatVersion = 1;
inline constexpr const char* kBackupFormat = "drawbridge-backup";
// The garbage collector's lock file in the data dir (exclusive while deleting blobs).
inline constexpr const char* kGcLockFile = "gc.lock";

// One human-readable progress or summary line (the CLI prints them on stderr). May be empty.
using ProgressFn = std::function<void(const std::string&)>;

struct BackupCounts {
  std::uint64_t users = 0, repos = 0, tags_complete = 0, tags_pending = 0, nodes_present = 0;
  std::uint64_t blobs = 0, blob_bytes = 0;
  std::uint64_t meta_bytes = 0;
  std::uint64_t files = 0;  // other state: issuer key, TLS
};

// Writes a backup of the embedded store in `data_dir` into `out`, which must be absent or an
// empty directory (Error kConflict "drawbridge.backup.target_not_empty") outside `data_dir`
// (kInvalidInput "drawbridge.backup.target_inside_store"); created 0700, files
// 0600 (a backup holds private repositories and the issuer key). On failure what was written
// into `out` is removed. A referenced blob that is absent or does not hash to its name fails
// the backup (kUntrusted "drawbridge.backup.blob_missing" / "drawbridge.backup.blob_corrupt"):
// the live store is damaged, and a backup would copy the damage.
BackupCounts backup_sqlite_store(const std::filesystem::path& data_dir, const std::filesystem::path& out,
                                 const ProgressFn& progress = {});

// Restores a backup into `data_dir`, which must be absent or an empty directory (kConflict
// "drawbridge.restore.target_not_empty"). Everything is checked in a staging directory next to
// `data_dir` — the manifest, meta.sqlite3's hash and PRAGMA integrity_check, the blob list's
// hash, every blob's digest, every node's blob present, no complete tag with a missing node,
// the other files' hashes — and renamed into place only when all pass; on failure nothing is
// left. Refusals name the first bad item, with codes "drawbridge.restore.<what>": manifest
// (kInvalidInput: missing, malformed, unsupported), and (kUntrusted) meta_corrupt, blob_list,
// blob_missing, blob_corrupt, tag_incomplete, file_missing, file_corrupt.
BackupCounts restore_sqlite_store(const std::filesystem::path& backup, const std::filesystem::path& data_dir,
                                  const ProgressFn& progress = {});

// Damage found by a verification, e.g. {"drawbridge.verify.blob_corrupt", "<key>", "..."}.
struct StoreProblem {
  std::string code;  // drawbridge.verify.{meta_corrupt,blob_missing,blob_corrupt,tag_incomplete}
  std::string item;
  std::string detail;
};

struct VerifyReport {
  std::uint64_t tags_complete = 0, tags_pending = 0, nodes_present = 0, blobs = 0, blob_bytes = 0;
  std::uint64_t problem_count = 0;      // all problems found
  std::vector<StoreProblem> problems;   // the first kMaxListedProblems of them
  bool ok() const { return problem_count == 0; }
};
inline constexpr std::size_t kMaxListedProblems = 100;

// Checks a live store: every present node's blob exists and every blob hashes to its key (so
// every node's content is intact), no complete tag lacks a node, the metadata database is
// sound. Streams: rows are read through one cursor or in pages, blobs hashed in chunks (the
// embedded store) or by the server (PostgreSQL: sha256(data)), so memory stays bounded. The
// embedded store's node scan holds the shared GC lock, so GC cannot remove a blob between a
// row and its check. Throws only when the store cannot be read at all.
VerifyReport verify_sqlite_store(const std::filesystem::path& data_dir, const ProgressFn& progress = {});
VerifyReport verify_postgres_store(const std::string& conninfo, const ProgressFn& progress = {});

// Exit codes of `drawbridge backup|restore|verify-store` (scripts depend on them; the same
// numbers as the enarx CLI's): 0 done / no damage, 1 failure, 3 unusable input or a non-empty
// target, 4 a digest or integrity check failed (damage found).
inline constexpr int kExitDamaged = 4;
int maintenance_exit_code(ErrorKind kind);

}  // namespace enarx::drawbridge
