// Append-only audit log of every issuance and rejection: one JSON object per line, fsync'd
// before the response is sent. Rotation never truncates: the live file is renamed to
// "<path>.<UTC timestamp>" and a new one is opened (on request_reopen(), e.g. from SIGHUP, or
// when the file passes `max_size`); an external logrotate may also rename it and send SIGHUP.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace enarx::steward {

class AuditLog {
 public:
  // Opens (creating, mode 0600) `path` with O_APPEND. `max_size` 0 = no size-based rotation.
  // Throws Error("steward.audit.open").
  AuditLog(std::filesystem::path path, std::uint64_t max_size, std::shared_ptr<const Clock> clock);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Adds "ts" and writes `record` as one line; returns once it is on disk. Throws
  // Error("steward.audit.write") (the caller must then refuse to issue: no certificate without
  // its audit record). Concurrent appends share fsyncs: each waits until one fsync that began
  // after its write returns, so N issuing workers pay for about one flush, not N in a row.
  void append(nlohmann::json record);

  // The same for several records, without waiting for the flush: the lines are written now, and
  // `done` runs once on the log's flusher thread when an fsync that covers them has finished
  // (with steward.audit.write's error if the write or the flush failed; a write failure runs it
  // here at once). Flushes are shared between everything queued meanwhile. At most
  // kMaxPendingFlushes callers wait for a flush; beyond it this blocks until one has run.
  static constexpr std::size_t kMaxPendingFlushes = 256;
  void append_async(std::vector<nlohmann::json> records, std::function<void(std::exception_ptr)> done);

  // Async-signal-safe: the next append() reopens the path (after an external rename).
  void request_reopen() noexcept { reopen_requested_.store(true); }
  // Renames the live file to "<path>.<timestamp>" and opens a fresh one.
  void rotate();

  const std::filesystem::path& path() const { return path_; }

 private:
  void open_locked();
  void rotate_locked();
  std::filesystem::path path_;
  std::uint64_t max_size_;
  std::shared_ptr<const Clock> clock_;
  // Makes every line written up to `seq` durable (group fsync; see append).
  void sync_through(std::uint64_t seq);
  // Writes one line (not yet durable); returns its sequence number.
  std::uint64_t write_line(nlohmann::json record);
  void flush_loop();
  void stop_flusher();

  struct PendingFlush {
    std::uint64_t through;
    std::function<void(std::exception_ptr)> done;
  };
  std::mutex flush_mutex_;  // pending_, flusher_, stopping_; never held while writing or syncing
  std::condition_variable flush_work_, flush_room_;
  std::deque<PendingFlush> pending_;
  bool stopping_ = false;
  std::thread flusher_;

  std::mutex mutex_;  // the file: fd_, size_, written_
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t written_ = 0;  // lines written so far (any file generation)
  std::mutex sync_mutex_;      // one fsync at a time; taken before mutex_, never inside it
  std::uint64_t synced_ = 0;   // lines known durable (under sync_mutex_)
  std::atomic<bool> reopen_requested_{false};
};

}  // namespace enarx::steward
