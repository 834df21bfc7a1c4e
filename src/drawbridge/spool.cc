#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/crypto.h"
#include "core/file.h"
#include "drawbridge/store.h"

namespace enarx::drawbridge {

BlobSpool::BlobSpool(const std::filesystem::path& dir, std::vector<DigestAlgorithm> algorithms)
    : path_(dir / ("spool." + to_hex(random_bytes(12)))), digests_(std::move(algorithms)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "create", path_, errno);
}

BlobSpool::~BlobSpool() {
  if (fd_ >= 0) ::close(fd_);
  if (!kept_) ::unlink(path_.c_str());
}

void BlobSpool::write(ByteView data) noexcept {
  size_ += data.size();
  // After a failure the rest is only counted: the upload is refused at the end anyway, and the
  // body must still be read to answer on this connection.
  if (error_ != 0) return;
  try {
    digests_.update(data);
  } catch (const std::exception&) {
    error_ = EIO;
    return;
  }
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      return;
    }
    off += static_cast<std::size_t>(n);
  }
}

ContentDigest BlobSpool::finish() {
  if (error_ != 0) throw io_error(ErrorKind::kInternal, "drawbridge.store.io", "write", path_, error_);
  return digests_.finish();
}

}  // namespace enarx::drawbridge
