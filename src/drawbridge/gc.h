// Garbage collection of drawbridge blobs, run by `drawbridge gc` and, every gc.interval, by
// `drawbridge serve` (docs/drawbridge.md "Garbage collection"). The work is
// Store::collect_garbage; this is its scheduling and reporting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "drawbridge/store.h"

namespace enarx::drawbridge {

// {"dry_run":…,"expired_tags":…,"blobs":…,"bytes":…}
std::string gc_report_json(const GcReport& report);

// Runs collect_garbage every `interval` on its own thread (the first run one interval after
// start) and logs each run as `drawbridge.gc` with what it freed, or `drawbridge.gc_failed`.
// A failed run is retried at the next interval. Stops (waiting for a run in progress) on
// destruction.
class PeriodicGc {
 public:
  PeriodicGc(std::shared_ptr<Store> store, GcOptions options, std::chrono::milliseconds interval);
  ~PeriodicGc();
  PeriodicGc(const PeriodicGc&) = delete;
  PeriodicGc& operator=(const PeriodicGc&) = delete;

 private:
  void loop();

  std::shared_ptr<Store> store_;
  GcOptions options_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace enarx::drawbridge
