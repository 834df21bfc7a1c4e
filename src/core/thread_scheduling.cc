#include "core/thread_scheduling.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <sched.h>
#endif

#include "core/log.h"

namespace enarx {

bool schedule_this_thread_as_batch() noexcept {
#if defined(__linux__)
  // On Linux, pid 0 names the calling thread, not the whole process.
  sched_param param{};
  if (sched_setscheduler(0, SCHED_BATCH, &param) == 0) return true;
  const int error = errno;
#else
  const int error = 0;
#endif
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    try {
      log::warn("thread.batch_scheduling_unavailable",
                {{"error", error ? std::string(std::strerror(error)) : std::string("not Linux")}});
    } catch (...) {
    }
  }
  return false;
}

bool this_thread_is_batch_scheduled() noexcept {
#if defined(__linux__)
  return sched_getscheduler(0) == SCHED_BATCH;
#else
  return false;
#endif
}

}  // namespace enarx
