#include "core/clock.h"

#include <cstdio>
#include <ctime>

#include "core/error.h"

namespace enarx {

std::shared_ptr<const Clock> system_clock() {
  static const auto clock = std::make_shared<SystemClock>();
  return clock;
}

namespace {

int digits(std::string_view s, std::size_t pos, std::size_t n) {
  require(pos + n <= s.size(), ErrorKind::kInvalidInput, "time.format", "timestamp is truncated");
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    require(s[i] >= '0' && s[i] <= '9', ErrorKind::kInvalidInput, "time.format", "timestamp has a non-digit");
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

void expect(std::string_view s, std::size_t pos, char c) {
  require(pos < s.size() && (s[pos] == c || (c == 'T' && (s[pos] == 't' || s[pos] == ' '))), ErrorKind::kInvalidInput,
          "time.format", "timestamp is not RFC 3339");
}

}  // namespace

TimePoint parse_rfc3339(std::string_view s) {
  int year = digits(s, 0, 4);
  expect(s, 4, '-');
  int month = digits(s, 5, 2);
  expect(s, 7, '-');
  int day = digits(s, 8, 2);
  expect(s, 10, 'T');
  int hour = digits(s, 11, 2);
  expect(s, 13, ':');
  int minute = digits(s, 14, 2);
  expect(s, 16, ':');
  int second = digits(s, 17, 2);
  std::size_t pos = 19;
  long long nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    long long scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    require(pos > start, ErrorKind::kInvalidInput, "time.format", "empty fractional seconds");
  }
  int offset_seconds = 0;
  require(pos < s.size(), ErrorKind::kInvalidInput, "time.format", "timestamp has no time zone");
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else {
    require(s[pos] == '+' || s[pos] == '-', ErrorKind::kInvalidInput, "time.format", "bad time zone");
    int sign = s[pos] == '-' ? -1 : 1;
    int oh = digits(s, pos + 1, 2);
    expect(s, pos + 3, ':');
    int om = digits(s, pos + 4, 2);
    offset_seconds = sign * (oh * 3600 + om * 60);
    pos += 6;
  }
  require(pos == s.size(), ErrorKind::kInvalidInput, "time.format", "trailing characters after timestamp");
  require(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
              second <= 60, ErrorKind::kInvalidInput,
          "time.format", "timestamp field out of range");

  using namespace std::chrono;
  auto ymd = year_month_day{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  require(ymd.ok(), ErrorKind::kInvalidInput, "time.format", "timestamp names an impossible date");
  auto tp = sys_days{ymd} + hours{hour} + minutes{minute} + seconds{second} -
            seconds{offset_seconds};
  return time_point_cast<system_clock::duration>(tp + nanoseconds{nanos});
}

std::string format_rfc3339(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace enarx
