// Abuse resistance: per-client token buckets and client network allow-lists.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace enarx::drawbridge {

// The address part of "ip:port", "[v6]:port" or a bare address.
std::string client_ip(std::string_view remote_address);

// One bucket per key (client IP): `rate` tokens per second, at most `burst`. rate <= 0 disables.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst, std::shared_ptr<const Clock> clock = system_clock());
  // Takes a token; false (and the seconds until one is available) when empty.
  bool allow(const std::string& key, double* retry_after = nullptr);
  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    TimePoint last;
  };
  double rate_, burst_;
  std::shared_ptr<const Clock> clock_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
  TimePoint last_prune_{};
};

// CIDR allow-list ("10.0.0.0/8", "::1/128", "192.168.1.7"). Empty list = everyone.
class NetworkAllowList {
 public:
  NetworkAllowList() = default;
  // Throws Error("drawbridge.config.cidr") for a malformed entry.
  explicit NetworkAllowList(const std::vector<std::string>& cidrs);
  bool allows(std::string_view ip) const;
  bool empty() const { return nets_.empty(); }

 private:
  struct Net {
    std::uint8_t addr[16];
    int prefix;  // bits, over the 16-byte (v4-mapped for IPv4) form
  };
  std::vector<Net> nets_;
};

}  // namespace enarx::drawbridge
