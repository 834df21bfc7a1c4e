// Byte buffers and their text encodings (hex, base64, base64url).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace enarx {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Lower-case hex. from_hex accepts either case and ignores nothing else; throws
// Error("encoding.hex") on odd length or a non-hex character.
std::string to_hex(ByteView data);
Bytes from_hex(std::string_view hex);

// Standard base64 (RFC 4648 §4) with '=' padding; from_base64 requires canonical padding.
std::string to_base64(ByteView data);
Bytes from_base64(std::string_view text);
// base64url without padding (RFC 7515 JWS); from_base64url also tolerates padding.
std::string to_base64url(ByteView data);
Bytes from_base64url(std::string_view text);

// Constant-time comparison for secrets and MACs.
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace enarx
