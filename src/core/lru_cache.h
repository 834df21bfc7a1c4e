// A bounded, thread-safe least-recently-used cache: at most `max_entries` entries and
// `max_bytes` of their stated sizes; the least recently used go first. Every cache a client can
// make a server fill is one of these (docs/steward.md "Bounds"): a cache without a bound is
// memory an attacker chooses how to spend.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace enarx {

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class LruCache {
 public:
  LruCache(std::size_t max_entries, std::size_t max_bytes)
      : max_entries_(max_entries ? max_entries : 1), max_bytes_(max_bytes) {}

  // The value, marked most recently used; nullopt when absent.
  std::optional<Value> get(const Key& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  // Inserts or replaces; `bytes` is what the entry costs (key and value). An entry larger than
  // the whole byte bound is not kept.
  void put(const Key& key, Value value, std::size_t bytes) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) erase(it);
    if (bytes > max_bytes_) return;
    order_.push_front(Entry{key, std::move(value), bytes});
    index_.emplace(key, order_.begin());
    bytes_ += bytes;
    while (index_.size() > max_entries_ || bytes_ > max_bytes_) erase(index_.find(order_.back().key));
  }

  void clear() {
    std::lock_guard lock(mu_);
    index_.clear();
    order_.clear();
    bytes_ = 0;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return index_.size();
  }
  std::size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  std::size_t max_entries() const { return max_entries_; }
  std::size_t max_bytes() const { return max_bytes_; }

 private:
  struct Entry {
    Key key;
    Value value;
    std::size_t bytes;
  };
  using Iterator = typename std::list<Entry>::iterator;
  void erase(typename std::unordered_map<Key, Iterator, Hash>::iterator it) {
    bytes_ -= it->second->bytes;
    order_.erase(it->second);
    index_.erase(it);
  }

  const std::size_t max_entries_, max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<Key, Iterator, Hash> index_;
  std::size_t bytes_ = 0;
};

}  // namespace enarx
