// core/thread_scheduling.h: a background thread under SCHED_BATCH, its fair share unchanged, and
// only that thread (the policy is per thread on Linux, not per process).
#include "core/thread_scheduling.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace enarx {
namespace {

int this_thread_nice() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

TEST(ThreadScheduling, OnlyTheCallingThreadBecomesBatchWithItsNiceValueKept) {
  ASSERT_FALSE(this_thread_is_batch_scheduled());
  const int nice_before = this_thread_nice();
  bool set = false, batch = false;
  int nice_after = 0;
  std::thread background([&] {
    set = schedule_this_thread_as_batch();
    batch = this_thread_is_batch_scheduled();
    nice_after = this_thread_nice();
  });
  background.join();
  EXPECT_TRUE(set);
  EXPECT_TRUE(batch);
  EXPECT_EQ(nice_after, nice_before);  // the same weight: it is not starved, only not preempting
  EXPECT_FALSE(this_thread_is_batch_scheduled());
  std::thread later([&] { batch = this_thread_is_batch_scheduled(); });
  later.join();
  EXPECT_FALSE(batch);  // and threads started afterwards by this one are not either
}

}  // namespace
}  // namespace enarx
