#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "core/error.h"

namespace enarx {
namespace {

[[noreturn]] void throw_errno(ErrorKind kind, const char* code, const std::string& what,
                              const std::filesystem::path& path) {
  throw io_error(kind, code, what, path, errno);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 12; ++i) s += kAlphabet[rng() % 36];
  return s;
}

}  // namespace

Error io_error(ErrorKind kind, std::string_view code, std::string_view what, const std::filesystem::path& path, int err) {
  const bool full = err == ENOSPC || err == EDQUOT;
  return Error(full ? ErrorKind::kResourceExhausted : kind, full ? "io.no_space" : std::string(code),
               std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

Bytes read_file(const std::filesystem::path& path, std::size_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(ErrorKind::kInvalidInput, "io.read", "cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno(ErrorKind::kInvalidInput, "io.read", "cannot stat", path);
  if (static_cast<std::uint64_t>(st.st_size) > max_size)
    throw Error(ErrorKind::kTooLarge, "io.too_large", "file " + path.string() + " is larger than " +
                                    std::to_string(max_size) + " bytes");
  Bytes out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(ErrorKind::kInvalidInput, "io.read", "cannot read", path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_size)
      throw Error(ErrorKind::kTooLarge, "io.too_large", "file " + path.string() + " is too large");
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

std::string read_text_file(const std::filesystem::path& path, std::size_t max_size) {
  Bytes b = read_file(path, max_size);
  return std::string(b.begin(), b.end());
}

void fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(ErrorKind::kInternal, "io.write", "cannot open directory", dir);
  if (::fsync(fd.get()) != 0 && errno != EINVAL) throw_errno(ErrorKind::kInternal, "io.write", "cannot fsync", dir);
}

void write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode) {
  auto dir = path.parent_path();
  auto tmp = (dir.empty() ? std::filesystem::path(".") : dir) /
             ("." + path.filename().string() + ".tmp-" + random_suffix());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (fd.get() < 0) throw_errno(ErrorKind::kInternal, "io.write", "cannot create", tmp);
    ::fchmod(fd.get(), mode);  // umask must not widen or narrow what the caller asked for
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        throw_errno(ErrorKind::kInternal, "io.write", "cannot write", tmp);
      }
      off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      int saved = errno;
      ::unlink(tmp.c_str());
      errno = saved;
      throw_errno(ErrorKind::kInternal, "io.write", "cannot fsync", tmp);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    throw_errno(ErrorKind::kInternal, "io.write", "cannot rename onto", path);
  }
  fsync_directory(dir);
}

TempDir::TempDir(std::string_view prefix) {
  auto base = std::filesystem::temp_directory_path();
  std::string templ = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw Error(ErrorKind::kInternal, "io.write", std::string("cannot create temp dir: ") + std::strerror(errno));
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace enarx
