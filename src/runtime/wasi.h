// WASI preview1 (wasi_snapshot_preview1) in C++ over the engine interface (engine.h).
//
// The guest sees: args, environment, clocks, the OS CSPRNG, stdio mapped to host descriptors,
// Enarx's [[files]] as fds 0..n-1 (null, stdio, listening and connected sockets with TLS
// terminated by the host), and the preopened directories after them (vfs.h): the package's
// assets read-only, writable in-memory directories, and for `enarx run --dir` host directories. Every pointer and length from the guest is bounds-checked against the
// current linear memory (re-read on every call) and answered with EFAULT when it is out of
// range; unsupported calls get ENOSYS/ENOTSUP/EROFS/EBADF, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/assets.h"
#include "runtime/engine.h"
#include "runtime/socket.h"
#include "runtime/vfs.h"

namespace enarx::runtime {

namespace wasi_errno {
constexpr std::uint16_t kSuccess = 0, k2big = 1, kAcces = 2, kAgain = 6, kBadf = 8,
                        kExist = 20, kFault = 21, kInval = 28, kIo = 29, kIsdir = 31,
                        kMfile = 33, kNametoolong = 37, kNoent = 44, kNosys = 52, kNotconn = 53,
                        kNotdir = 54, kNotsock = 57, kNotsup = 58, kOverflow = 61, kPerm = 63,
                        kRofs = 69, kSpipe = 70, kNotcapable = 76;
}

// What one call may ask of the host (docs/runtime.md, "Bounds the workload cannot exceed"); more
// is EINVAL, as Linux answers readv/writev over IOV_MAX and poll over RLIMIT_NOFILE. Paths are
// bounded by kMaxPathBytes (assets.h).
constexpr std::uint32_t kMaxIovecs = 1024;
constexpr std::uint32_t kMaxSubscriptions = 4096;

struct WasiOptions {
  std::vector<std::string> args;  // argv, argv[0] included
  std::vector<std::string> env;   // "NAME=value"
  Deadline deadline;              // blocking calls give up (GuestTimeout) when it passes
};

class Wasi {
 public:
  explicit Wasi(WasiOptions options);
  ~Wasi();
  Wasi(const Wasi&) = delete;
  Wasi& operator=(const Wasi&) = delete;

  // File descriptors are numbered in the order they are added (0, 1, 2, ...).
  std::uint32_t add_null();
  // A host descriptor (not owned) for stdin / stdout / stderr.
  std::uint32_t add_host_fd(int host_fd, bool readable, bool writable);
  std::uint32_t add_listener(std::shared_ptr<Listener> listener);
  std::uint32_t add_stream(std::shared_ptr<Stream> stream);
  // A preopened read-only directory, reported to the guest by fd_prestat_get under `name`.
  // The tree's structure is copied; its file bytes are shared, not copied.
  std::uint32_t add_preopen(const AssetNode& dir, std::string name);
  // A preopened directory on any file system (vfs.h): an in-memory writable one, or a host
  // directory for `enarx run --dir`.
  std::uint32_t add_preopen(std::unique_ptr<vfs::Object> dir, std::string name);

  // Strict linking: a message naming the first wasi_snapshot_preview1 function the module
  // imports with a type other than WASI's (else empty). Unknown names are not checked (they
  // get the ENOSYS fallback).
  static std::string check_imports(const std::vector<FunctionImport>& imports);

  // Adds every wasi_snapshot_preview1 function, and an ENOSYS fallback for unknown imports.
  void add_to(Imports& imports);

  // Number of calls per function name (diagnostics and tests).
  const std::map<std::string, std::uint64_t>& call_counts() const { return counts_; }

  struct Fd;

 private:
  using Impl = std::uint16_t (Wasi::*)(HostCall&);
  std::uint32_t add(std::unique_ptr<Fd> fd);
  Fd* fd(std::uint32_t n);

  std::uint16_t args_get(HostCall&);
  std::uint16_t args_sizes_get(HostCall&);
  std::uint16_t environ_get(HostCall&);
  std::uint16_t environ_sizes_get(HostCall&);
  std::uint16_t clock_res_get(HostCall&);
  std::uint16_t clock_time_get(HostCall&);
  std::uint16_t fd_advise(HostCall&);
  std::uint16_t fd_allocate(HostCall&);
  std::uint16_t fd_close(HostCall&);
  std::uint16_t fd_datasync(HostCall&);
  std::uint16_t fd_fdstat_get(HostCall&);
  std::uint16_t fd_fdstat_set_flags(HostCall&);
  std::uint16_t fd_fdstat_set_rights(HostCall&);
  std::uint16_t fd_filestat_get(HostCall&);
  std::uint16_t fd_filestat_set_size(HostCall&);
  std::uint16_t fd_filestat_set_times(HostCall&);
  std::uint16_t fd_pread(HostCall&);
  std::uint16_t fd_prestat_get(HostCall&);
  std::uint16_t fd_prestat_dir_name(HostCall&);
  std::uint16_t fd_pwrite(HostCall&);
  std::uint16_t fd_read(HostCall&);
  std::uint16_t fd_readdir(HostCall&);
  std::uint16_t fd_renumber(HostCall&);
  std::uint16_t fd_seek(HostCall&);
  std::uint16_t fd_sync(HostCall&);
  std::uint16_t fd_tell(HostCall&);
  std::uint16_t fd_write(HostCall&);
  std::uint16_t path_filestat_get(HostCall&);
  std::uint16_t path_open(HostCall&);
  std::uint16_t path_readlink(HostCall&);
  std::uint16_t path_create_directory(HostCall&);
  std::uint16_t path_remove_directory(HostCall&);
  std::uint16_t path_unlink_file(HostCall&);
  std::uint16_t path_filestat_set_times(HostCall&);
  std::uint16_t dir_fd(std::uint32_t n, std::uint64_t right, Fd** out);
  std::uint16_t path_symlink(HostCall&);
  std::uint16_t path_link(HostCall&);
  std::uint16_t path_rename(HostCall&);
  std::uint16_t poll_oneoff(HostCall&);
  std::uint16_t proc_exit(HostCall&);
  std::uint16_t proc_raise(HostCall&);
  std::uint16_t sched_yield(HostCall&);
  std::uint16_t random_get(HostCall&);
  std::uint16_t sock_accept(HostCall&);
  std::uint16_t sock_recv(HostCall&);
  std::uint16_t sock_send(HostCall&);
  std::uint16_t sock_shutdown(HostCall&);

  // Shared by fd_read/fd_pread/sock_recv and fd_write/fd_pwrite/sock_send.
  std::uint16_t read_iovs(Fd& f, const MemoryView& m, std::uint32_t iovs, std::uint32_t n,
                          const std::uint64_t* at, std::uint64_t* total);
  std::uint16_t write_iovs(HostCall& c, Fd& f, const MemoryView& m, std::uint32_t iovs,
                           std::uint32_t n, const std::uint64_t* at, std::uint64_t* total);
  // Throws GuestTimeout once the deadline or a limit the engine watches (CPU time) has passed:
  // for host calls that work in steps, between steps.
  void check_limits(const HostCall& c) const;

  WasiOptions options_;
  std::vector<std::unique_ptr<Fd>> fds_;  // index = fd number; null = closed
  std::map<std::string, std::uint64_t> counts_;
  std::map<std::string, Impl> table_;
};

}  // namespace enarx::runtime
