// Minimal, bounds-checked DER reader and writer for the few structures we handle by hand
// (Enarx evidence containers, CrlList, Steward bundles, TCG tagged evidence). Everything else
// X.509-shaped goes through OpenSSL. The reader never reads past its input; every malformed
// encoding throws Error("der.malformed") with the offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace enarx::der {

// Universal tags (class universal, primitive unless noted).
enum Tag : std::uint8_t {
  kBoolean = 0x01,
  kInteger = 0x02,
  kBitString = 0x03,
  kOctetString = 0x04,
  kNull = 0x05,
  kOid = 0x06,
  kUtf8String = 0x0c,
  kPrintableString = 0x13,
  kIa5String = 0x16,
  kUtcTime = 0x17,
  kGeneralizedTime = 0x18,
  kSequence = 0x30,  // constructed
  kSet = 0x31,       // constructed
};
// Context-specific tag number n, constructed or primitive.
constexpr std::uint8_t context(std::uint8_t n, bool constructed) {
  return static_cast<std::uint8_t>(0x80 | (constructed ? 0x20 : 0) | n);
}

struct Element {
  std::uint8_t tag = 0;
  ByteView value;  // content octets
  ByteView whole;  // tag + length + content (the exact encoding)
};

class Reader {
 public:
  explicit Reader(ByteView input, std::size_t base_offset = 0)
      : data_(input), base_(base_offset) {}

  bool empty() const { return pos_ >= data_.size(); }
  std::size_t remaining() const { return data_.size() - pos_; }
  std::optional<std::uint8_t> peek_tag() const;

  // Reads the next TLV (single-byte tags only, definite lengths in minimal form, max 2^32).
  Element read_any();
  // Reads the next TLV and requires `tag`.
  Element read(std::uint8_t tag);
  // Reads a constructed SEQUENCE / SET and returns a reader over its content.
  Reader read_sequence();
  Reader read_set();
  Reader read_constructed(std::uint8_t tag);
  ByteView read_octet_string();
  std::string read_utf8_string();
  std::string read_oid();  // dotted text, e.g. "1.3.6.1.4.1.58270.1.3"
  std::int64_t read_small_integer();  // fits int64 or throws
  ByteView read_integer_bytes();  // minimal two's complement content octets
  bool read_boolean();
  // Optional element with the given tag, if it comes next.
  std::optional<Element> read_optional(std::uint8_t tag);

  // Throws unless every byte was consumed.
  void expect_end() const;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  ByteView data_;
  std::size_t pos_ = 0;
  std::size_t base_ = 0;
};

// Parses exactly one element spanning all of `input` (no trailing bytes).
Element parse_single(ByteView input);

class Writer {
 public:
  // Appends a TLV with the given content.
  Writer& add(std::uint8_t tag, ByteView content);
  Writer& add_raw(ByteView encoded);  // an already encoded element
  Writer& add_octet_string(ByteView content) { return add(kOctetString, content); }
  Writer& add_utf8_string(std::string_view s) { return add(kUtf8String, as_bytes(s)); }
  Writer& add_oid(std::string_view dotted);
  Writer& add_integer(std::int64_t v);
  Writer& add_unsigned_integer(ByteView big_endian);  // adds a leading 0 when the MSB is set
  Writer& add_boolean(bool v);
  Writer& add_null();
  Writer& add_sequence(const Writer& content) { return add(kSequence, content.bytes()); }
  Writer& add_set(const Writer& content) { return add(kSet, content.bytes()); }

  const Bytes& bytes() const { return out_; }
  Bytes take() { return std::move(out_); }
  // The content wrapped as one element: e.g. Writer().add...().wrap(kSequence).
  Bytes wrap(std::uint8_t tag) const;

 private:
  Bytes out_;
};

Bytes encode_length(std::size_t len);
// "1.2.840..." -> OID content octets, and back. Throw Error("der.oid").
Bytes encode_oid(std::string_view dotted);
std::string decode_oid(ByteView content);

}  // namespace enarx::der
