// The read cache's own rules: generations, expiry, bounds, what is never kept.
#include <gtest/gtest.h>

#include "drawbridge/read_cache.h"

using namespace enarx;
using namespace enarx::drawbridge;

namespace {

net::Response answer(std::string body) {
  auto r = net::Response::bytes(200, std::move(body), "application/json");
  r.headers.set("Content-Digest", "sha-256=:x:");
  return r;
}

struct ReadCacheTest : ::testing::Test {
  std::shared_ptr<FixedClock> clock = std::make_shared<FixedClock>(TimePoint{} + std::chrono::hours(1000));
  ReadCache make(ReadCacheOptions o = {}) { return ReadCache(o, clock); }
};

TEST_F(ReadCacheTest, KeepsAnswersUntilTheGenerationMoves) {
  auto cache = make();
  const auto key = ReadCache::tag_key("alice", "app", "1.0.0");
  cache.store(key, answer("entry"), cache.generation());
  auto hit = cache.find(key);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->body, "entry");
  EXPECT_EQ(hit->headers.get("Content-Digest"), "sha-256=:x:");
  cache.invalidate();
  EXPECT_FALSE(cache.find(key));
}

TEST_F(ReadCacheTest, AnAnswerReadBeforeAChangeIsNeverKept) {
  auto cache = make();
  const auto key = ReadCache::tag_list_key("alice", "app");
  const auto generation = cache.generation();  // the reader starts
  cache.invalidate();                          // a tag completes meanwhile
  cache.store(key, answer(R"(["1.0.0"])"), generation);
  EXPECT_FALSE(cache.find(key));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ReadCacheTest, AnswersExpireAfterTheTtl) {
  auto cache = make({.ttl = std::chrono::seconds(10)});
  const auto key = ReadCache::node_key("alice", "app", "1.0.0", "Enarx.toml");
  cache.store(key, answer("args = []"), cache.generation());
  clock->set(clock->now() + std::chrono::seconds(9));
  EXPECT_TRUE(cache.find(key));
  clock->set(clock->now() + std::chrono::seconds(1));
  EXPECT_FALSE(cache.find(key));
}

TEST_F(ReadCacheTest, KeepsOnlyInMemorySuccesses) {
  auto cache = make();
  auto not_found = net::Response::error(404, "drawbridge.not_found", "Not found");
  cache.store("a", not_found, cache.generation());
  auto partial = answer("x");
  partial.status = 206;
  cache.store("b", partial, cache.generation());
  auto streamed = answer("");
  streamed.file = std::make_shared<net::OpenFile>();
  cache.store("c", streamed, cache.generation());
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ReadCacheTest, StaysWithinItsBounds) {
  auto cache = make({.max_entries = 1000, .max_bytes = 64 << 10});
  for (int i = 0; i < 5000; ++i)
    cache.store(ReadCache::tag_key("u", "r", std::to_string(i)), answer(std::string(1000, 'x')), cache.generation());
  EXPECT_LE(cache.bytes(), 64u << 10);
  EXPECT_GT(cache.size(), 10u);
  auto few = make({.max_entries = 3});
  for (int i = 0; i < 10; ++i) few.store(std::to_string(i), answer("x"), few.generation());
  EXPECT_EQ(few.size(), 3u);
  EXPECT_TRUE(few.find("9"));
  EXPECT_FALSE(few.find("0"));
}

TEST_F(ReadCacheTest, ZeroTtlTurnsItOff) {
  auto cache = make({.ttl = std::chrono::milliseconds(0)});
  EXPECT_FALSE(cache.enabled());
  cache.store("a", answer("x"), cache.generation());
  EXPECT_FALSE(cache.find("a"));
}

TEST_F(ReadCacheTest, KeysOfDifferentReadsNeverCollide) {
  // A tag named like a tree path, a repository named like a tag list: distinct keys.
  EXPECT_NE(ReadCache::tag_key("a", "b", "c"), ReadCache::node_key("a", "b", "c", ""));
  EXPECT_NE(ReadCache::tag_list_key("a", "b"), ReadCache::tag_key("a", "b", ""));
  EXPECT_NE(ReadCache::node_key("a", "b", "c", "d/e"), ReadCache::node_key("a", "b", "c/d", "e"));
}

}  // namespace
