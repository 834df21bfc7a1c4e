#include "steward/cbor.h"

namespace enarx::steward::cbor {

void append_head(Bytes& out, std::uint8_t major, std::uint64_t argument) {
  const auto m = static_cast<std::uint8_t>(major << 5);
  auto push_be = [&out](std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  if (argument < 24) {
    out.push_back(static_cast<std::uint8_t>(m | argument));
  } else if (argument <= 0xff) {
    out.push_back(m | 24);
    push_be(argument, 1);
  } else if (argument <= 0xffff) {
    out.push_back(m | 25);
    push_be(argument, 2);
  } else if (argument <= 0xffffffffULL) {
    out.push_back(m | 26);
    push_be(argument, 4);
  } else {
    out.push_back(m | 27);
    push_be(argument, 8);
  }
}

void append_bytes(Bytes& out, ByteView data) {
  append_head(out, 2, data.size());
  out.insert(out.end(), data.begin(), data.end());
}

void append_text(Bytes& out, std::string_view s) {
  append_head(out, 3, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace enarx::steward::cbor
