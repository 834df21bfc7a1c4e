#include "drawbridge/gc.h"

#include "core/error.h"
#include "core/log.h"

namespace enarx::drawbridge {

std::string gc_report_json(const GcReport& r) {
  return std::string("{\"dry_run\":") + (r.dry_run ? "true" : "false") +
         ",\"expired_tags\":" + std::to_string(r.expired_tags) + ",\"blobs\":" + std::to_string(r.blobs) +
         ",\"bytes\":" + std::to_string(r.bytes) + "}";
}

PeriodicGc::PeriodicGc(std::shared_ptr<Store> store, GcOptions options, std::chrono::milliseconds interval)
    : store_(std::move(store)), options_(std::move(options)), interval_(interval) {
  thread_ = std::thread([this] { loop(); });
}

PeriodicGc::~PeriodicGc() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PeriodicGc::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, interval_, [&] { return stop_; })) return;
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    try {
      const auto r = store_->collect_garbage(options_);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      log::info("drawbridge.gc", {{"expired_tags", r.expired_tags}, {"blobs", r.blobs}, {"bytes", r.bytes},
                                  {"duration_ms", static_cast<std::int64_t>(ms.count())}});
    } catch (const Error& e) {
      log::error("drawbridge.gc_failed", {{"code", e.code()}, {"detail", e.describe()}});
    } catch (const std::exception& e) {
      log::error("drawbridge.gc_failed", {{"detail", e.what()}});
    }
    lock.lock();
  }
}

}  // namespace enarx::drawbridge
