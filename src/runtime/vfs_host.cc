// A host directory preopened with `enarx run --dir` (vfs.h). Every guest path is resolved
// beneath the descriptor it is relative to: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
// where the kernel has it (5.6+), else a component walk that opens each component with
// O_NOFOLLOW and follows symlinks itself, with the same refusal of "..", absolute paths and
// links that would leave. Calls that name an entry (mkdir, unlink, rename, ...) act on the last
// component relative to its resolved parent with the *at() calls, which never follow it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>

#include "core/error.h"
#include "runtime/vfs.h"

namespace enarx::runtime::vfs {

using namespace err;

std::uint16_t from_errno(int e) {
  switch (e) {
    case 0: return 0;
    case E2BIG: return 1;
    case EACCES: return kAcces;
    case EAGAIN: return 6;
    case EBADF: return kBadf;
    case EBUSY: return kBusy;
    case EEXIST: return kExist;
    case EFAULT: return 21;
    case EFBIG: return kFbig;
    case EINTR: return 27;
    case EINVAL: return kInval;
    case EIO: return kIo;
    case EISDIR: return kIsdir;
    case ELOOP: return kLoop;
    case EMFILE: return 33;
    case EMLINK: return kMlink;
    case ENAMETOOLONG: return kNametoolong;
    case ENFILE: return 41;
    case ENODEV: return 43;
    case ENOENT: return kNoent;
    case ENOMEM: return 48;
    case ENOSPC: return kNospc;
    case ENOSYS: return 52;
    case ENOTDIR: return kNotdir;
    case ENOTEMPTY: return kNotempty;
    case ENOTSUP: return kNotsup;
    case ENOTTY: return 59;
    case ENXIO: return 60;
    case EOVERFLOW: return 61;
    case EPERM: return kPerm;
    case EROFS: return kRofs;
    case ESPIPE: return 70;
    case ETXTBSY: return 74;
    case EXDEV: return kXdev;
    case EDQUOT: return 19;
    default: return kIo;
  }
}

namespace {

std::atomic<bool> g_component_walk{false};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::uint64_t ns(const timespec& t) {
  return std::uint64_t(t.tv_sec) * 1'000'000'000ull + std::uint64_t(t.tv_nsec);
}

void fill(const struct stat& st, Stat* out) {
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: out->type = kRegular; break;
    case S_IFDIR: out->type = kDirectory; break;
    case S_IFLNK: out->type = kSymlink; break;
    case S_IFCHR: out->type = kCharDevice; break;
    case S_IFBLK: out->type = kBlockDevice; break;
    case S_IFSOCK: out->type = kSocketStream; break;
    default: out->type = kUnknown; break;
  }
  out->nlink = st.st_nlink;
  out->size = static_cast<std::uint64_t>(st.st_size);
  out->atim = ns(st.st_atim);
  out->mtim = ns(st.st_mtim);
  out->ctim = ns(st.st_ctim);
}

std::uint16_t check_times(std::uint16_t flags, std::uint64_t atim, std::uint64_t mtim,
                          timespec ts[2]) {
  if (((flags & kAtim) && (flags & kAtimNow)) || ((flags & kMtim) && (flags & kMtimNow)) ||
      (flags & ~std::uint16_t{kAtim | kAtimNow | kMtim | kMtimNow}))
    return kInval;
  auto set = [](timespec& t, bool given, bool now, std::uint64_t v) {
    if (now) {
      t.tv_sec = 0;
      t.tv_nsec = UTIME_NOW;
    } else if (given) {
      t.tv_sec = static_cast<time_t>(v / 1'000'000'000ull);
      t.tv_nsec = static_cast<long>(v % 1'000'000'000ull);
    } else {
      t.tv_sec = 0;
      t.tv_nsec = UTIME_OMIT;
    }
  };
  set(ts[0], flags & kAtim, flags & kAtimNow, atim);
  set(ts[1], flags & kMtim, flags & kMtimNow, mtim);
  return 0;
}

// The component walk for kernels without openat2: opens `path` below `dir` one component at a
// time with O_NOFOLLOW, reading and splicing in symlink targets itself. ".." pops the stack of
// directories opened so far, and below the start it is ENOTCAPABLE, as are absolute targets.
int walk_open(int dir, std::string_view path, int flags, mode_t mode) {
  if (path.empty()) {
    errno = ENOENT;
    return -1;
  }
  if (path.front() == '/') {
    errno = EXDEV;
    return -1;
  }
  std::deque<std::string> parts;
  auto push = [&](std::string_view p) {
    std::deque<std::string> v;
    for (std::size_t pos = 0; pos <= p.size();) {
      std::size_t slash = p.find('/', pos);
      if (slash == std::string_view::npos) slash = p.size();
      v.emplace_back(p.substr(pos, slash - pos));
      pos = slash + 1;
    }
    parts.insert(parts.begin(), v.begin(), v.end());
  };
  push(path);
  bool trailing = false;
  while (parts.size() > 1 && parts.back().empty()) {
    parts.pop_back();
    trailing = true;
  }
  std::vector<Fd> stack;
  int links = 0;
  auto cur = [&] { return stack.empty() ? dir : stack.back().get(); };
  // Replaces the symlink `name` (in the current directory) by its target's components; false
  // with errno set for a target that fills readlink's buffer, a loop, or an absolute target.
  auto splice_link = [&](const std::string& name) {
    char buf[4096];
    ssize_t n = ::readlinkat(cur(), name.c_str(), buf, sizeof buf);
    if (n < 0) return false;
    if (static_cast<std::size_t>(n) == sizeof buf) {
      errno = ENAMETOOLONG;
      return false;
    }
    if (++links > kMaxSymlinks) {
      errno = ELOOP;
      return false;
    }
    if (n > 0 && buf[0] == '/') {
      errno = EXDEV;
      return false;
    }
    push(std::string_view(buf, static_cast<std::size_t>(n)));
    return true;
  };
  while (!parts.empty()) {
    std::string p = std::move(parts.front());
    parts.pop_front();
    bool last = parts.empty();
    if (p.empty()) p = ".";
    if (p == "..") {
      if (stack.empty()) {
        errno = EXDEV;
        return -1;
      }
      stack.pop_back();
      if (last) p = ".";
      else continue;
    }
    if (!last || p == ".") {
      if (p == "." && !last) continue;
      if (p == "." && last) return ::openat(cur(), ".", flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), mode);
      int fd = ::openat(cur(), p.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return -1;
      Fd f(fd);
      struct stat st{};
      if (::fstat(fd, &st) != 0) return -1;
      if (S_ISLNK(st.st_mode)) {
        if (!splice_link(p)) return -1;
        continue;
      }
      if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
      }
      stack.push_back(std::move(f));
      continue;
    }
    // The last component: a symlink to follow is spliced in; anything else is opened with
    // O_NOFOLLOW (if it turned into a symlink since, that gives ELOOP, or with O_PATH the link
    // itself: never its target).
    struct stat lst{};
    bool is_link = ::fstatat(cur(), p.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode);
    if (!is_link || ((flags & O_NOFOLLOW) && !trailing)) {
      std::string name = trailing ? p + "/" : p;
      return ::openat(cur(), name.c_str(), flags | O_NOFOLLOW, mode);
    }
    if (!splice_link(p)) return -1;
    if (trailing) parts.emplace_back();
    while (parts.size() > 1 && parts.back().empty()) {
      parts.pop_back();
      trailing = true;
    }
  }
  return ::openat(cur(), ".", flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), mode);
}

// Opens `path` below `dir` with `flags`, never leaving `dir`.
int open_beneath(int dir, std::string_view path, int flags, mode_t mode = 0) {
  std::string p(path);
  if (!g_component_walk.load()) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (;;) {
      long fd = ::syscall(SYS_openat2, dir, p.c_str(), &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno != ENOSYS) return -1;
      g_component_walk = true;
      break;
    }
  }
  return walk_open(dir, p, flags | O_CLOEXEC, mode);
}

std::uint16_t path_errno() {
  // openat2 says EXDEV for a path that would leave the directory (RESOLVE_BENEATH).
  return errno == EXDEV ? kNotcapable : from_errno(errno);
}

// The directory holding the last component of `path`, and that component (with a trailing
// slash kept: the *at() calls then insist on a directory, as POSIX says).
struct Parent {
  Fd fd;
  std::string last;
  bool trailing = false;
};

std::uint16_t split(int dir, std::string_view path, Parent* out) {
  if (path.size() > kMaxPathBytes) return kNametoolong;
  if (path.empty()) return kNoent;
  if (path.front() == '/') return kNotcapable;
  std::string_view p = path;
  while (p.size() > 1 && p.back() == '/') {
    p.remove_suffix(1);
    out->trailing = true;
  }
  std::size_t slash = p.rfind('/');
  std::string_view head = slash == std::string_view::npos ? "." : p.substr(0, slash);
  std::string_view tail = slash == std::string_view::npos ? p : p.substr(slash + 1);
  if (tail.size() > kMaxNameBytes) return kNametoolong;
  int fd = open_beneath(dir, head.empty() ? "/" : head, O_PATH | O_DIRECTORY);
  if (fd < 0) return path_errno();
  out->fd = Fd(fd);
  // ".." as the last component: leaving the descriptor's directory that way is refused like
  // any other way out.
  if (tail == "..") {
    int up = open_beneath(dir, p, O_PATH | O_DIRECTORY);
    if (up < 0) return path_errno();
    ::close(up);
  }
  out->last = std::string(tail) + (out->trailing ? "/" : "");
  return 0;
}

class HostObject final : public Object {
 public:
  HostObject(Fd fd, bool dir) : fd_(std::move(fd)), dir_(dir) {}
  ~HostObject() override {
    if (dirp_) ::closedir(dirp_);
  }

  bool is_dir() const override { return dir_; }
  const void* fs_id() const override { return &g_component_walk; }

  std::uint16_t stat(Stat* out) override {
    struct stat st{};
    if (::fstat(fd_.get(), &st) != 0) return from_errno(errno);
    fill(st, out);
    return 0;
  }

  std::uint16_t pread(std::uint8_t* dst, std::size_t len, std::uint64_t at,
                      std::size_t* got) override {
    *got = 0;
    if (dir_) return kIsdir;
    ssize_t n = ::pread(fd_.get(), dst, len, static_cast<off_t>(at));
    if (n < 0) return from_errno(errno);
    *got = static_cast<std::size_t>(n);
    return 0;
  }

  std::uint16_t pwrite(const std::uint8_t* src, std::size_t len, std::uint64_t at,
                       std::size_t* put) override {
    *put = 0;
    if (dir_) return kIsdir;
    ssize_t n = ::pwrite(fd_.get(), src, len, static_cast<off_t>(at));
    if (n < 0) return from_errno(errno);
    *put = static_cast<std::size_t>(n);
    return 0;
  }

  std::uint16_t set_size(std::uint64_t size) override {
    if (dir_) return kIsdir;
    if (size > INT64_MAX) return kInval;
    return ::ftruncate(fd_.get(), static_cast<off_t>(size)) == 0 ? 0 : from_errno(errno);
  }

  std::uint16_t set_times(std::uint64_t atim, std::uint64_t mtim, std::uint16_t flags) override {
    timespec ts[2];
    if (auto e = check_times(flags, atim, mtim, ts)) return e;
    return ::futimens(fd_.get(), ts) == 0 ? 0 : from_errno(errno);
  }

  std::uint16_t allocate(std::uint64_t offset, std::uint64_t len) override {
    if (dir_) return kIsdir;
    if (offset > INT64_MAX || len > INT64_MAX) return kInval;
    int r = ::posix_fallocate(fd_.get(), static_cast<off_t>(offset), static_cast<off_t>(len));
    return r == 0 ? 0 : from_errno(r);
  }

  std::uint16_t sync() override { return ::fsync(fd_.get()) == 0 ? 0 : from_errno(errno); }

  std::uint16_t readdir(std::uint64_t cookie, std::size_t max, std::vector<Dirent>* out) override {
    if (!dir_) return kNotdir;
    if (!dirp_) {
      int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return from_errno(errno);
      dirp_ = ::fdopendir(fd);
      if (!dirp_) {
        ::close(fd);
        return from_errno(errno);
      }
    }
    // Cookies are the file system's own directory offsets (telldir), which stay valid while
    // entries come and go.
    if (cookie == 0)
      ::rewinddir(dirp_);
    else
      ::seekdir(dirp_, static_cast<long>(cookie));
    while (out->size() < max) {
      errno = 0;
      dirent* d = ::readdir(dirp_);
      if (!d) {
        if (errno) return from_errno(errno);
        break;
      }
      Dirent e;
      e.next = static_cast<std::uint64_t>(::telldir(dirp_));
      e.ino = d->d_ino;
      e.name = d->d_name;
      switch (d->d_type) {
        case DT_REG: e.type = kRegular; break;
        case DT_DIR: e.type = kDirectory; break;
        case DT_LNK: e.type = kSymlink; break;
        case DT_CHR: e.type = kCharDevice; break;
        case DT_BLK: e.type = kBlockDevice; break;
        case DT_SOCK: e.type = kSocketStream; break;
        default: {
          struct stat st{};
          Stat s;
          if (::fstatat(fd_.get(), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) fill(st, &s);
          e.type = s.type;
        }
      }
      out->push_back(std::move(e));
    }
    return 0;
  }

  std::uint16_t open(std::string_view path, const OpenRequest& req,
                     std::unique_ptr<Object>* out) override {
    if (path.size() > kMaxPathBytes) return kNametoolong;
    if (path.empty()) return kNoent;
    if (path.front() == '/') return kNotcapable;
    int flags = O_NOCTTY;
    if (req.oflags & kOCreat) flags |= O_CREAT;
    if (req.oflags & kOExcl) flags |= O_EXCL;
    if (req.oflags & kOTrunc) flags |= O_TRUNC;
    if (req.oflags & kODirectory) flags |= O_DIRECTORY;
    if (!req.follow) flags |= O_NOFOLLOW;
    if (req.write)
      flags |= req.read ? O_RDWR : O_WRONLY;
    else
      flags |= O_RDONLY;
    // A descriptor for a directory is read-only (O_RDWR on one is EISDIR), as is a symlink
    // opened without following (O_PATH, so that path_open(nofollow) on it says ELOOP below).
    int fd = open_beneath(fd_.get(), path, flags, 0666);
    if (fd < 0 && errno == EISDIR && !(flags & (O_CREAT | O_TRUNC)) && !req.write)
      fd = open_beneath(fd_.get(), path, (flags & ~O_ACCMODE) | O_RDONLY | O_DIRECTORY);
    if (fd < 0) return path_errno();
    Fd f(fd);
    struct stat st{};
    if (::fstat(fd, &st) != 0) return from_errno(errno);
    *out = std::make_unique<HostObject>(std::move(f), S_ISDIR(st.st_mode));
    return 0;
  }

  std::uint16_t path_stat(std::string_view path, bool follow, Stat* out) override {
    Fd f;
    if (auto e = resolve(path, follow, &f)) return e;
    struct stat st{};
    if (::fstat(f.get(), &st) != 0) return from_errno(errno);
    fill(st, out);
    return 0;
  }

  std::uint16_t path_set_times(std::string_view path, bool follow, std::uint64_t atim,
                               std::uint64_t mtim, std::uint16_t flags) override {
    timespec ts[2];
    if (auto e = check_times(flags, atim, mtim, ts)) return e;
    if (follow) {
      Fd f;
      if (auto e = resolve(path, true, &f)) return e;
      // The O_PATH descriptor names exactly the file resolved beneath the directory.
      std::string proc = "/proc/self/fd/" + std::to_string(f.get());
      return ::utimensat(AT_FDCWD, proc.c_str(), ts, 0) == 0 ? 0 : from_errno(errno);
    }
    Parent p;
    if (auto e = split(fd_.get(), path, &p)) return e;
    return ::utimensat(p.fd.get(), p.last.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0
               ? 0
               : from_errno(errno);
  }

  std::uint16_t mkdir(std::string_view path) override {
    Parent p;
    if (auto e = split(fd_.get(), path, &p)) return e;
    return ::mkdirat(p.fd.get(), p.last.c_str(), 0777) == 0 ? 0 : from_errno(errno);
  }

  std::uint16_t rmdir(std::string_view path) override {
    Parent p;
    if (auto e = split(fd_.get(), path, &p)) return e;
    return ::unlinkat(p.fd.get(), p.last.c_str(), AT_REMOVEDIR) == 0 ? 0 : from_errno(errno);
  }

  std::uint16_t unlink(std::string_view path) override {
    Parent p;
    if (auto e = split(fd_.get(), path, &p)) return e;
    if (::unlinkat(p.fd.get(), p.last.c_str(), 0) == 0) return 0;
    // Linux says EISDIR for a directory; a trailing slash on a file is ENOTDIR.
    return from_errno(errno);
  }

  std::uint16_t symlink(std::string_view target, std::string_view path) override {
    if (target.size() > kMaxPathBytes) return kNametoolong;
    Parent p;
    if (auto e = split(fd_.get(), path, &p)) return e;
    // A link whose target is absolute could never be followed inside the preopen; it is
    // refused like the path it names.
    if (!target.empty() && target.front() == '/') return kNotcapable;
    std::string t(target);
    return ::symlinkat(t.c_str(), p.fd.get(), p.last.c_str()) == 0 ? 0 : from_errno(errno);
  }

  std::uint16_t readlink(std::string_view path, std::string* out) override {
    Parent p;
    if (auto e = split(fd_.get(), path, &p)) return e;
    char buf[4096];
    ssize_t n = ::readlinkat(p.fd.get(), p.last.c_str(), buf, sizeof buf);
    if (n < 0) return from_errno(errno);
    if (static_cast<std::size_t>(n) == sizeof buf) return kNametoolong;  // longer than a path
    out->assign(buf, static_cast<std::size_t>(n));
    return 0;
  }

  std::uint16_t link(std::string_view path, bool follow, Object& to_obj,
                     std::string_view to_path) override {
    auto* to = dynamic_cast<HostObject*>(&to_obj);
    if (!to) return kXdev;
    Parent dst;
    if (auto e = split(to->fd_.get(), to_path, &dst)) return e;
    if (follow) {
      Fd f;
      if (auto e = resolve(path, true, &f)) return e;
      // Through /proc: linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH on older kernels. The
      // O_PATH descriptor names exactly the file resolved beneath the directory.
      std::string proc = "/proc/self/fd/" + std::to_string(f.get());
      return ::linkat(AT_FDCWD, proc.c_str(), dst.fd.get(), dst.last.c_str(), AT_SYMLINK_FOLLOW) == 0
                 ? 0
                 : from_errno(errno);
    }
    Parent src;
    if (auto e = split(fd_.get(), path, &src)) return e;
    return ::linkat(src.fd.get(), src.last.c_str(), dst.fd.get(), dst.last.c_str(), 0) == 0
               ? 0
               : from_errno(errno);
  }

  std::uint16_t rename(std::string_view path, Object& to_obj, std::string_view to_path) override {
    auto* to = dynamic_cast<HostObject*>(&to_obj);
    if (!to) return kXdev;
    Parent src, dst;
    if (auto e = split(fd_.get(), path, &src)) return e;
    if (auto e = split(to->fd_.get(), to_path, &dst)) return e;
    return ::renameat(src.fd.get(), src.last.c_str(), dst.fd.get(), dst.last.c_str()) == 0
               ? 0
               : from_errno(errno);
  }

 private:
  // An O_PATH descriptor for `path` (following a last symlink when asked, never leaving).
  std::uint16_t resolve(std::string_view path, bool follow, Fd* out) {
    if (path.size() > kMaxPathBytes) return kNametoolong;
    if (path.empty()) return kNoent;
    if (path.front() == '/') return kNotcapable;
    int fd = open_beneath(fd_.get(), path, O_PATH | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0) return path_errno();
    *out = Fd(fd);
    return 0;
  }

  Fd fd_;
  bool dir_;
  DIR* dirp_ = nullptr;
};

}  // namespace

void force_component_walk_for_testing(bool on) { g_component_walk = on; }

std::unique_ptr<Object> open_host_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw Error(ErrorKind::kInvalidInput, "io.read",
                "cannot open directory " + dir.string() + ": " + std::strerror(errno));
  return std::make_unique<HostObject>(Fd(fd), true);
}

}  // namespace enarx::runtime::vfs
