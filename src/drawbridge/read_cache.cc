#include "drawbridge/read_cache.h"

namespace enarx::drawbridge {

ReadCache::ReadCache(ReadCacheOptions options, std::shared_ptr<const Clock> clock)
    : options_(options), clock_(std::move(clock)), entries_(options.max_entries, options.max_bytes) {}

namespace {
std::string joined(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (auto p : parts) {
    key.append(p);
    key.push_back('\n');
  }
  return key;
}
}  // namespace

std::string ReadCache::tag_key(std::string_view user, std::string_view repo, std::string_view tag) {
  return joined({"tag", user, repo, tag});
}
std::string ReadCache::tag_list_key(std::string_view user, std::string_view repo) {
  return joined({"tags", user, repo});
}
std::string ReadCache::node_key(std::string_view user, std::string_view repo, std::string_view tag,
                                std::string_view path) {
  return joined({"node", user, repo, tag, path});
}

std::optional<net::Response> ReadCache::find(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  auto entry = entries_.get(key);
  if (!entry) return std::nullopt;
  const auto& e = **entry;
  if (e.generation != generation() || clock_->now() >= e.expires) return std::nullopt;
  return e.answer;
}

void ReadCache::store(const std::string& key, const net::Response& answer, std::uint64_t generation) {
  if (!enabled() || answer.status != 200 || answer.file || generation != this->generation()) return;
  std::size_t bytes = key.size() + answer.body.size() + sizeof(Entry);
  for (const auto& [name, value] : answer.headers.items()) bytes += name.size() + value.size();
  auto entry = std::make_shared<const Entry>(Entry{answer, generation, clock_->now() + options_.ttl});
  entries_.put(key, std::move(entry), bytes);
}

}  // namespace enarx::drawbridge
