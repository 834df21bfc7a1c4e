#include "core/lru_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace enarx {
namespace {

TEST(LruCache, EvictsTheLeastRecentlyUsedPastTheEntryBound) {
  LruCache<int, std::string> c(3, 1 << 20);
  for (int i = 0; i < 3; ++i) c.put(i, std::to_string(i), 1);
  ASSERT_TRUE(c.get(0));  // 0 is now the most recent; 1 the least
  c.put(3, "3", 1);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.get(1));
  EXPECT_EQ(c.get(0).value_or(""), "0");
  EXPECT_EQ(c.get(3).value_or(""), "3");
}

TEST(LruCache, KeepsWithinTheByteBound) {
  LruCache<int, int> c(1000, 100);
  for (int i = 0; i < 50; ++i) c.put(i, i, 30);
  EXPECT_LE(c.bytes(), 100u);
  EXPECT_EQ(c.size(), 3u);
  c.put(99, 99, 101);  // larger than the whole bound: not kept, nothing else lost
  EXPECT_FALSE(c.get(99));
  EXPECT_EQ(c.size(), 3u);
  c.put(49, 0, 10);  // replacing an entry updates its cost
  EXPECT_EQ(c.bytes(), 70u);
}

TEST(LruCache, ManyThreadsStayWithinTheBounds) {
  LruCache<int, int> c(64, 64 * 8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 10000; ++i) {
        c.put(t * 100000 + i, i, 8);
        (void)c.get(t * 100000 + i / 2);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(c.size(), 64u);
  EXPECT_LE(c.bytes(), 64u * 8);
}

}  // namespace
}  // namespace enarx
