#include <algorithm>
#include <chrono>
#include <string>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/error.h"
#include "steward/index/cert_index.h"

namespace enarx::steward {

std::string serial_key(ByteView big_endian) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : big_endian) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  const auto first = out.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : out.substr(first);
}

Bytes serial_bytes(std::string_view key) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  // RFC 5280 4.1.2.2: at most 20 octets.
  if (key.empty() || key.size() > 40)
    throw Error(ErrorKind::kInvalidInput, "steward.index.bad_serial",
                "a serial number is 1 to 40 hexadecimal digits");
  std::string digits(key.size() % 2 ? "0" : "");
  digits.append(key);
  Bytes out;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const int hi = nibble(digits[i]), lo = nibble(digits[i + 1]);
    if (hi < 0 || lo < 0)
      throw Error(ErrorKind::kInvalidInput, "steward.index.bad_serial",
                  "a serial number is 1 to 40 hexadecimal digits");
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  while (out.size() > 1 && out.front() == 0) out.erase(out.begin());
  return out;
}

Bytes new_serial(TimePoint issued_at) {
  constexpr std::size_t kTimeBytes = 6, kRandomBytes = 10;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(issued_at.time_since_epoch()).count();
  auto t = static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0));
  Bytes out(kTimeBytes);
  for (std::size_t i = kTimeBytes; i-- > 0; t >>= 8) out[i] = static_cast<std::uint8_t>(t & 0xff);
  // Before 2004 the time's first byte is 0: keep the INTEGER 16 bytes long (and positive: the
  // time reaches 0x80 in its first byte only in the year 10889).
  if (out[0] == 0) out[0] = 1;
  const Bytes random = random_bytes(kRandomBytes);
  out.insert(out.end(), random.begin(), random.end());
  return out;
}

}  // namespace enarx::steward
