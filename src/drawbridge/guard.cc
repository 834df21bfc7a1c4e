#include "drawbridge/guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace enarx::drawbridge {
namespace {

// IPv4 becomes ::ffff:a.b.c.d so one comparison handles both families.
bool to_v6(std::string_view text, std::uint8_t out[16], bool* was_v4) {
  std::string s(text);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, &v4, 4);
    if (was_v4) *was_v4 = true;
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out, &v6, 16);
    if (was_v4) *was_v4 = false;
    return true;
  }
  return false;
}

}  // namespace

std::string client_ip(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    auto close = remote.find(']');
    return std::string(remote.substr(1, close == std::string_view::npos ? remote.size() - 1 : close - 1));
  }
  auto first = remote.find(':');
  auto last = remote.rfind(':');
  if (first != std::string_view::npos && first == last) return std::string(remote.substr(0, last));
  if (first != last) {
    // Either a bare IPv6 address or "v6:port" without brackets: try the whole thing first.
    std::uint8_t tmp[16];
    if (to_v6(remote, tmp, nullptr)) return std::string(remote);
    return std::string(remote.substr(0, last));
  }
  return std::string(remote);
}

std::string client_prefix(std::string_view ip) {
  std::uint8_t a[16];
  bool v4 = false;
  if (!to_v6(ip, a, &v4) || v4) return std::string(ip);
  std::memset(a + 8, 0, 8);
  char text[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, a, text, sizeof text);
  return std::string(text) + "/64";
}

RateLimiter::RateLimiter(double rate, double burst, std::shared_ptr<const Clock> clock, std::size_t max_clients)
    : rate_(rate), burst_(std::max(burst, 1.0)), clock_(std::move(clock)), max_clients_(std::max<std::size_t>(max_clients, 1)) {}

std::size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

bool RateLimiter::allow(const std::string& key, double* retry_after) {
  if (rate_ <= 0) return true;
  auto now = clock_->now();
  std::lock_guard lock(mu_);
  if (now - last_prune_ > std::chrono::seconds(60)) {
    // Full buckets carry no state worth keeping.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double elapsed = std::chrono::duration<double>(now - it->second.last).count();
      if (it->second.tokens + elapsed * rate_ >= burst_) {
        lru_.erase(it->second.lru);
        it = buckets_.erase(it);
      } else {
        ++it;
      }
    }
    last_prune_ = now;
  }
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    it = buckets_.emplace(key, Bucket{burst_, now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  auto& b = it->second;
  double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.last).count());
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  b.last = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after) *retry_after = (1.0 - b.tokens) / rate_;
  return false;
}

NetworkAllowList::NetworkAllowList(const std::vector<std::string>& cidrs) {
  for (const auto& c : cidrs) {
    auto slash = c.find('/');
    Net n{};
    bool v4 = false;
    if (!to_v6(c.substr(0, slash), n.addr, &v4))
      throw Error(ErrorKind::kInvalidInput, "drawbridge.config.cidr", "invalid network '" + c + "'");
    int max = v4 ? 32 : 128;
    int prefix = max;
    if (slash != std::string::npos) {
      auto p = c.substr(slash + 1);
      if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit) || std::stoi(p) > max)
        throw Error(ErrorKind::kInvalidInput, "drawbridge.config.cidr", "invalid prefix length in '" + c + "'");
      prefix = std::stoi(p);
    }
    n.prefix = v4 ? prefix + 96 : prefix;
    nets_.push_back(n);
  }
}

bool NetworkAllowList::allows(std::string_view ip) const {
  if (nets_.empty()) return true;
  std::uint8_t a[16];
  if (!to_v6(ip, a, nullptr)) return false;
  for (const auto& n : nets_) {
    int full = n.prefix / 8, rem = n.prefix % 8;
    if (std::memcmp(a, n.addr, static_cast<std::size_t>(full)) != 0) continue;
    if (rem) {
      std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rem));
      if ((a[full] & mask) != (n.addr[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

}  // namespace enarx::drawbridge
