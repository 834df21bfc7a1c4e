#include "steward/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/file.h"
#include "core/thread_scheduling.h"

namespace enarx::steward {

AuditLog::AuditLog(std::filesystem::path path, std::uint64_t max_size,
                   std::shared_ptr<const Clock> clock)
    : path_(std::move(path)), max_size_(max_size), clock_(std::move(clock)) {
  if (!clock_) clock_ = system_clock();
  std::lock_guard lock(mutex_);
  open_locked();
}

AuditLog::~AuditLog() {
  stop_flusher();
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::stop_flusher() {
  {
    std::lock_guard lock(flush_mutex_);
    stopping_ = true;
  }
  flush_work_.notify_all();
  flush_room_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void AuditLog::append_async(std::vector<nlohmann::json> records, std::function<void(std::exception_ptr)> done) {
  std::uint64_t through = 0;
  try {
    for (auto& record : records) through = write_line(std::move(record));
  } catch (...) {
    return done(std::current_exception());
  }
  std::unique_lock lock(flush_mutex_);
  flush_room_.wait(lock, [&] { return stopping_ || pending_.size() < kMaxPendingFlushes; });
  if (stopping_) {
    // Closing: flush here instead of on the (finished) flusher.
    lock.unlock();
    std::exception_ptr error;
    try {
      sync_through(through);
    } catch (...) {
      error = std::current_exception();
    }
    return done(error);
  }
  if (!flusher_.joinable()) flusher_ = std::thread([this] { flush_loop(); });
  pending_.push_back({through, std::move(done)});
  flush_work_.notify_one();
}

void AuditLog::flush_loop() {
  schedule_this_thread_as_batch();  // it wakes from every fsync (core/thread_scheduling.h)
  std::unique_lock lock(flush_mutex_);
  for (;;) {
    flush_work_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, nothing left
    std::deque<PendingFlush> batch;
    batch.swap(pending_);
    flush_room_.notify_all();
    lock.unlock();
    std::uint64_t through = 0;
    for (const auto& p : batch) through = std::max(through, p.through);
    std::exception_ptr error;
    try {
      sync_through(through);
    } catch (...) {
      error = std::current_exception();
    }
    for (auto& p : batch) {
      try {
        p.done(error);
      } catch (...) {
        // A completion's failure is its caller's to report.
      }
    }
    lock.lock();
  }
}

void AuditLog::open_locked() {
  if (fd_ >= 0) {
    // Lines written to the old file but not yet flushed by a waiting append: flush them before
    // the descriptor goes (sync_through works on a dup, so this never closes one in use).
    if (::fsync(fd_) != 0)
      throw Error(ErrorKind::kInternal, "steward.audit.write",
                  std::string("audit log fsync failed: ") + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw Error(ErrorKind::kInvalidInput, "steward.audit.open",
                "cannot open audit log " + path_.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

void AuditLog::rotate_locked() {
  // Timestamp with a counter suffix so two rotations in one second never collide (a rename over
  // an existing rotated file would lose it).
  std::string stamp = format_rfc3339(clock_->now());
  for (char& c : stamp)
    if (c == ':') c = '-';
  std::filesystem::path target = path_.string() + "." + stamp;
  for (int i = 1; std::filesystem::exists(target); ++i)
    target = path_.string() + "." + stamp + "." + std::to_string(i);
  if (::rename(path_.c_str(), target.c_str()) != 0 && errno != ENOENT) {
    throw Error(ErrorKind::kInvalidInput, "steward.audit.rotate",
                "cannot rename audit log " + path_.string() + ": " + std::strerror(errno));
  }
  try {
    fsync_directory(path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path());
  } catch (const Error&) {
    // The rename happened; a missing directory fsync only weakens crash durability.
  }
  open_locked();
}

void AuditLog::rotate() {
  std::lock_guard lock(mutex_);
  rotate_locked();
}

void AuditLog::append(nlohmann::json record) { sync_through(write_line(std::move(record))); }

std::uint64_t AuditLog::write_line(nlohmann::json record) {
  nlohmann::json line = {{"ts", format_rfc3339(clock_->now())}};
  for (auto& [k, v] : record.items()) line[k] = v;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');

  std::unique_lock lock(mutex_);
  if (reopen_requested_.exchange(false)) open_locked();
  if (max_size_ > 0 && size_ > 0 && size_ + text.size() > max_size_) rotate_locked();
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kInternal, "steward.audit.write",
                  std::string("audit log write failed: ") + std::strerror(errno));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  size_ += text.size();
  return ++written_;
}

void AuditLog::sync_through(std::uint64_t seq) {
  std::lock_guard sync(sync_mutex_);
  if (synced_ >= seq) return;  // an fsync that began after our write has finished
  int fd = -1;
  std::uint64_t covered = 0;
  {
    std::lock_guard lock(mutex_);
    covered = written_;
    fd = ::dup(fd_);  // the file may be rotated meanwhile; the dup keeps this one open
  }
  if (fd < 0)
    throw Error(ErrorKind::kInternal, "steward.audit.write",
                std::string("audit log fsync failed: ") + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0)
    throw Error(ErrorKind::kInternal, "steward.audit.write",
                std::string("audit log fsync failed: ") + std::strerror(err));
  // Lines in an earlier file were flushed when it was replaced (open_locked), so every line up
  // to `covered` is durable now.
  synced_ = covered;
}

}  // namespace enarx::steward
