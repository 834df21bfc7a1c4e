// The file systems a workload's preopened directories live on (WASI preview1 path_* / fd_*):
//  - MemFs: an in-keep tree in memory. Either the package's assets (read-only: every change is
//    EROFS) or a writable directory whose files, directories, symlinks and hard links count
//    against a byte quota (ENOSPC to the guest when it is full). Nothing reaches host disk.
//  - a host directory (`enarx run --dir` only, never `enarx deploy`): every path is resolved
//    with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), or an equivalent component walk
//    with O_NOFOLLOW where openat2 is missing, so no "..", absolute path or symlink leaves it.
// Every call answers a WASI errno (0 = success) and never throws for anything the guest does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/assets.h"

namespace enarx::runtime::vfs {

// WASI errnos used by the file systems (witx numbering).
namespace err {
constexpr std::uint16_t kAcces = 2, kBadf = 8, kBusy = 10, kExist = 20, kFbig = 22, kInval = 28,
                        kIo = 29, kIsdir = 31, kLoop = 32, kMlink = 34, kNametoolong = 37,
                        kNoent = 44, kNospc = 51, kNotdir = 54, kNotempty = 55, kNotsup = 58,
                        kPerm = 63, kRofs = 69, kXdev = 75, kNotcapable = 76;
}

// WASI filetype values.
enum FileType : std::uint8_t {
  kUnknown = 0, kBlockDevice = 1, kCharDevice = 2, kDirectory = 3, kRegular = 4,
  kSocketDgram = 5, kSocketStream = 6, kSymlink = 7,
};

struct Stat {
  std::uint64_t dev = 0, ino = 0;
  std::uint8_t type = kUnknown;
  std::uint64_t nlink = 1, size = 0, atim = 0, mtim = 0, ctim = 0;
};

struct Dirent {
  std::uint64_t next = 0;  // the cookie that resumes after this entry
  std::uint64_t ino = 0;
  std::uint8_t type = kUnknown;
  std::string name;
};

// fstflags (witx): set the time given, or now.
constexpr std::uint16_t kAtim = 1, kAtimNow = 2, kMtim = 4, kMtimNow = 8;
// oflags (witx).
constexpr std::uint16_t kOCreat = 1, kODirectory = 2, kOExcl = 4, kOTrunc = 8;

struct OpenRequest {
  std::uint16_t oflags = 0;
  bool follow = true;   // lookupflags SYMLINK_FOLLOW for the last component
  bool read = false, write = false;
};

// An open file or directory: what a WASI descriptor of type Dir or File refers to.
class Object {
 public:
  virtual ~Object() = default;
  virtual bool is_dir() const = 0;
  // The same file system instance (hard links and renames do not cross them: EXDEV).
  virtual const void* fs_id() const = 0;
  // The package's assets: every change is EROFS, checked before anything else the call does.
  virtual bool read_only() const { return false; }

  virtual std::uint16_t stat(Stat* out) = 0;
  virtual std::uint16_t pread(std::uint8_t* dst, std::size_t len, std::uint64_t at,
                              std::size_t* got) = 0;
  virtual std::uint16_t pwrite(const std::uint8_t* src, std::size_t len, std::uint64_t at,
                               std::size_t* put) = 0;
  virtual std::uint16_t set_size(std::uint64_t size) = 0;
  virtual std::uint16_t set_times(std::uint64_t atim, std::uint64_t mtim, std::uint16_t flags) = 0;
  virtual std::uint16_t allocate(std::uint64_t offset, std::uint64_t len) = 0;
  virtual std::uint16_t sync() = 0;

  // Directories. Cookies are stable: 0 is the start, and the cookie an entry returned resumes
  // after it even when other entries were added or removed in between. At most `max` entries.
  virtual std::uint16_t readdir(std::uint64_t cookie, std::size_t max, std::vector<Dirent>* out) = 0;
  virtual std::uint16_t open(std::string_view path, const OpenRequest& req,
                             std::unique_ptr<Object>* out) = 0;
  virtual std::uint16_t path_stat(std::string_view path, bool follow, Stat* out) = 0;
  virtual std::uint16_t path_set_times(std::string_view path, bool follow, std::uint64_t atim,
                                       std::uint64_t mtim, std::uint16_t flags) = 0;
  virtual std::uint16_t mkdir(std::string_view path) = 0;
  virtual std::uint16_t rmdir(std::string_view path) = 0;
  virtual std::uint16_t unlink(std::string_view path) = 0;
  virtual std::uint16_t symlink(std::string_view target, std::string_view path) = 0;
  virtual std::uint16_t readlink(std::string_view path, std::string* out) = 0;
  // `to` is a directory Object of the same kind (else EXDEV).
  virtual std::uint16_t link(std::string_view path, bool follow, Object& to,
                             std::string_view to_path) = 0;
  virtual std::uint16_t rename(std::string_view path, Object& to, std::string_view to_path) = 0;
};

// How far a path's symbolic links are followed before ELOOP (Linux's MAXSYMLINKS).
constexpr int kMaxSymlinks = 40;
// What one directory entry, file or symlink costs a writable MemFs's quota besides its bytes:
// the host holds a node and a map entry for it, so a quota also bounds how many there are.
constexpr std::uint64_t kNodeCost = 256;

// A read-only in-memory directory over the package's assets (file bytes are shared, not copied).
std::unique_ptr<Object> open_assets(const AssetNode& root);
// A fresh, empty, writable in-memory directory holding at most `quota` bytes.
std::unique_ptr<Object> make_memfs(std::uint64_t quota);
// A host directory, read-write (enarx run --dir). Throws Error (io.read) when it cannot be opened.
std::unique_ptr<Object> open_host_dir(const std::filesystem::path& dir);
// For tests: make open_host_dir's objects use the component walk instead of openat2.
void force_component_walk_for_testing(bool on);

// Linux errno -> WASI errno.
std::uint16_t from_errno(int e);

}  // namespace enarx::runtime::vfs
