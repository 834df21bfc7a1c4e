#include "runtime/wasi.h"

#include "runtime/vfs.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

namespace enarx::runtime {

using namespace wasi_errno;

namespace {

using Clock = std::chrono::steady_clock;

enum FileType : std::uint8_t {
  kUnknown = 0,
  kCharDevice = 2,
  kDirectory = 3,
  kRegular = 4,
  kSocketStream = 6,
};

// Rights bits (witx order).
constexpr std::uint64_t R(int bit) { return std::uint64_t{1} << bit; }
constexpr std::uint64_t kFdDatasync = R(0), kFdRead = R(1), kFdSeek = R(2),
                        kFdFdstatSetFlags = R(3), kFdSync = R(4), kFdTell = R(5), kFdWrite = R(6),
                        kFdAdvise = R(7), kFdAllocate = R(8), kPathOpen = R(13),
                        kFdReaddir = R(14), kPathFilestatGet = R(18), kFdFilestatGet = R(21),
                        kFdFilestatSetSize = R(22), kFdFilestatSetTimes = R(23),
                        kPollFdReadwrite = R(27), kSockShutdown = R(28), kSockAccept = R(29);
// Every right a regular file may hold, and every right a directory may hold (path_* calls,
// bits 9..20 and 24..26, with fd_readdir and the fd_* calls that make sense on a directory).
constexpr std::uint64_t kFileRights = kFdDatasync | kFdRead | kFdSeek | kFdFdstatSetFlags |
                                      kFdSync | kFdTell | kFdWrite | kFdAdvise | kFdAllocate |
                                      kFdFilestatGet | kFdFilestatSetSize | kFdFilestatSetTimes |
                                      kPollFdReadwrite;
constexpr std::uint64_t kDirRights = kFdFdstatSetFlags | kFdSync | kFdDatasync | kPathOpen |
                                     kFdReaddir | kFdFilestatGet | kFdFilestatSetTimes |
                                     R(9) | R(10) | R(11) | R(12) | R(15) | R(16) | R(17) |
                                     kPathFilestatGet | R(19) | R(20) | R(24) | R(25) | R(26);

constexpr std::uint16_t kFdflagAppend = 1, kFdflagNonblock = 4;
constexpr std::size_t kMaxFds = 1024;
constexpr std::size_t kMaxReaddirEntries = 4096;
constexpr std::uint32_t kLookupSymlinkFollow = 1;
constexpr std::uint64_t kPathCreateDirectory = R(9), kPathCreateFile = R(10),
                        kPathFilestatSetSize = R(19), kPathLinkSource = R(11),
                        kPathLinkTarget = R(12), kPathReadlink = R(15),
                        kPathRenameSource = R(16), kPathRenameTarget = R(17),
                        kPathFilestatSetTimes = R(20), kPathSymlink = R(24),
                        kPathRemoveDirectory = R(25), kPathUnlinkFile = R(26);

std::uint64_t now_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

bool clock_of(std::uint32_t id, clockid_t* out) {
  switch (id) {
    case 0: *out = CLOCK_REALTIME; return true;
    case 1: *out = CLOCK_MONOTONIC; return true;
    case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return true;
    case 3: *out = CLOCK_THREAD_CPUTIME_ID; return true;
    default: return false;
  }
}

}  // namespace

struct Wasi::Fd {
  enum class Type { Null, Host, Dir, File, Listen, Stream } type = Type::Null;
  int host_fd = -1;
  bool readable = false, writable = false;
  std::unique_ptr<vfs::Object> obj;  // Dir and File
  std::uint64_t offset = 0;
  std::string preopen;  // non-empty for preopened directories
  std::shared_ptr<Listener> listener;
  std::shared_ptr<Stream> stream;
  std::unique_ptr<HostOutput> out;  // writable host descriptors
  std::uint16_t flags = 0;
  std::uint64_t rights = 0, inheriting = 0;

  bool nonblocking() const { return flags & kFdflagNonblock; }
  std::uint8_t filetype() const {
    switch (type) {
      case Type::Null:
      case Type::Host: return kCharDevice;
      case Type::Dir: return kDirectory;
      case Type::File: return kRegular;
      case Type::Listen:
      case Type::Stream: return kSocketStream;
    }
    return kUnknown;
  }
  std::uint64_t size() const {
    vfs::Stat st;
    return obj && obj->stat(&st) == 0 ? st.size : 0;
  }
};

namespace {

// filestat: dev u64, ino u64, filetype u8 (+7), nlink u64, size u64, atim, mtim, ctim = 64 bytes
bool put_filestat(const MemoryView& m, std::uint32_t at, const vfs::Stat& st) {
  std::uint8_t* p = m.ptr(at, 64);
  if (!p) return false;
  std::memset(p, 0, 64);
  std::memcpy(p + 0, &st.dev, 8);
  std::memcpy(p + 8, &st.ino, 8);
  p[16] = st.type;
  std::memcpy(p + 24, &st.nlink, 8);
  std::memcpy(p + 32, &st.size, 8);
  std::memcpy(p + 40, &st.atim, 8);
  std::memcpy(p + 48, &st.mtim, 8);
  std::memcpy(p + 56, &st.ctim, 8);
  return true;
}

std::uint16_t put_strings(const MemoryView& m, const std::vector<std::string>& list,
                          std::uint32_t ptrs, std::uint32_t buf) {
  std::uint64_t p = ptrs, b = buf;
  for (const auto& s : list) {
    std::uint8_t* dst = m.ptr(b, s.size() + 1);
    if (!dst || !m.store<std::uint32_t>(p, static_cast<std::uint32_t>(b))) return kFault;
    std::memcpy(dst, s.c_str(), s.size() + 1);
    p += 4;
    b += s.size() + 1;
  }
  return kSuccess;
}

std::uint16_t put_sizes(const MemoryView& m, const std::vector<std::string>& list,
                        std::uint32_t count_at, std::uint32_t size_at) {
  std::uint64_t total = 0;
  for (const auto& s : list) total += s.size() + 1;
  if (total > UINT32_MAX) return kOverflow;
  if (!m.store<std::uint32_t>(count_at, static_cast<std::uint32_t>(list.size())) ||
      !m.store<std::uint32_t>(size_at, static_cast<std::uint32_t>(total)))
    return kFault;
  return kSuccess;
}

// The guest's path argument: EFAULT when out of bounds, ENAMETOOLONG over kMaxPathBytes (before
// anything reads it, so a path costs the host the same whatever length the guest claims).
std::uint16_t guest_path(const MemoryView& m, std::uint32_t ptr, std::uint32_t len,
                         std::string_view* out) {
  const std::uint8_t* p = m.ptr(ptr, len);
  if (!p) return kFault;
  if (len > kMaxPathBytes) return kNametoolong;
  *out = std::string_view(reinterpret_cast<const char*>(p), len);
  // No file system takes a NUL in a name (Linux's open() could not even be asked).
  if (out->find('\0') != std::string_view::npos) return kInval;
  return kSuccess;
}

}  // namespace

Wasi::Wasi(WasiOptions options) : options_(std::move(options)) {
  table_ = {
      {"args_get", &Wasi::args_get},
      {"args_sizes_get", &Wasi::args_sizes_get},
      {"environ_get", &Wasi::environ_get},
      {"environ_sizes_get", &Wasi::environ_sizes_get},
      {"clock_res_get", &Wasi::clock_res_get},
      {"clock_time_get", &Wasi::clock_time_get},
      {"fd_advise", &Wasi::fd_advise},
      {"fd_allocate", &Wasi::fd_allocate},
      {"fd_close", &Wasi::fd_close},
      {"fd_datasync", &Wasi::fd_datasync},
      {"fd_fdstat_get", &Wasi::fd_fdstat_get},
      {"fd_fdstat_set_flags", &Wasi::fd_fdstat_set_flags},
      {"fd_fdstat_set_rights", &Wasi::fd_fdstat_set_rights},
      {"fd_filestat_get", &Wasi::fd_filestat_get},
      {"fd_filestat_set_size", &Wasi::fd_filestat_set_size},
      {"fd_filestat_set_times", &Wasi::fd_filestat_set_times},
      {"fd_pread", &Wasi::fd_pread},
      {"fd_prestat_get", &Wasi::fd_prestat_get},
      {"fd_prestat_dir_name", &Wasi::fd_prestat_dir_name},
      {"fd_pwrite", &Wasi::fd_pwrite},
      {"fd_read", &Wasi::fd_read},
      {"fd_readdir", &Wasi::fd_readdir},
      {"fd_renumber", &Wasi::fd_renumber},
      {"fd_seek", &Wasi::fd_seek},
      {"fd_sync", &Wasi::fd_sync},
      {"fd_tell", &Wasi::fd_tell},
      {"fd_write", &Wasi::fd_write},
      {"path_create_directory", &Wasi::path_create_directory},
      {"path_filestat_get", &Wasi::path_filestat_get},
      {"path_filestat_set_times", &Wasi::path_filestat_set_times},
      {"path_link", &Wasi::path_link},
      {"path_open", &Wasi::path_open},
      {"path_readlink", &Wasi::path_readlink},
      {"path_remove_directory", &Wasi::path_remove_directory},
      {"path_rename", &Wasi::path_rename},
      {"path_symlink", &Wasi::path_symlink},
      {"path_unlink_file", &Wasi::path_unlink_file},
      {"poll_oneoff", &Wasi::poll_oneoff},
      {"proc_exit", &Wasi::proc_exit},
      {"proc_raise", &Wasi::proc_raise},
      {"sched_yield", &Wasi::sched_yield},
      {"random_get", &Wasi::random_get},
      {"sock_accept", &Wasi::sock_accept},
      {"sock_recv", &Wasi::sock_recv},
      {"sock_send", &Wasi::sock_send},
      {"sock_shutdown", &Wasi::sock_shutdown},
  };
}

Wasi::~Wasi() = default;

namespace {

// wasi_snapshot_preview1's function types (witx), as function_imports() spells them.
const std::map<std::string_view, std::string_view>& signatures() {
  static const std::map<std::string_view, std::string_view> table = {
      {"args_get", "ii:i"}, {"args_sizes_get", "ii:i"}, {"environ_get", "ii:i"},
      {"environ_sizes_get", "ii:i"}, {"clock_res_get", "ii:i"}, {"clock_time_get", "iIi:i"},
      {"fd_advise", "iIIi:i"}, {"fd_allocate", "iII:i"}, {"fd_close", "i:i"},
      {"fd_datasync", "i:i"}, {"fd_fdstat_get", "ii:i"}, {"fd_fdstat_set_flags", "ii:i"},
      {"fd_fdstat_set_rights", "iII:i"}, {"fd_filestat_get", "ii:i"},
      {"fd_filestat_set_size", "iI:i"}, {"fd_filestat_set_times", "iIIi:i"},
      {"fd_pread", "iiiIi:i"}, {"fd_prestat_get", "ii:i"}, {"fd_prestat_dir_name", "iii:i"},
      {"fd_pwrite", "iiiIi:i"}, {"fd_read", "iiii:i"}, {"fd_readdir", "iiiIi:i"},
      {"fd_renumber", "ii:i"}, {"fd_seek", "iIii:i"}, {"fd_sync", "i:i"}, {"fd_tell", "ii:i"},
      {"fd_write", "iiii:i"}, {"path_create_directory", "iii:i"},
      {"path_filestat_get", "iiiii:i"}, {"path_filestat_set_times", "iiiiIIi:i"},
      {"path_link", "iiiiiii:i"}, {"path_open", "iiiiiIIii:i"}, {"path_readlink", "iiiiii:i"},
      {"path_remove_directory", "iii:i"}, {"path_rename", "iiiiii:i"},
      {"path_symlink", "iiiii:i"}, {"path_unlink_file", "iii:i"}, {"poll_oneoff", "iiii:i"},
      {"proc_exit", "i:"}, {"proc_raise", "i:i"}, {"sched_yield", ":i"}, {"random_get", "ii:i"},
      {"sock_accept", "iii:i"}, {"sock_recv", "iiiiii:i"}, {"sock_send", "iiiii:i"},
      {"sock_shutdown", "ii:i"},
  };
  return table;
}

std::string readable_signature(std::string_view sig) {
  auto type = [](char c) -> std::string {
    switch (c) {
      case 'i': return "i32";
      case 'I': return "i64";
      case 'f': return "f32";
      case 'F': return "f64";
      case 'v': return "v128";
      default: return "ref";
    }
  };
  std::string out = "(";
  std::size_t colon = sig.find(':');
  for (std::size_t i = 0; i < colon; ++i) out += (i ? ", " : "") + type(sig[i]);
  out += ") -> (";
  for (std::size_t i = colon + 1; i < sig.size(); ++i) out += (i > colon + 1 ? ", " : "") + type(sig[i]);
  return out + ")";
}

}  // namespace

std::string Wasi::check_imports(const std::vector<FunctionImport>& imports) {
  for (const auto& f : imports) {
    if (f.module != "wasi_snapshot_preview1") continue;
    auto it = signatures().find(f.name);
    if (it == signatures().end() || it->second == f.signature) continue;
    return "the module imports wasi_snapshot_preview1." + f.name + " as " +
           readable_signature(f.signature) + ", but WASI preview1 defines it as " +
           readable_signature(it->second);
  }
  return {};
}

std::uint32_t Wasi::add(std::unique_ptr<Fd> f) {
  fds_.push_back(std::move(f));
  return static_cast<std::uint32_t>(fds_.size() - 1);
}

Wasi::Fd* Wasi::fd(std::uint32_t n) { return n < fds_.size() ? fds_[n].get() : nullptr; }

std::uint32_t Wasi::add_null() {
  auto f = std::make_unique<Fd>();
  f->type = Fd::Type::Null;
  f->readable = f->writable = true;
  f->rights = kFdRead | kFdWrite | kFdFdstatSetFlags | kPollFdReadwrite | kFdFilestatGet;
  return add(std::move(f));
}

std::uint32_t Wasi::add_host_fd(int host_fd, bool readable, bool writable) {
  auto f = std::make_unique<Fd>();
  f->type = Fd::Type::Host;
  f->host_fd = host_fd;
  f->readable = readable;
  f->writable = writable;
  if (writable) f->out = std::make_unique<HostOutput>(host_fd);
  f->rights = (readable ? kFdRead : 0) | (writable ? kFdWrite : 0) | kFdFdstatSetFlags |
              kPollFdReadwrite | kFdFilestatGet;
  return add(std::move(f));
}

std::uint32_t Wasi::add_listener(std::shared_ptr<Listener> l) {
  auto f = std::make_unique<Fd>();
  f->type = Fd::Type::Listen;
  f->listener = std::move(l);
  f->rights = kFdFilestatGet | kFdFdstatSetFlags | kPollFdReadwrite | kFdRead | kSockAccept;
  return add(std::move(f));
}

std::uint32_t Wasi::add_stream(std::shared_ptr<Stream> s) {
  auto f = std::make_unique<Fd>();
  f->type = Fd::Type::Stream;
  f->stream = std::move(s);
  f->readable = f->writable = true;
  f->rights = kFdFilestatGet | kFdFdstatSetFlags | kPollFdReadwrite | kFdRead | kFdWrite |
              kSockShutdown;
  return add(std::move(f));
}

std::uint32_t Wasi::add_preopen(const AssetNode& dir, std::string name) {
  return add_preopen(vfs::open_assets(dir), std::move(name));
}

std::uint32_t Wasi::add_preopen(std::unique_ptr<vfs::Object> dir, std::string name) {
  auto f = std::make_unique<Fd>();
  f->type = Fd::Type::Dir;
  f->obj = std::move(dir);
  f->preopen = std::move(name);
  f->rights = kDirRights;
  // Write rights are inheritable on read-only trees too, so that a request to write reaches
  // path_open and fails there with EROFS: without them wasi-libc silently narrows the request
  // to read-only, and open(O_WRONLY) "succeeds" on a read-only tree.
  f->inheriting = kDirRights | kFileRights;
  return add(std::move(f));
}

void Wasi::add_to(Imports& imports) {
  for (const auto& [name, impl] : table_) {
    HostFunction hf;
    hf.result = name == "proc_exit" ? ResultType::None : ResultType::I32;
    std::string key = name;
    Impl method = impl;
    hf.fn = [this, key, method](HostCall& c) -> std::uint64_t {
      ++counts_[key];
      return (this->*method)(c);
    };
    imports.add("wasi_snapshot_preview1", name, std::move(hf));
  }
  HostFunction nosys;
  nosys.fn = [](HostCall&) -> std::uint64_t { return kNosys; };
  imports.fallback = std::move(nosys);
}

// --- args, environment, clocks, random, process ----------------------------------------------

std::uint16_t Wasi::args_get(HostCall& c) {
  return put_strings(c.memory(), options_.args, c.u32(0), c.u32(1));
}
std::uint16_t Wasi::args_sizes_get(HostCall& c) {
  return put_sizes(c.memory(), options_.args, c.u32(0), c.u32(1));
}
std::uint16_t Wasi::environ_get(HostCall& c) {
  return put_strings(c.memory(), options_.env, c.u32(0), c.u32(1));
}
std::uint16_t Wasi::environ_sizes_get(HostCall& c) {
  return put_sizes(c.memory(), options_.env, c.u32(0), c.u32(1));
}

std::uint16_t Wasi::clock_res_get(HostCall& c) {
  clockid_t id;
  if (!clock_of(c.u32(0), &id)) return kInval;
  timespec ts{};
  clock_getres(id, &ts);
  std::uint64_t ns = std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
  return c.memory().store<std::uint64_t>(c.u32(1), ns) ? kSuccess : kFault;
}

std::uint16_t Wasi::clock_time_get(HostCall& c) {
  clockid_t id;
  if (!clock_of(c.u32(0), &id)) return kInval;
  return c.memory().store<std::uint64_t>(c.u32(2), now_ns(id)) ? kSuccess : kFault;
}

std::uint16_t Wasi::random_get(HostCall& c) {
  MemoryView m = c.memory();
  std::uint8_t* p = m.ptr(c.u32(0), c.u32(1));
  if (!p) return kFault;
  std::size_t len = c.u32(1);
  // getrandom() fills about a GiB in seconds; the limits may pass in between.
  for (std::size_t off = 0; off < len;) {
    if (off > 0) check_limits(c);
    ssize_t r = ::getrandom(p + off, std::min<std::size_t>(len - off, 1 << 20), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return kIo;
    }
    off += static_cast<std::size_t>(r);
  }
  return kSuccess;
}

void Wasi::check_limits(const HostCall& c) const {
  if (c.interrupted() || (options_.deadline && Clock::now() >= *options_.deadline))
    throw GuestTimeout{};
}

std::uint16_t Wasi::proc_exit(HostCall& c) { throw GuestExit{static_cast<int>(c.u32(0))}; }
std::uint16_t Wasi::proc_raise(HostCall&) { return kNosys; }
std::uint16_t Wasi::sched_yield(HostCall&) {
  std::this_thread::yield();
  return kSuccess;
}

// --- descriptors -----------------------------------------------------------------------------

std::uint16_t Wasi::fd_close(HostCall& c) {
  std::uint32_t n = c.u32(0);
  if (!fd(n)) return kBadf;
  fds_[n].reset();
  return kSuccess;
}

std::uint16_t Wasi::fd_renumber(HostCall& c) {
  std::uint32_t from = c.u32(0), to = c.u32(1);
  if (!fd(from) || !fd(to)) return kBadf;
  if (from != to) fds_[to] = std::move(fds_[from]);
  return kSuccess;
}

std::uint16_t Wasi::fd_fdstat_get(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  std::uint8_t* p = c.memory().ptr(c.u32(1), 24);
  if (!p) return kFault;
  std::memset(p, 0, 24);
  p[0] = f->filetype();
  std::memcpy(p + 2, &f->flags, 2);
  std::memcpy(p + 8, &f->rights, 8);
  std::memcpy(p + 16, &f->inheriting, 8);
  return kSuccess;
}

std::uint16_t Wasi::fd_fdstat_set_flags(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  std::uint32_t flags = c.u32(1);
  if (f->obj && f->obj->read_only() && (flags & kFdflagAppend)) return kNotsup;
  if (!(f->rights & kFdFdstatSetFlags)) return kNotcapable;
  // As in Enarx, NONBLOCK can be changed where blocking means something; files also take
  // APPEND (DSYNC, RSYNC and SYNC are not offered: in-keep files have nothing to sync).
  if (f->type == Fd::Type::File) {
    if (flags & ~std::uint32_t{kFdflagAppend | kFdflagNonblock}) return kNotsup;
    if ((flags & kFdflagAppend) && f->obj->read_only()) return kNotsup;
    f->flags = static_cast<std::uint16_t>(flags);
    return kSuccess;
  }
  if (flags & ~std::uint32_t{kFdflagNonblock}) return kNotsup;
  if (f->type == Fd::Type::Dir) return flags ? kNotsup : kSuccess;
  f->flags = static_cast<std::uint16_t>(flags);
  return kSuccess;
}

std::uint16_t Wasi::fd_fdstat_set_rights(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  std::uint64_t base = c.arg(1), inh = c.arg(2);
  if ((base & ~f->rights) || (inh & ~f->inheriting)) return kNotcapable;
  f->rights = base;
  f->inheriting = inh;
  return kSuccess;
}

std::uint16_t Wasi::fd_filestat_get(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  vfs::Stat st;
  if (f->obj) {
    if (std::uint16_t e = f->obj->stat(&st)) return e;
  } else {
    st.type = f->filetype();
  }
  return put_filestat(c.memory(), c.u32(1), st) ? kSuccess : kFault;
}

std::uint16_t Wasi::fd_filestat_set_size(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type != Fd::Type::File) return kInval;
  if (f->obj->read_only()) return kRofs;
  if (!(f->rights & kFdFilestatSetSize)) return kNotcapable;
  if (!f->writable) return kBadf;
  return f->obj->set_size(c.arg(1));
}

std::uint16_t Wasi::fd_filestat_set_times(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (!f->obj) return kInval;
  if (!(f->rights & kFdFilestatSetTimes)) return kNotcapable;
  return f->obj->set_times(c.arg(1), c.arg(2), static_cast<std::uint16_t>(c.u32(3)));
}

std::uint16_t Wasi::fd_allocate(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type != Fd::Type::File) return kSpipe;
  if (f->obj->read_only()) return kRofs;
  if (!(f->rights & kFdAllocate)) return kNotcapable;
  if (!f->writable) return kBadf;
  return f->obj->allocate(c.arg(1), c.arg(2));
}

std::uint16_t Wasi::fd_advise(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (c.u32(3) > 5) return kInval;
  return f->type == Fd::Type::File ? kSuccess : f->type == Fd::Type::Dir ? kIsdir : kSpipe;
}

std::uint16_t Wasi::fd_datasync(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  return f->obj ? f->obj->sync() : kSuccess;
}
std::uint16_t Wasi::fd_sync(HostCall& c) { return fd_datasync(c); }

std::uint16_t Wasi::fd_prestat_get(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  std::uint8_t* p = c.memory().ptr(c.u32(1), 8);
  if (!p) return kFault;
  std::memset(p, 0, 8);
  // wasi-libc scans fds 3, 4, ... and stops at the first EBADF (any other error aborts the
  // program). Enarx's sockets sit at their [[files]] index, before our preopen, so a descriptor
  // that exists but is not a preopen reports a prestat whose tag is not "dir" (1): wasi-libc
  // skips unknown tags and goes on to find the assets directory.
  if (f->preopen.empty()) {
    p[0] = 1;
    return kSuccess;
  }
  auto len = static_cast<std::uint32_t>(f->preopen.size());
  std::memcpy(p + 4, &len, 4);
  return kSuccess;
}

std::uint16_t Wasi::fd_prestat_dir_name(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->preopen.empty()) return kNotsup;
  std::uint32_t len = c.u32(2);
  std::uint8_t* p = c.memory().ptr(c.u32(1), len);
  if (!p) return kFault;
  if (len < f->preopen.size()) return kNametoolong;
  std::memcpy(p, f->preopen.data(), f->preopen.size());
  return kSuccess;
}

std::uint16_t Wasi::fd_seek(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type != Fd::Type::File) return kSpipe;
  auto delta = static_cast<std::int64_t>(c.arg(1));
  std::uint32_t whence = c.u32(2);
  std::int64_t base;
  switch (whence) {
    case 0: base = 0; break;
    case 1: base = static_cast<std::int64_t>(f->offset); break;
    case 2: base = static_cast<std::int64_t>(f->size()); break;
    default: return kInval;
  }
  std::int64_t pos;
  if (__builtin_add_overflow(base, delta, &pos) || pos < 0) return kInval;
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(3), 8)) return kFault;
  f->offset = static_cast<std::uint64_t>(pos);
  m.store<std::uint64_t>(c.u32(3), f->offset);
  return kSuccess;
}

std::uint16_t Wasi::fd_tell(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type != Fd::Type::File) return kSpipe;
  return c.memory().store<std::uint64_t>(c.u32(1), f->offset) ? kSuccess : kFault;
}

// Reads into the iovec array. For streams only the first non-empty buffer may block: later
// ones take what is already there, as readv() does.
std::uint16_t Wasi::read_iovs(Fd& f, const MemoryView& m, std::uint32_t iovs, std::uint32_t n,
                              const std::uint64_t* at, std::uint64_t* total) {
  *total = 0;
  if (!m.ptr(iovs, std::uint64_t{n} * 8)) return kFault;
  if (n > kMaxIovecs) return kInval;
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t base = *m.load<std::uint32_t>(iovs + 8ull * i);
    std::uint32_t len = *m.load<std::uint32_t>(iovs + 8ull * i + 4);
    if (!m.ptr(base, len)) return kFault;
    sum += len;
  }
  if (sum > INT32_MAX) return kInval;
  std::uint64_t pos = at ? *at : f.offset;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t base = *m.load<std::uint32_t>(iovs + 8ull * i);
    std::uint32_t len = *m.load<std::uint32_t>(iovs + 8ull * i + 4);
    if (len == 0) continue;
    std::uint8_t* dst = m.ptr(base, len);
    std::size_t got = 0;
    switch (f.type) {
      case Fd::Type::Null: return kSuccess;
      case Fd::Type::File: {
        if (std::uint16_t e = f.obj->pread(dst, len, pos, &got)) {
          if (*total > 0) goto done;
          return e;
        }
        pos += got;
        break;
      }
      case Fd::Type::Host: {
        if (*total == 0 && !f.nonblocking()) {
          // Block here rather than in read(), so the time limit still applies.
          for (;;) {
            if (options_.deadline && Clock::now() >= *options_.deadline) throw GuestTimeout{};
            pollfd p{f.host_fd, POLLIN, 0};
            int timeout = options_.deadline ? 100 : -1;
            if (::poll(&p, 1, timeout) != 0) break;
          }
        } else if (*total > 0) {
          pollfd p{f.host_fd, POLLIN, 0};
          if (::poll(&p, 1, 0) <= 0) goto done;
        }
        ssize_t r = ::read(f.host_fd, dst, len);
        if (r < 0) {
          if (*total > 0) goto done;
          return errno == EAGAIN ? kAgain : kIo;
        }
        got = static_cast<std::size_t>(r);
        break;
      }
      case Fd::Type::Stream: {
        IoResult r = f.stream->read(dst, len, *total == 0 && !f.nonblocking(), options_.deadline);
        if (r.error) {
          if (*total > 0) goto done;
          return r.error;
        }
        got = r.bytes;
        break;
      }
      default: return kBadf;
    }
    *total += got;
    if (got < len) break;
  }
done:
  if (!at && f.type == Fd::Type::File) f.offset = pos;
  return kSuccess;
}

std::uint16_t Wasi::write_iovs(HostCall& c, Fd& f, const MemoryView& m, std::uint32_t iovs,
                               std::uint32_t n, const std::uint64_t* at, std::uint64_t* total) {
  *total = 0;
  if (!m.ptr(iovs, std::uint64_t{n} * 8)) return kFault;
  if (n > kMaxIovecs) return kInval;
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t base = *m.load<std::uint32_t>(iovs + 8ull * i);
    std::uint32_t len = *m.load<std::uint32_t>(iovs + 8ull * i + 4);
    if (!m.ptr(base, len)) return kFault;
    sum += len;
  }
  if (sum > INT32_MAX) return kInval;
  // Appending writes go to the end whatever the offset (pwrite too, as Linux does on O_APPEND).
  std::uint64_t pos = (f.flags & kFdflagAppend) ? f.size() : at ? *at : f.offset;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t base = *m.load<std::uint32_t>(iovs + 8ull * i);
    std::uint32_t len = *m.load<std::uint32_t>(iovs + 8ull * i + 4);
    const std::uint8_t* src = m.ptr(base, len);
    switch (f.type) {
      case Fd::Type::Null: *total += len; break;
      case Fd::Type::File: {
        if (len == 0) break;
        std::size_t put = 0;
        std::uint16_t e = f.obj->pwrite(src, len, pos, &put);
        if (e) {
          if (*total > 0) goto done;
          return e;
        }
        pos += put;
        *total += put;
        if (put < len) goto done;
        break;
      }
      case Fd::Type::Host:
      case Fd::Type::Stream: {
        std::size_t off = 0;
        while (off < len) {
          // A reader that keeps up makes every step short, not the whole of 2 GiB.
          if (off > 0) check_limits(c);
          IoResult r = f.type == Fd::Type::Host
                           ? f.out->write(src + off, len - off, !f.nonblocking(), options_.deadline)
                           : f.stream->write(src + off, len - off, !f.nonblocking(),
                                             options_.deadline);
          if (r.error) {
            *total += off;
            return *total ? kSuccess : r.error;
          }
          off += r.bytes;
        }
        *total += len;
        break;
      }
      default: return kBadf;
    }
  }
done:
  if (!at && f.type == Fd::Type::File) f.offset = pos;
  return kSuccess;
}

std::uint16_t Wasi::fd_read(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type == Fd::Type::Listen || !f->readable) return kBadf;
  if (!(f->rights & kFdRead)) return kNotcapable;
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(3), 4)) return kFault;
  std::uint64_t total = 0;
  std::uint16_t e = read_iovs(*f, m, c.u32(1), c.u32(2), nullptr, &total);
  if (e) return e;
  m.store<std::uint32_t>(c.u32(3), static_cast<std::uint32_t>(total));
  return kSuccess;
}

std::uint16_t Wasi::fd_pread(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type != Fd::Type::File) return kSpipe;
  if (!f->readable) return kBadf;
  if (!(f->rights & kFdRead)) return kNotcapable;
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(4), 4)) return kFault;
  std::uint64_t at = c.arg(3), total = 0;
  std::uint16_t e = read_iovs(*f, m, c.u32(1), c.u32(2), &at, &total);
  if (e) return e;
  m.store<std::uint32_t>(c.u32(4), static_cast<std::uint32_t>(total));
  return kSuccess;
}

std::uint16_t Wasi::fd_write(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type == Fd::Type::Listen || !f->writable) return kBadf;
  if (!(f->rights & kFdWrite)) return kNotcapable;
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(3), 4)) return kFault;
  std::uint64_t total = 0;
  std::uint16_t e = write_iovs(c, *f, m, c.u32(1), c.u32(2), nullptr, &total);
  if (e) return e;
  m.store<std::uint32_t>(c.u32(3), static_cast<std::uint32_t>(total));
  return kSuccess;
}

std::uint16_t Wasi::fd_pwrite(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type == Fd::Type::Dir) return kIsdir;
  if (f->type != Fd::Type::File) return kSpipe;
  if (!f->writable) return kBadf;
  if (!(f->rights & kFdWrite)) return kNotcapable;
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(4), 4)) return kFault;
  std::uint64_t at = c.arg(3), total = 0;
  std::uint16_t e = write_iovs(c, *f, m, c.u32(1), c.u32(2), &at, &total);
  if (e) return e;
  m.store<std::uint32_t>(c.u32(4), static_cast<std::uint32_t>(total));
  return kSuccess;
}

// dirent: d_next u64, d_ino u64, d_namlen u32, d_type u8 (+3) = 24 bytes, then the name.
std::uint16_t Wasi::fd_readdir(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type != Fd::Type::Dir) return kNotdir;
  MemoryView m = c.memory();
  std::uint32_t buf = c.u32(1), buf_len = c.u32(2);
  std::uint64_t cookie = c.arg(3);
  std::uint8_t* out = m.ptr(buf, buf_len);
  if (!out || !m.ptr(c.u32(4), 4)) return kFault;
  // Only as many entries as the buffer can show (each takes at least 24 bytes and a name), and
  // never more than kMaxReaddirEntries per call: the caller asks again from the last cookie.
  std::size_t max = std::min<std::size_t>(buf_len / 24 + 1, kMaxReaddirEntries);
  std::vector<vfs::Dirent> list;
  if (std::uint16_t e = f->obj->readdir(cookie, max, &list)) return e;
  std::uint64_t used = 0;
  for (const auto& d : list) {
    if (used >= buf_len) break;
    std::uint8_t hdr[24] = {};
    auto namlen = static_cast<std::uint32_t>(d.name.size());
    std::memcpy(hdr, &d.next, 8);
    std::memcpy(hdr + 8, &d.ino, 8);
    std::memcpy(hdr + 16, &namlen, 4);
    hdr[20] = d.type;
    // A truncated last entry tells the caller to retry with a bigger buffer.
    std::uint64_t n = std::min<std::uint64_t>(24, buf_len - used);
    std::memcpy(out + used, hdr, n);
    used += n;
    n = std::min<std::uint64_t>(d.name.size(), buf_len - used);
    std::memcpy(out + used, d.name.data(), n);
    used += n;
  }
  m.store<std::uint32_t>(c.u32(4), static_cast<std::uint32_t>(used));
  return kSuccess;
}

// --- paths -----------------------------------------------------------------------------------

// The directory descriptor a path_* call names, with the right it needs: EBADF when there is
// none, ENOTDIR when it is not a directory, ENOTCAPABLE without the right.
std::uint16_t Wasi::dir_fd(std::uint32_t n, std::uint64_t right, Fd** out) {
  Fd* f = fd(n);
  if (!f) return kBadf;
  if (f->type != Fd::Type::Dir) return kNotdir;
  if (right && !(f->rights & right)) return kNotcapable;
  *out = f;
  return kSuccess;
}

std::uint16_t Wasi::path_filestat_get(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathFilestatGet, &f)) return e;
  MemoryView m = c.memory();
  std::string_view path;
  if (std::uint16_t e = guest_path(m, c.u32(2), c.u32(3), &path)) return e;
  if (!m.ptr(c.u32(4), 64)) return kFault;
  vfs::Stat st;
  if (std::uint16_t e = f->obj->path_stat(path, c.u32(1) & kLookupSymlinkFollow, &st)) return e;
  return put_filestat(m, c.u32(4), st) ? kSuccess : kFault;
}

std::uint16_t Wasi::path_open(HostCall& c) {
  Fd* dir;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathOpen, &dir)) return e;
  MemoryView m = c.memory();
  std::string_view path;
  if (std::uint16_t e = guest_path(m, c.u32(2), c.u32(3), &path)) return e;
  if (!m.ptr(c.u32(8), 4)) return kFault;
  std::uint32_t oflags = c.u32(4);
  std::uint64_t rights = c.arg(5), inheriting = c.arg(6);
  std::uint32_t fdflags = c.u32(7);
  if (oflags & ~std::uint32_t{vfs::kOCreat | vfs::kODirectory | vfs::kOExcl | vfs::kOTrunc})
    return kInval;
  if ((oflags & vfs::kODirectory) && (oflags & (vfs::kOCreat | vfs::kOTrunc))) return kInval;
  if (fdflags & ~std::uint32_t{kFdflagAppend | kFdflagNonblock}) return kNotsup;
  // Rights beyond what the directory passes on are not an error (wasi-libc asks for all of
  // them); the new descriptor simply does not get them.
  rights &= dir->inheriting;
  inheriting &= dir->inheriting;
  vfs::OpenRequest req;
  req.oflags = static_cast<std::uint16_t>(oflags);
  req.follow = c.u32(1) & kLookupSymlinkFollow;
  req.read = rights & (kFdRead | kFdReaddir);
  req.write = (rights & kFdWrite) || (fdflags & kFdflagAppend);
  // Creating and truncating are rights of the directory (path_create_file,
  // path_filestat_set_size), not of the file being opened.
  if ((oflags & vfs::kOCreat) && !(dir->rights & kPathCreateFile)) return kNotcapable;
  if ((oflags & vfs::kOTrunc) && !(dir->rights & kPathFilestatSetSize)) return kNotcapable;
  std::size_t slot = 3;
  while (slot < fds_.size() && fds_[slot]) ++slot;
  if (slot >= kMaxFds) return kMfile;
  std::unique_ptr<vfs::Object> obj;
  if (std::uint16_t e = dir->obj->open(path, req, &obj)) return e;
  auto f = std::make_unique<Fd>();
  bool is_dir = obj->is_dir();
  f->obj = std::move(obj);
  f->type = is_dir ? Fd::Type::Dir : Fd::Type::File;
  f->readable = !is_dir && (rights & kFdRead);
  f->writable = !is_dir && req.write;
  f->flags = static_cast<std::uint16_t>(fdflags);
  f->rights = rights & (is_dir ? kDirRights : kFileRights);
  f->inheriting = is_dir ? inheriting : 0;
  if (slot == fds_.size())
    fds_.push_back(std::move(f));
  else
    fds_[slot] = std::move(f);
  m.store<std::uint32_t>(c.u32(8), static_cast<std::uint32_t>(slot));
  return kSuccess;
}

// (fd, path, path_len, buf, buf_len, bufused)
std::uint16_t Wasi::path_readlink(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathReadlink, &f)) return e;
  MemoryView m = c.memory();
  std::string_view path;
  if (std::uint16_t e = guest_path(m, c.u32(1), c.u32(2), &path)) return e;
  std::uint32_t len = c.u32(4);
  std::uint8_t* buf = m.ptr(c.u32(3), len);
  if (!buf || !m.ptr(c.u32(5), 4)) return kFault;
  std::string target;
  if (std::uint16_t e = f->obj->readlink(path, &target)) return e;
  // As readlink(2): a short buffer gets the start of the target.
  std::size_t n = std::min<std::size_t>(len, target.size());
  std::memcpy(buf, target.data(), n);
  m.store<std::uint32_t>(c.u32(5), static_cast<std::uint32_t>(n));
  return kSuccess;
}

std::uint16_t Wasi::path_create_directory(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathCreateDirectory, &f)) return e;
  std::string_view path;
  if (std::uint16_t e = guest_path(c.memory(), c.u32(1), c.u32(2), &path)) return e;
  return f->obj->mkdir(path);
}

std::uint16_t Wasi::path_remove_directory(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathRemoveDirectory, &f)) return e;
  std::string_view path;
  if (std::uint16_t e = guest_path(c.memory(), c.u32(1), c.u32(2), &path)) return e;
  return f->obj->rmdir(path);
}

std::uint16_t Wasi::path_unlink_file(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathUnlinkFile, &f)) return e;
  std::string_view path;
  if (std::uint16_t e = guest_path(c.memory(), c.u32(1), c.u32(2), &path)) return e;
  return f->obj->unlink(path);
}

// (fd, flags, path, path_len, atim, mtim, fst_flags)
std::uint16_t Wasi::path_filestat_set_times(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathFilestatSetTimes, &f)) return e;
  std::string_view path;
  if (std::uint16_t e = guest_path(c.memory(), c.u32(2), c.u32(3), &path)) return e;
  return f->obj->path_set_times(path, c.u32(1) & kLookupSymlinkFollow, c.arg(4), c.arg(5),
                                static_cast<std::uint16_t>(c.u32(6)));
}

// (old_path, old_len, fd, new_path, new_len)
std::uint16_t Wasi::path_symlink(HostCall& c) {
  Fd* f;
  if (std::uint16_t e = dir_fd(c.u32(2), kPathSymlink, &f)) return e;
  MemoryView m = c.memory();
  std::string_view target, path;
  if (std::uint16_t e = guest_path(m, c.u32(0), c.u32(1), &target)) return e;
  if (std::uint16_t e = guest_path(m, c.u32(3), c.u32(4), &path)) return e;
  return f->obj->symlink(target, path);
}

// (old_fd, flags, old_path, old_len, new_fd, new_path, new_len)
std::uint16_t Wasi::path_link(HostCall& c) {
  Fd *a, *b;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathLinkSource, &a)) return e;
  if (std::uint16_t e = dir_fd(c.u32(4), kPathLinkTarget, &b)) return e;
  MemoryView m = c.memory();
  std::string_view from, to;
  if (std::uint16_t e = guest_path(m, c.u32(2), c.u32(3), &from)) return e;
  if (std::uint16_t e = guest_path(m, c.u32(5), c.u32(6), &to)) return e;
  return a->obj->link(from, c.u32(1) & kLookupSymlinkFollow, *b->obj, to);
}

// (fd, old_path, old_len, new_fd, new_path, new_len)
std::uint16_t Wasi::path_rename(HostCall& c) {
  Fd *a, *b;
  if (std::uint16_t e = dir_fd(c.u32(0), kPathRenameSource, &a)) return e;
  if (std::uint16_t e = dir_fd(c.u32(3), kPathRenameTarget, &b)) return e;
  MemoryView m = c.memory();
  std::string_view from, to;
  if (std::uint16_t e = guest_path(m, c.u32(1), c.u32(2), &from)) return e;
  if (std::uint16_t e = guest_path(m, c.u32(4), c.u32(5), &to)) return e;
  return a->obj->rename(from, *b->obj, to);
}

// --- polling ---------------------------------------------------------------------------------

// subscription (48 bytes): userdata u64 @0, tag u8 @8, then at @16 either
//   clock: id u32, (pad), timeout u64 @24, precision u64 @32, flags u16 @40
//   fd_readwrite: fd u32 @16
// event (32 bytes): userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24
std::uint16_t Wasi::poll_oneoff(HostCall& c) {
  MemoryView m = c.memory();
  std::uint32_t in = c.u32(0), out = c.u32(1), n = c.u32(2);
  if (n == 0) return kInval;
  const std::uint8_t* subs = m.ptr(in, std::uint64_t{n} * 48);
  std::uint8_t* events = m.ptr(out, std::uint64_t{n} * 32);
  if (!subs || !events || !m.ptr(c.u32(3), 4)) return kFault;
  // The host copies and polls every subscription on every wakeup.
  if (n > kMaxSubscriptions) return kInval;

  struct Sub {
    std::uint64_t userdata;
    std::uint8_t tag;
    std::uint32_t fd;
    std::optional<Clock::time_point> due;  // clocks
  };
  std::vector<Sub> list;
  list.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint8_t* s = subs + 48ull * i;
    Sub sub{};
    std::memcpy(&sub.userdata, s, 8);
    sub.tag = s[8];
    if (sub.tag == 0) {
      std::uint32_t id;
      std::uint64_t timeout;
      std::uint16_t flags;
      std::memcpy(&id, s + 16, 4);
      std::memcpy(&timeout, s + 24, 8);
      std::memcpy(&flags, s + 40, 2);
      clockid_t cid;
      if (!clock_of(id, &cid)) return kInval;
      std::uint64_t rel = timeout;
      if (flags & 1) {
        std::uint64_t now = now_ns(cid);
        rel = timeout > now ? timeout - now : 0;
      }
      rel = std::min<std::uint64_t>(rel, std::uint64_t{1} << 62);
      sub.due = Clock::now() + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                   std::min<std::uint64_t>(rel, 365ull * 24 * 3600 * 1'000'000'000ull)));
    } else if (sub.tag == 1 || sub.tag == 2) {
      std::memcpy(&sub.fd, s + 16, 4);
    } else {
      return kInval;
    }
    list.push_back(sub);
  }

  std::uint32_t nevents = 0;
  auto emit = [&](const Sub& s, std::uint16_t error, std::uint64_t nbytes, std::uint16_t flags) {
    std::uint8_t* e = events + 32ull * nevents++;
    std::memset(e, 0, 32);
    std::memcpy(e, &s.userdata, 8);
    std::memcpy(e + 8, &error, 2);
    e[10] = s.tag;
    std::memcpy(e + 16, &nbytes, 8);
    std::memcpy(e + 24, &flags, 2);
  };

  for (;;) {
    std::vector<pollfd> pfds;
    std::vector<std::size_t> owner;
    std::optional<Clock::time_point> wake = options_.deadline;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Sub& s = list[i];
      if (s.tag == 0) {
        if (!wake || *s.due < *wake) wake = s.due;
        continue;
      }
      Fd* f = fd(s.fd);
      if (!f) {
        emit(s, kBadf, 0, 0);
        continue;
      }
      switch (f->type) {
        case Fd::Type::Null:
        case Fd::Type::Dir: emit(s, 0, 0, 0); break;
        case Fd::Type::File: {
          std::uint64_t size = f->size();
          if (s.tag == 1)
            emit(s, 0, f->offset < size ? size - f->offset : 0, 0);
          else
            emit(s, f->writable ? 0 : kBadf, 0, 0);
          break;
        }
        case Fd::Type::Stream:
          if (s.tag == 1 && f->stream->has_pending()) {
            emit(s, 0, 1, 0);
            break;
          }
          pfds.push_back({f->stream->fd(), static_cast<short>(s.tag == 1 ? POLLIN : POLLOUT), 0});
          owner.push_back(i);
          break;
        case Fd::Type::Listen:
          pfds.push_back({f->listener->poll_fd(), POLLIN, 0});
          owner.push_back(i);
          break;
        case Fd::Type::Host:
          pfds.push_back({f->host_fd, static_cast<short>(s.tag == 1 ? POLLIN : POLLOUT), 0});
          owner.push_back(i);
          break;
      }
    }
    // ppoll, not poll: its nanosecond timeout sleeps sub-millisecond clock subscriptions exactly
    // instead of rounding them to whole milliseconds or spinning.
    timespec timeout{};
    timespec* wait_for = nullptr;  // null: no clock and no deadline, wait for the descriptors
    if (nevents > 0) {
      wait_for = &timeout;
    } else if (wake) {
      auto left = std::clamp<Clock::duration>(*wake - Clock::now(), Clock::duration::zero(),
                                               std::chrono::seconds(60));
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
      timeout.tv_sec = static_cast<time_t>(secs.count());
      timeout.tv_nsec = static_cast<long>(std::chrono::nanoseconds(left - secs).count());
      wait_for = &timeout;
    }
    int r = ::ppoll(pfds.data(), pfds.size(), wait_for, nullptr);
    if (r > 0) {
      for (std::size_t k = 0; k < pfds.size(); ++k) {
        if (!pfds[k].revents) continue;
        const Sub& s = list[owner[k]];
        std::uint16_t flags = (pfds[k].revents & POLLHUP) ? 1 : 0;
        int avail = 1;
        if (s.tag == 1 && ::ioctl(pfds[k].fd, FIONREAD, &avail) != 0) avail = 1;
        emit(s, 0, static_cast<std::uint64_t>(std::max(avail, 0)), flags);
      }
    }
    auto now = Clock::now();
    for (const Sub& s : list)
      if (s.tag == 0 && *s.due <= now) emit(s, 0, 0, 0);
    if (nevents > 0) break;
    if (options_.deadline && now >= *options_.deadline) throw GuestTimeout{};
  }
  m.store<std::uint32_t>(c.u32(3), nevents);
  return kSuccess;
}

// --- sockets ---------------------------------------------------------------------------------

std::uint16_t Wasi::sock_accept(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type != Fd::Type::Listen) return kNotsock;
  std::uint32_t flags = c.u32(1);
  if (flags & ~std::uint32_t{kFdflagNonblock}) return kInval;
  MemoryView before = c.memory();
  if (!before.ptr(c.u32(2), 4)) return kFault;
  std::size_t slot = 3;
  while (slot < fds_.size() && fds_[slot]) ++slot;
  if (slot >= kMaxFds) return kMfile;
  std::uint16_t err = 0;
  auto s = f->listener->accept(!f->nonblocking(), options_.deadline, &err);
  if (!s) return err;
  std::uint32_t n = add_stream(std::shared_ptr<Stream>(std::move(s)));
  if (n != slot) {  // add() appended; move it into the lowest free slot
    fds_[slot] = std::move(fds_[n]);
    fds_.pop_back();
    n = static_cast<std::uint32_t>(slot);
  }
  fds_[n]->flags = static_cast<std::uint16_t>(flags);
  c.memory().store<std::uint32_t>(c.u32(2), n);
  return kSuccess;
}

std::uint16_t Wasi::sock_recv(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type != Fd::Type::Stream) return f->type == Fd::Type::Listen ? kNotconn : kNotsock;
  if (c.u32(3) != 0) return kNotsup;  // PEEK / WAITALL: unsupported, as in Enarx
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(4), 4) || !m.ptr(c.u32(5), 2)) return kFault;
  std::uint64_t total = 0;
  std::uint16_t e = read_iovs(*f, m, c.u32(1), c.u32(2), nullptr, &total);
  if (e) return e;
  m.store<std::uint32_t>(c.u32(4), static_cast<std::uint32_t>(total));
  m.store<std::uint16_t>(c.u32(5), 0);
  return kSuccess;
}

std::uint16_t Wasi::sock_send(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type != Fd::Type::Stream) return f->type == Fd::Type::Listen ? kNotconn : kNotsock;
  if (c.u32(3) != 0) return kNotsup;
  MemoryView m = c.memory();
  if (!m.ptr(c.u32(4), 4)) return kFault;
  std::uint64_t total = 0;
  std::uint16_t e = write_iovs(c, *f, m, c.u32(1), c.u32(2), nullptr, &total);
  if (e) return e;
  m.store<std::uint32_t>(c.u32(4), static_cast<std::uint32_t>(total));
  return kSuccess;
}

std::uint16_t Wasi::sock_shutdown(HostCall& c) {
  Fd* f = fd(c.u32(0));
  if (!f) return kBadf;
  if (f->type != Fd::Type::Stream) return f->type == Fd::Type::Listen ? kNotconn : kNotsock;
  std::uint32_t how = c.u32(1);
  if (how == 0 || how > 3) return kInval;
  return f->stream->shutdown(how & 1, how & 2);
}

}  // namespace enarx::runtime
