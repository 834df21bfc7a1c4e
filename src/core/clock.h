// Injectable time source. Anything that checks validity windows, freshness or expiry takes a
// Clock (or an explicit time point) so tests can pin time inside the test vectors' validity.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace enarx {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : t_(t) {}
  TimePoint now() const override { return t_; }
  void set(TimePoint t) { t_ = t; }

 private:
  TimePoint t_;
};

// The process-wide real clock.
std::shared_ptr<const Clock> system_clock();

// RFC 3339 / ISO 8601 UTC timestamps ("2025-10-20T12:00:00Z", fractional seconds and numeric
// offsets accepted on input). Throws Error("time.format") on malformed input.
TimePoint parse_rfc3339(std::string_view text);
std::string format_rfc3339(TimePoint t);  // always "YYYY-MM-DDTHH:MM:SSZ"

}  // namespace enarx
