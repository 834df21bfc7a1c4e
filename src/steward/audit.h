// Append-only audit log of every issuance and rejection: one JSON object per line, fsync'd
// before the response is sent. Rotation never truncates: the live file is renamed to
// "<path>.<UTC timestamp>" and a new one is opened (on request_reopen(), e.g. from SIGHUP, or
// when the file passes `max_size`); an external logrotate may also rename it and send SIGHUP.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

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

  std::mutex mutex_;  // the file: fd_, size_, written_
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t written_ = 0;  // lines written so far (any file generation)
  std::mutex sync_mutex_;      // one fsync at a time; taken before mutex_, never inside it
  std::uint64_t synced_ = 0;   // lines known durable (under sync_mutex_)
  std::atomic<bool> reopen_requested_{false};
};

}  // namespace enarx::steward
