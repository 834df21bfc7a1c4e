// Answers to reads of public repositories, kept in memory so that the registry's most frequent
// requests (a deploy's tag GET, tag lists, directory nodes, small files) are answered on the I/O
// thread that read them, without the store and without the hop to the worker pool
// (docs/drawbridge.md "Read cache").
//
// What may be kept: 200 answers for complete tags of public repositories, built by the normal
// read path (which checked everything a read needs). A repository never changes from public to
// private, and a complete tag's entry and tree never change, so those answers stay right until
// the tag or repository is deleted. A tag list changes whenever a tag completes, is yanked or is
// deleted. Each of these bumps the cache's generation, and an answer stored under an older
// generation is never served. The generation is read *before* the store is, so an answer read
// just before a change is stored under the old generation and dropped.
//
// Another replica's changes (several drawbridges on one PostgreSQL) reach this process's
// generation through the store's change feed (Store::watch_changes, LISTEN/NOTIFY). While the
// feed is down, every answer also expiring `ttl` after it was read bounds how long a tag
// deleted or yanked elsewhere can still be served here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/lru_cache.h"
#include "net/http_server.h"

namespace enarx::drawbridge {

struct ReadCacheOptions {
  std::size_t max_entries = 100000;
  std::size_t max_bytes = 64ull << 20;  // keys, headers and bodies
  // Files larger than this are streamed from the store as before (the blob GET path is already
  // at nginx's speed, and large bodies would crowd out the metadata).
  std::size_t max_file_size = 64 << 10;
  std::chrono::milliseconds ttl{10'000};  // 0 = no cache
};

class ReadCache {
 public:
  ReadCache(ReadCacheOptions options, std::shared_ptr<const Clock> clock);

  bool enabled() const { return options_.ttl.count() > 0 && options_.max_entries > 0 && options_.max_bytes > 0; }
  const ReadCacheOptions& options() const { return options_; }

  // Read this before reading the store for an answer that may be stored.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Something a stored answer may depend on changed (a tag completed, was yanked or deleted, a
  // repository was deleted): every stored answer is stale from now on.
  void invalidate() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  // Keys: one per kind of read; '\n' cannot occur in a valid name or path segment.
  static std::string tag_key(std::string_view user, std::string_view repo, std::string_view tag);
  static std::string tag_list_key(std::string_view user, std::string_view repo);
  static std::string node_key(std::string_view user, std::string_view repo, std::string_view tag,
                              std::string_view path);

  // The stored answer (a copy to send), or nullopt: absent, expired or from an older generation.
  std::optional<net::Response> find(const std::string& key) const;
  // Keeps `answer` (200, in-memory body) read under `generation`; ignored when the generation
  // moved on since, or when the answer streams a file.
  void store(const std::string& key, const net::Response& answer, std::uint64_t generation);

  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return entries_.bytes(); }

 private:
  struct Entry {
    net::Response answer;
    std::uint64_t generation;
    TimePoint expires;
  };
  ReadCacheOptions options_;
  std::shared_ptr<const Clock> clock_;
  std::atomic<std::uint64_t> generation_{0};
  mutable LruCache<std::string, std::shared_ptr<const Entry>> entries_;
};

}  // namespace enarx::drawbridge
