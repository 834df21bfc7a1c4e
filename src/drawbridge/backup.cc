// Backup, restore and verification (see backup.h for the consistency argument).
#include "drawbridge/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "core/human_size.h"
#include "core/crypto.h"
#include "core/file.h"
#include "drawbridge/sqlite_stmt.h"

namespace enarx::drawbridge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kChunk = 1 << 20;
// Files of the data dir that are not "other state": the store's own, rebuilt or recreated.
const std::set<std::string> kNotState = {"meta.sqlite3", "meta.sqlite3-wal", "meta.sqlite3-shm",
                                         "meta.sqlite3-journal", kGcLockFile};
const std::set<std::string> kNotStateDirs = {"blobs", "tmp"};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string random_hex() { return to_hex(random_bytes(8)); }

bool is_blob_key(std::string_view key) {
  return key.size() == 64 && key.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

fs::path blob_rel(std::string_view key) {
  return fs::path("blobs") / "sha256" / std::string(key.substr(0, 2)) / std::string(key);
}

std::string now_utc() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Error damaged(std::string code, const std::string& message) {
  return Error(ErrorKind::kUntrusted, std::move(code), message);
}

// Rate-limited progress for long loops: one line every two seconds at most.
class Ticker {
 public:
  explicit Ticker(const ProgressFn& fn) : fn_(fn), last_(std::chrono::steady_clock::now()) {}
  template <typename F>
  void tick(F&& line) {
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(2)) return;
    last_ = now;
    fn_(line());
  }

 private:
  const ProgressFn& fn_;
  std::chrono::steady_clock::time_point last_;
};

struct Copied {
  std::string sha256;
  std::uint64_t size = 0;
};

void write_all(int fd, ByteView data, const fs::path& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error(ErrorKind::kInternal, "io.write", "write", path, errno);
    }
    off += static_cast<std::size_t>(n);
  }
}

// Copies `src` to `dst` through a temp file in dst's directory, hashing the bytes as they pass:
// fsync, then rename — unless `expected` is given and differs, when nothing is left at `dst`.
// nullopt when `src` does not exist. The caller fsyncs dst's directory (once per directory).
std::optional<Copied> copy_hashed(const fs::path& src, const fs::path& dst, unsigned mode,
                                  const std::string* expected = nullptr) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw io_error(ErrorKind::kInternal, "io.read", "open", src, errno);
  }
  auto tmp = dst.parent_path() / ("." + dst.filename().string() + ".tmp-" + random_hex());
  Copied out;
  {
    Fd o(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (o.get() < 0) throw io_error(ErrorKind::kInternal, "io.write", "create", tmp, errno);
    Hasher h(DigestAlgorithm::Sha256);
    std::vector<std::uint8_t> buf(kChunk);
    try {
      for (;;) {
        auto n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          throw io_error(ErrorKind::kInternal, "io.read", "read", src, errno);
        }
        if (n == 0) break;
        h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
        out.size += static_cast<std::uint64_t>(n);
        write_all(o.get(), ByteView(buf.data(), static_cast<std::size_t>(n)), tmp);
      }
      out.sha256 = to_hex(h.finish());
      if (expected && out.sha256 != *expected) {
        ::unlink(tmp.c_str());
        return out;
      }
      ::fchmod(o.get(), mode);
      if (::fsync(o.get()) != 0) throw io_error(ErrorKind::kInternal, "io.write", "fsync", tmp, errno);
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw io_error(ErrorKind::kInternal, "io.write", "rename onto", dst, err);
  }
  return out;
}

// SHA-256 of a file, streamed; nullopt when it does not exist.
std::optional<Copied> hash_file(const fs::path& path) {
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw io_error(ErrorKind::kInternal, "io.read", "open", path, errno);
  }
  Hasher h(DigestAlgorithm::Sha256);
  std::vector<std::uint8_t> buf(kChunk);
  Copied out;
  for (;;) {
    auto n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error(ErrorKind::kInternal, "io.read", "read", path, errno);
    }
    if (n == 0) break;
    h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
    out.size += static_cast<std::uint64_t>(n);
  }
  out.sha256 = to_hex(h.finish());
  return out;
}

// A directory of ours (backup, staging): 0700 like the data dir, each level this call creates.
// Directories that exist already keep their mode (the parent of a target may be /var/lib).
void make_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) make_dir(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw io_error(ErrorKind::kInternal, "io.write", "mkdir", dir, errno);
}

// Absent, or an empty directory: the only targets a backup or restore writes into, so that
// neither ever mixes with or overwrites existing data. true when it did not exist.
bool require_empty_target(const fs::path& target, std::string_view code) {
  std::error_code ec;
  auto st = fs::symlink_status(target, ec);
  if (ec || st.type() == fs::file_type::not_found) return true;
  require(st.type() == fs::file_type::directory && fs::is_empty(target, ec) && !ec, ErrorKind::kConflict, code,
          target.string() + " exists and is not an empty directory");
  return false;
}

// The shared side of the GC lock: while held, GC (exclusive while deleting) deletes nothing.
class SharedGcLock {
 public:
  SharedGcLock(const fs::path& data_dir, const ProgressFn& progress) {
    auto path = data_dir / kGcLockFile;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw io_error(ErrorKind::kInternal, "io.write", "open", path, errno);
    // Made by root (a backup from cron), the file would lock the server's own GC out of it:
    // it belongs to whoever owns the data dir.
    struct stat dir{}, file{};
    if (::stat(data_dir.c_str(), &dir) == 0 && ::fstat(fd_, &file) == 0 && file.st_uid != dir.st_uid)
      (void)::fchown(fd_, dir.st_uid, dir.st_gid);
    if (::flock(fd_, LOCK_SH | LOCK_NB) == 0) return;
    if (errno != EWOULDBLOCK) fail(path);
    if (progress) progress("waiting for garbage collection to finish (" + path.string() + ")");
    while (::flock(fd_, LOCK_SH) != 0) {
      if (errno != EINTR) fail(path);
    }
  }
  ~SharedGcLock() { release(); }
  SharedGcLock(const SharedGcLock&) = delete;
  SharedGcLock& operator=(const SharedGcLock&) = delete;
  void release() {
    if (fd_ >= 0) ::close(fd_);  // closing the only descriptor drops the flock
    fd_ = -1;
  }

 private:
  [[noreturn]] void fail(const fs::path& path) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw io_error(ErrorKind::kInternal, "io.read", "flock", path, err);
  }
  int fd_ = -1;
};

class Db {
 public:
  Db(const fs::path& path, int flags) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error(ErrorKind::kInternal, "drawbridge.store.backend", "open " + path.string() + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    stmts_.emplace(db_);
  }
  ~Db() {
    stmts_.reset();
    sqlite3_close(db_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* get() { return db_; }
  StatementCache& stmts() { return *stmts_; }
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) sql_fail(db_, sql);
  }
  std::int64_t count(const char* sql) {
    Stmt s(*stmts_, sql);
    return s.step() ? s.integer(0) : 0;
  }
  // "ok", or the first message of PRAGMA integrity_check.
  std::string integrity() {
    Stmt s(*stmts_, "PRAGMA integrity_check");
    return s.step() ? s.text(0) : std::string("no result");
  }

 private:
  sqlite3* db_ = nullptr;
  std::optional<StatementCache> stmts_;
};

void fill_counts(Db& db, BackupCounts& c) {
  c.users = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM users"));
  c.repos = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM repos"));
  c.tags_complete = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM tags WHERE complete = 1"));
  c.tags_pending = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM tags WHERE complete = 0"));
  c.nodes_present = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM nodes WHERE present = 1"));
}

// The snapshot: sqlite3_backup_step(-1) copies every page inside one read transaction, so the
// copy is one committed state; in WAL mode that reader does not hold up the server's writes.
void snapshot_database(const fs::path& live, const fs::path& dst) {
  auto tmp = dst.parent_path() / ("." + dst.filename().string() + ".tmp-" + random_hex());
  try {
    {
      Db src(live, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
      Db out(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
      for (int attempt = 0;; ++attempt) {
        sqlite3_backup* b = sqlite3_backup_init(out.get(), "main", src.get(), "main");
        if (!b) sql_fail(out.get(), "sqlite3_backup_init");
        int rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc == SQLITE_DONE) break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        throw Error(ErrorKind::kInternal, "drawbridge.store.backend",
                    std::string("online backup of ") + live.string() + ": " + sqlite3_errstr(rc));
      }
      // The copy carries the live file's WAL flag; a rollback-journal file is complete on its
      // own (no -wal beside it to lose). The store switches back to WAL when it opens it.
      out.exec("PRAGMA journal_mode=DELETE");
    }
    ::chmod(tmp.c_str(), 0600);
    Fd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw io_error(ErrorKind::kInternal, "io.write", "fsync", tmp, errno);
    if (::rename(tmp.c_str(), dst.c_str()) != 0) throw io_error(ErrorKind::kInternal, "io.write", "rename onto", dst, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

// Other state in the data dir (issuer key, TLS, …): every regular file outside the store's own
// files, relative paths. Symbolic links and special files are not state this program writes.
std::vector<fs::path> other_state(const fs::path& data_dir) {
  std::vector<fs::path> out;
  for (auto it = fs::recursive_directory_iterator(data_dir); it != fs::recursive_directory_iterator(); ++it) {
    auto rel = fs::relative(it->path(), data_dir);
    auto top = rel.begin()->string();
    if (it.depth() == 0 && it->is_directory() && kNotStateDirs.count(top)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it.depth() == 0 && kNotState.count(top)) continue;
    if (it->is_symlink() || !it->is_regular_file()) continue;
    out.push_back(rel);
  }
  return out;
}

// A relative path from a manifest that stays inside the target and names no store file: a
// crafted backup must not write elsewhere or replace what the checks covered.
bool safe_state_path(const std::string& p) {
  if (p.empty() || p.find('\0') != std::string::npos) return false;
  fs::path path(p);
  if (path.is_absolute()) return false;
  for (const auto& part : path) {
    auto s = part.string();
    if (s.empty() || s == "." || s == "..") return false;
  }
  auto top = path.begin()->string();
  return !kNotState.count(top) && !kNotStateDirs.count(top);
}

void fsync_tree_dirs(const std::set<fs::path>& dirs) {
  for (const auto& d : dirs) fsync_directory(d);
}

}  // namespace

// ---- backup ----

BackupCounts backup_sqlite_store(const fs::path& data_dir, const fs::path& out, const ProgressFn& progress) {
  auto live = data_dir / "meta.sqlite3";
  std::error_code ec;
  require(fs::exists(live, ec), ErrorKind::kNotFound, "drawbridge.backup.no_store",
          "no embedded store in " + data_dir.string() + " (meta.sqlite3 missing)");
  {
    // Inside the data dir, the backup would copy itself as "other state" (and be served from).
    std::error_code c1, c2;
    auto d = fs::weakly_canonical(data_dir, c1), o = fs::weakly_canonical(out, c2);
    auto [di, oi] = std::mismatch(d.begin(), d.end(), o.begin(), o.end());
    require(c1 || c2 || (di != d.end() && oi != o.end()), ErrorKind::kInvalidInput, "drawbridge.backup.target_inside_store",
            "the backup directory must be outside the data directory (and not contain it)");
  }
  const bool created = require_empty_target(out, "drawbridge.backup.target_not_empty");
  if (auto parent = fs::absolute(out).parent_path(); !parent.empty()) {
    std::error_code mk;
    fs::create_directories(parent, mk);  // the operator's directories: their usual mode
    if (mk) throw io_error(ErrorKind::kInternal, "io.write", "mkdir", parent, mk.value());
  }
  make_dir(out);
  BackupCounts counts;
  try {
    json files = json::array();
    std::string list_sha256, meta_sha256;
    {
      SharedGcLock gc(data_dir, progress);
      snapshot_database(live, out / "meta.sqlite3");
      auto meta = hash_file(out / "meta.sqlite3");
      counts.meta_bytes = meta->size;
      meta_sha256 = meta->sha256;
      if (progress) progress("metadata snapshot: " + human_size(counts.meta_bytes));

      // The blobs the snapshot references, read from the copy (a file nobody else writes), in
      // key order through one cursor: DISTINCT sorts in SQLite's temp storage, not here.
      Db snap(out / "meta.sqlite3", SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
      fill_counts(snap, counts);
      auto list_path = out / "blobs.txt";
      auto list_tmp = out / (".blobs.txt.tmp-" + random_hex());
      Fd list(::open(list_tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (list.get() < 0) throw io_error(ErrorKind::kInternal, "io.write", "create", list_tmp, errno);
      Hasher list_hash(DigestAlgorithm::Sha256);
      std::set<fs::path> dirs{out, out / "blobs", out / "blobs" / "sha256"};
      make_dir(out / "blobs" / "sha256");
      Ticker ticker(progress);
      {
        Stmt bad(snap.stmts(), "SELECT tag_id, path FROM nodes WHERE present = 1 AND blob IS NULL LIMIT 1");
        if (bad.step())
          throw damaged("drawbridge.backup.blob_missing", "node " + std::to_string(bad.integer(0)) + ":/" +
                                                              bad.text(1) + " is present without a blob");
      }
      Stmt s(snap.stmts(), "SELECT DISTINCT blob FROM nodes WHERE present = 1 AND blob IS NOT NULL ORDER BY blob");
      while (s.step()) {
        auto key = s.text(0);
        if (!is_blob_key(key)) throw damaged("drawbridge.backup.blob_corrupt", "malformed blob key '" + key + "'");
        auto rel = blob_rel(key);
        if (dirs.insert(out / rel.parent_path()).second) make_dir(out / rel.parent_path());
        auto c = copy_hashed(data_dir / rel, out / rel, 0600, &key);
        if (!c) throw damaged("drawbridge.backup.blob_missing", "blob " + key + " is referenced but missing from the store");
        if (c->sha256 != key)
          throw damaged("drawbridge.backup.blob_corrupt", "blob " + key + " hashes to " + c->sha256);
        auto line = key + " " + std::to_string(c->size) + "\n";
        list_hash.update(as_bytes(line));
        write_all(list.get(), as_bytes(line), list_tmp);
        ++counts.blobs;
        counts.blob_bytes += c->size;
        ticker.tick([&] {
          return "blobs: " + std::to_string(counts.blobs) + " copied, " + human_size(counts.blob_bytes);
        });
      }
      if (::fsync(list.get()) != 0) throw io_error(ErrorKind::kInternal, "io.write", "fsync", list_tmp, errno);
      if (::rename(list_tmp.c_str(), list_path.c_str()) != 0)
        throw io_error(ErrorKind::kInternal, "io.write", "rename onto", list_path, errno);
      list_sha256 = to_hex(list_hash.finish());
      fsync_tree_dirs(dirs);
    }  // every referenced blob copied: GC may run again

    std::set<fs::path> dirs;
    for (const auto& rel : other_state(data_dir)) {
      struct stat st{};
      if (::stat((data_dir / rel).c_str(), &st) != 0) continue;  // gone meanwhile
      if (rel.has_parent_path() && dirs.insert(out / rel.parent_path()).second) make_dir(out / rel.parent_path());
      auto c = copy_hashed(data_dir / rel, out / rel, 0600);
      if (!c) continue;
      files.push_back({{"path", rel.generic_string()}, {"sha256", c->sha256}, {"size", c->size},
                       {"mode", static_cast<unsigned>(st.st_mode & 0777)}});
      ++counts.files;
    }
    fsync_tree_dirs(dirs);

    json manifest = {
        {"format", kBackupFormat},
        {"version", kBackupFormatVersion},
        {"created_at", now_utc()},
        {"source", {{"store", "sqlite"}, {"data_dir", fs::absolute(data_dir).lexically_normal().string()}}},
        {"counts",
         {{"users", counts.users},
          {"repos", counts.repos},
          {"tags_complete", counts.tags_complete},
          {"tags_pending", counts.tags_pending},
          {"nodes_present", counts.nodes_present},
          {"blobs", counts.blobs}}},
        {"bytes", {{"meta", counts.meta_bytes}, {"blobs", counts.blob_bytes}}},
        {"meta", {{"path", "meta.sqlite3"}, {"sha256", meta_sha256}}},
        {"blob_list", {{"path", "blobs.txt"}, {"sha256", list_sha256}}},
        {"files", files},
    };
    // Last: its presence says the backup is complete.
    write_file_atomic(out / "manifest.json", manifest.dump(2) + "\n", 0600);
    fsync_directory(fs::absolute(out).parent_path());
  } catch (...) {
    std::error_code rm;
    if (created) {
      fs::remove_all(out, rm);
    } else {
      for (const auto& e : fs::directory_iterator(out, rm)) fs::remove_all(e.path(), rm);
    }
    throw;
  }
  if (progress)
    progress("backup done: " + std::to_string(counts.tags_complete) + " complete and " +
             std::to_string(counts.tags_pending) + " pending tags, " + std::to_string(counts.blobs) + " blobs (" +
             human_size(counts.blob_bytes) + "), metadata " + human_size(counts.meta_bytes) + ", " +
             std::to_string(counts.files) + " other files -> " + out.string());
  return counts;
}

// ---- restore ----

namespace {

json read_manifest(const fs::path& backup) {
  auto path = backup / "manifest.json";
  std::error_code ec;
  require(fs::is_regular_file(path, ec), ErrorKind::kInvalidInput, "drawbridge.restore.manifest",
          path.string() + " is missing (not a backup, or an interrupted one)");
  json m;
  try {
    m = json::parse(read_text_file(path, 16u << 20));
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kInvalidInput, "drawbridge.restore.manifest", path.string() + ": " + e.what());
  }
  auto str = [&](const json& j, const char* k) {
    require(j.is_object() && j.contains(k) && j[k].is_string(), ErrorKind::kInvalidInput,
            "drawbridge.restore.manifest", std::string("manifest: '") + k + "' missing or not a string");
    return j[k].get<std::string>();
  };
  require(m.is_object() && str(m, "format") == kBackupFormat, ErrorKind::kInvalidInput,
          "drawbridge.restore.manifest", "manifest: not a drawbridge backup");
  require(m.contains("version") && m["version"].is_number_integer() && m["version"].get<int>() == kBackupFormatVersion,
          ErrorKind::kInvalidInput, "drawbridge.restore.manifest", "manifest: unsupported version");
  require(m.contains("meta") && m.contains("blob_list") && m.contains("counts") && m["counts"].is_object() &&
              m.contains("files") && m["files"].is_array(),
          ErrorKind::kInvalidInput, "drawbridge.restore.manifest", "manifest: incomplete");
  require(is_blob_key(str(m["meta"], "sha256")) && is_blob_key(str(m["blob_list"], "sha256")),
          ErrorKind::kInvalidInput, "drawbridge.restore.manifest", "manifest: malformed hash");
  for (const auto& f : m["files"]) {
    require(safe_state_path(str(f, "path")) && is_blob_key(str(f, "sha256")), ErrorKind::kInvalidInput,
            "drawbridge.restore.manifest", "manifest: bad file entry '" + f.dump() + "'");
  }
  return m;
}

std::uint64_t manifest_count(const json& m, const char* k) {
  const auto& c = m["counts"];
  return c.contains(k) && c[k].is_number_unsigned() ? c[k].get<std::uint64_t>() : 0;
}

}  // namespace

BackupCounts restore_sqlite_store(const fs::path& backup, const fs::path& data_dir, const ProgressFn& progress) {
  const json m = read_manifest(backup);
  require_empty_target(data_dir, "drawbridge.restore.target_not_empty");
  auto target = fs::absolute(data_dir).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw io_error(ErrorKind::kInternal, "io.write", "mkdir", target.parent_path(), ec.value());
  }
  auto staging = target.parent_path() / ("." + target.filename().string() + ".restore-" + random_hex());
  make_dir(staging);
  BackupCounts counts;
  try {
    // The list first (a cheap pass): a list that does not match the manifest is not read further.
    auto list_path = backup / "blobs.txt";
    auto list = hash_file(list_path);
    if (!list) throw damaged("drawbridge.restore.blob_list", list_path.string() + " is missing");
    if (list->sha256 != m["blob_list"]["sha256"].get<std::string>())
      throw damaged("drawbridge.restore.blob_list", list_path.string() + " does not match the manifest");

    auto meta_expected = m["meta"]["sha256"].get<std::string>();
    auto meta = copy_hashed(backup / "meta.sqlite3", staging / "meta.sqlite3", 0600, &meta_expected);
    if (!meta) throw damaged("drawbridge.restore.meta_corrupt", "meta.sqlite3 is missing from the backup");
    if (meta->sha256 != meta_expected)
      throw damaged("drawbridge.restore.meta_corrupt", "meta.sqlite3 does not match the manifest's SHA-256");
    counts.meta_bytes = meta->size;
    Db db(staging / "meta.sqlite3", SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (auto r = db.integrity(); r != "ok")
      throw damaged("drawbridge.restore.meta_corrupt", "meta.sqlite3 integrity_check: " + r);

    std::set<fs::path> dirs{staging, staging / "blobs", staging / "blobs" / "sha256"};
    make_dir(staging / "blobs" / "sha256");
    Ticker ticker(progress);
    {
      Fd in(::open(list_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (in.get() < 0) throw io_error(ErrorKind::kInternal, "io.read", "open", list_path, errno);
      std::string pending, prev;
      std::vector<char> buf(64 << 10);
      auto line_done = [&](const std::string& line) {
        auto sp = line.find(' ');
        auto key = line.substr(0, sp);
        std::uint64_t size = 0;
        bool ok = sp == 64 && is_blob_key(key) && key > prev && sp + 1 < line.size() && line.size() - sp - 1 <= 19 &&
                  line.find_first_not_of("0123456789", sp + 1) == std::string::npos;
        if (ok) size = std::stoull(line.substr(sp + 1));
        if (!ok) throw damaged("drawbridge.restore.blob_list", "blobs.txt: bad line '" + line.substr(0, 100) + "'");
        prev = key;
        auto rel = blob_rel(key);
        if (dirs.insert(staging / rel.parent_path()).second) make_dir(staging / rel.parent_path());
        auto c = copy_hashed(backup / rel, staging / rel, 0600, &key);
        if (!c) throw damaged("drawbridge.restore.blob_missing", "blob " + key + " is missing from the backup");
        if (c->sha256 != key || c->size != size)
          throw damaged("drawbridge.restore.blob_corrupt", "blob " + key + " does not hash to its name");
        ++counts.blobs;
        counts.blob_bytes += size;
        ticker.tick([&] {
          return "blobs: " + std::to_string(counts.blobs) + " verified, " + human_size(counts.blob_bytes);
        });
      };
      for (;;) {
        auto n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          throw io_error(ErrorKind::kInternal, "io.read", "read", list_path, errno);
        }
        if (n == 0) break;
        pending.append(buf.data(), static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
          line_done(pending.substr(start, nl - start));
          start = nl + 1;
        }
        pending.erase(0, start);
        if (pending.size() > 1024) throw damaged("drawbridge.restore.blob_list", "blobs.txt: over-long line");
      }
      if (!pending.empty()) throw damaged("drawbridge.restore.blob_list", "blobs.txt: truncated last line");
    }
    if (counts.blobs != manifest_count(m, "blobs"))
      throw damaged("drawbridge.restore.blob_list", "blobs.txt lists " + std::to_string(counts.blobs) +
                                                        " blobs, the manifest " + std::to_string(manifest_count(m, "blobs")));

    // Every node's content must be in what was just verified, and no tag may be half there.
    {
      Stmt s(db.stmts(), "SELECT DISTINCT blob FROM nodes WHERE present = 1 ORDER BY blob");
      while (s.step()) {
        auto key = s.is_null(0) ? std::string() : s.text(0);
        std::error_code ec;
        if (!is_blob_key(key) || !fs::exists(staging / blob_rel(key), ec))
          throw damaged("drawbridge.restore.blob_missing", "blob '" + key + "' is referenced by a node but not in the backup");
      }
    }
    {
      Stmt s(db.stmts(),
             "SELECT user, repo, name FROM tags t WHERE complete = 1 AND (missing != 0 OR EXISTS("
             "SELECT 1 FROM nodes n WHERE n.tag_id = t.id AND n.present = 0)) LIMIT 1");
      if (s.step())
        throw damaged("drawbridge.restore.tag_incomplete",
                      "tag " + s.text(0) + "/" + s.text(1) + ":" + s.text(2) + " is complete but lacks nodes");
    }
    fill_counts(db, counts);

    for (const auto& f : m["files"]) {
      auto rel = fs::path(f["path"].get<std::string>());
      auto expected = f["sha256"].get<std::string>();
      unsigned mode = f.contains("mode") && f["mode"].is_number_unsigned() ? f["mode"].get<unsigned>() & 0644u : 0600u;
      if (rel.has_parent_path() && dirs.insert(staging / rel.parent_path()).second) make_dir(staging / rel.parent_path());
      auto c = copy_hashed(backup / rel, staging / rel, mode, &expected);
      if (!c) throw damaged("drawbridge.restore.file_missing", rel.string() + " is missing from the backup");
      if (c->sha256 != expected) throw damaged("drawbridge.restore.file_corrupt", rel.string() + " does not match the manifest");
      ++counts.files;
    }
    fsync_tree_dirs(dirs);
  } catch (...) {
    std::error_code rm;
    fs::remove_all(staging, rm);
    throw;
  }
  // rename(2) replaces an empty directory: an empty target made by the operator is fine too.
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    int err = errno;
    std::error_code rm;
    fs::remove_all(staging, rm);
    throw io_error(ErrorKind::kInternal, "io.write", "rename onto", target, err);
  }
  fsync_directory(target.parent_path());
  if (progress)
    progress("restore done: " + std::to_string(counts.tags_complete) + " complete and " +
             std::to_string(counts.tags_pending) + " pending tags, " + std::to_string(counts.blobs) + " blobs (" +
             human_size(counts.blob_bytes) + ") verified -> " + target.string());
  return counts;
}

// ---- verify ----

namespace {

void add_problem(VerifyReport& r, std::string code, std::string item, std::string detail) {
  ++r.problem_count;
  if (r.problems.size() < kMaxListedProblems) r.problems.push_back({std::move(code), std::move(item), std::move(detail)});
}

}  // namespace

VerifyReport verify_sqlite_store(const fs::path& data_dir, const ProgressFn& progress) {
  auto live = data_dir / "meta.sqlite3";
  std::error_code ec;
  require(fs::exists(live, ec), ErrorKind::kNotFound, "drawbridge.verify.no_store",
          "no embedded store in " + data_dir.string() + " (meta.sqlite3 missing)");
  VerifyReport r;
  Ticker ticker(progress);
  {
    Db db(live, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (auto i = db.integrity(); i != "ok") add_problem(r, "drawbridge.verify.meta_corrupt", "meta.sqlite3", i);
    SharedGcLock gc(data_dir, progress);
    // One read transaction: the counts and the rows are the same committed state.
    db.exec("BEGIN");
    r.tags_complete = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM tags WHERE complete = 1"));
    r.tags_pending = static_cast<std::uint64_t>(db.count("SELECT count(*) FROM tags WHERE complete = 0"));
    {
      Stmt s(db.stmts(),
             "SELECT user, repo, name FROM tags t WHERE complete = 1 AND (missing != 0 OR EXISTS("
             "SELECT 1 FROM nodes n WHERE n.tag_id = t.id AND n.present = 0))");
      while (s.step())
        add_problem(r, "drawbridge.verify.tag_incomplete", s.text(0) + "/" + s.text(1) + ":" + s.text(2),
                    "complete, but a node is missing");
    }
    // Existence only here: the walk below hashes every blob file once, however many nodes share it.
    {
      Stmt s(db.stmts(), "SELECT tag_id, path, blob FROM nodes WHERE present = 1");
      while (s.step()) {
        ++r.nodes_present;
        auto item = std::to_string(s.integer(0)) + ":/" + s.text(1);
        auto key = s.is_null(2) ? std::string() : s.text(2);
        if (!is_blob_key(key)) {
          add_problem(r, "drawbridge.verify.blob_missing", item, "no valid blob key ('" + key + "')");
          continue;
        }
        struct stat st{};
        if (::stat((data_dir / blob_rel(key)).c_str(), &st) != 0)
          add_problem(r, "drawbridge.verify.blob_missing", key, "referenced by node " + item);
        ticker.tick([&] { return "nodes: " + std::to_string(r.nodes_present) + " checked"; });
      }
    }
    db.exec("COMMIT");
  }
  auto root = data_dir / "blobs" / "sha256";
  if (!fs::exists(root, ec)) return r;  // no blob written yet
  for (const auto& shard : fs::directory_iterator(root, ec)) {
    if (!shard.is_directory()) continue;
    auto prefix = shard.path().filename().string();
    for (const auto& f : fs::directory_iterator(shard.path(), ec)) {
      auto name = f.path().filename().string();
      if (!is_blob_key(name)) continue;  // not a blob (nothing else is written here)
      auto h = hash_file(f.path());
      if (!h) continue;  // collected meanwhile: no longer referenced
      ++r.blobs;
      r.blob_bytes += h->size;
      if (h->sha256 != name)
        add_problem(r, "drawbridge.verify.blob_corrupt", name, "content hashes to " + h->sha256);
      else if (name.compare(0, 2, prefix) != 0)  // never looked up there: its nodes lack it
        add_problem(r, "drawbridge.verify.blob_corrupt", name, "stored under " + prefix + "/");
      ticker.tick([&] { return "blobs: " + std::to_string(r.blobs) + " hashed, " + human_size(r.blob_bytes); });
    }
  }
  if (ec) throw io_error(ErrorKind::kInternal, "io.read", "list", root, ec.value());
  return r;
}

VerifyReport verify_postgres_store(const std::string& conninfo, const ProgressFn& progress) {
  VerifyReport r;
  Ticker ticker(progress);
  try {
    pqxx::connection c(conninfo);
    pqxx::work w(c);
    // One snapshot for every query below; read-only, so it never conflicts with the servers.
    w.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    auto counts = w.exec1(
        "SELECT (SELECT count(*) FROM drawbridge_tags WHERE complete), "
        "(SELECT count(*) FROM drawbridge_tags WHERE NOT complete), "
        "(SELECT count(*) FROM drawbridge_nodes WHERE present)");
    r.tags_complete = counts[0].as<std::uint64_t>();
    r.tags_pending = counts[1].as<std::uint64_t>();
    r.nodes_present = counts[2].as<std::uint64_t>();
    // The joins run in the server; only the damaged rows (at most a page) come back.
    auto report = [&](const std::string& where, const std::string& columns, const char* code, auto&& describe) {
      auto total = w.exec1("SELECT count(*) " + where)[0].as<std::uint64_t>();
      auto rows = w.exec("SELECT " + columns + " " + where + " LIMIT " + std::to_string(kMaxListedProblems));
      for (const auto& row : rows) {
        auto [item, detail] = describe(row);
        add_problem(r, code, item, detail);
      }
      r.problem_count += total - std::min<std::uint64_t>(total, rows.size());
    };
    report("FROM drawbridge_tags t WHERE t.complete AND (t.missing <> 0 OR EXISTS("
           "SELECT 1 FROM drawbridge_nodes n WHERE n.tag_id = t.id AND NOT n.present))",
           "t.usr || '/' || t.repo || ':' || t.name", "drawbridge.verify.tag_incomplete", [](const pqxx::row& row) {
             return std::pair(row[0].as<std::string>(), std::string("complete, but a node is missing"));
           });
    report("FROM drawbridge_nodes n WHERE n.present AND (n.blob IS NULL OR NOT EXISTS("
           "SELECT 1 FROM drawbridge_blobs b WHERE b.key = n.blob))",
           "n.tag_id, n.path, coalesce(n.blob, '')", "drawbridge.verify.blob_missing", [](const pqxx::row& row) {
             return std::pair(row[2].as<std::string>(),
                              "referenced by node " + row[0].as<std::string>() + ":/" + row[1].as<std::string>());
           });
    // Keyset pages: the server hashes each blob, the client holds one page of keys at a time.
    std::string after;
    for (;;) {
      auto page = w.exec_params(
          "SELECT key, length(data), encode(sha256(data), 'hex') FROM drawbridge_blobs WHERE key > $1 "
          "ORDER BY key LIMIT 256",
          after);
      if (page.empty()) break;
      for (const auto& row : page) {
        auto key = row[0].as<std::string>();
        auto actual = row[2].as<std::string>();
        ++r.blobs;
        r.blob_bytes += row[1].as<std::uint64_t>();
        if (actual != key) add_problem(r, "drawbridge.verify.blob_corrupt", key, "content hashes to " + actual);
        after = key;
      }
      ticker.tick([&] { return "blobs: " + std::to_string(r.blobs) + " hashed, " + human_size(r.blob_bytes); });
    }
    w.commit();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kInternal, "drawbridge.store.backend", std::string("PostgreSQL: ") + e.what());
  }
  return r;
}

int maintenance_exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
    case ErrorKind::kTooLarge:
    case ErrorKind::kConflict:
    case ErrorKind::kNotFound: return 3;
    case ErrorKind::kUntrusted: return kExitDamaged;
    default: return 1;
  }
}

}  // namespace enarx::drawbridge
