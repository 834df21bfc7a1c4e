// Abuse resistance: per-client token buckets and client network allow-lists.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
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
// What per-client limits key on: an IPv4 address as is, an IPv6 address by its /64 (one host
// commonly holds a whole /64, so per-address buckets would be free for the asking).
std::string client_prefix(std::string_view ip);

// One bucket per key (client prefix): `rate` tokens per second, at most `burst`. rate <= 0
// disables. At most `max_clients` buckets are kept: full buckets are dropped every minute (they
// carry no state), and past the cap the least recently used one goes (its client starts again
// from a full bucket, which is all a client with that many addresses could get anyway).
class RateLimiter {
 public:
  RateLimiter(double rate, double burst, std::shared_ptr<const Clock> clock = system_clock(),
              std::size_t max_clients = 65536);
  // Takes a token; false (and the seconds until one is available) when empty.
  bool allow(const std::string& key, double* retry_after = nullptr);
  bool enabled() const { return rate_ > 0; }
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    TimePoint last;
    std::list<std::string>::iterator lru;
  };
  double rate_, burst_;
  std::shared_ptr<const Clock> clock_;
  std::size_t max_clients_;
  mutable std::mutex mu_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::list<std::string> lru_;  // most recently used first
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
