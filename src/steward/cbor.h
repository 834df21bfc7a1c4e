// The few CBOR (RFC 8949) encodings steward emits: the TCG DICE tagged-evidence value
// (docs/oids.md). Deterministic encoding: shortest-form heads, definite lengths only.
// Write-only on purpose: steward never parses CBOR from clients.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/bytes.h"

namespace enarx::steward::cbor {

// Appends a major-type head with the shortest argument encoding.
void append_head(Bytes& out, std::uint8_t major, std::uint64_t argument);
inline void append_uint(Bytes& out, std::uint64_t v) { append_head(out, 0, v); }
void append_bytes(Bytes& out, ByteView data);      // major 2
void append_text(Bytes& out, std::string_view s);  // major 3
inline void append_array_head(Bytes& out, std::uint64_t n) { append_head(out, 4, n); }
inline void append_map_head(Bytes& out, std::uint64_t n) { append_head(out, 5, n); }
inline void append_tag(Bytes& out, std::uint64_t tag) { append_head(out, 6, tag); }

}  // namespace enarx::steward::cbor
