// A meeting point for threads that a test wants inside the same window at once (uploads that
// have all passed their checks before any commits). Unlike std::barrier it gives up after a
// timeout: when the code under test serializes the threads, the test fails instead of hanging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace enarx::test {

class Rendezvous {
 public:
  Rendezvous(int parties, std::chrono::milliseconds timeout) : parties_(parties), timeout_(timeout) {}

  // Waits until all parties have arrived or the timeout passed; true when all met.
  bool arrive_and_wait() {
    std::unique_lock lock(mu_);
    if (++arrived_ >= parties_) {
      met_ = true;
      cv_.notify_all();
    }
    cv_.wait_for(lock, timeout_, [&] { return met_; });
    return met_;
  }

  bool all_met() const {
    std::lock_guard lock(mu_);
    return met_;
  }

 private:
  const int parties_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool met_ = false;
};

}  // namespace enarx::test
