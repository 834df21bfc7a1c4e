#include "core/der.h"

#include <limits>

#include "core/error.h"

namespace enarx::der {

namespace {

std::string tag_hex(std::uint8_t t) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[t >> 4] + digits[t & 15];
}

}  // namespace

void Reader::fail(const std::string& what) const {
  throw Error(ErrorKind::kInvalidInput, "der.malformed", what + " at offset " + std::to_string(base_ + pos_));
}

std::optional<std::uint8_t> Reader::peek_tag() const {
  if (empty()) return std::nullopt;
  return data_[pos_];
}

Element Reader::read_any() {
  if (remaining() < 2) fail("truncated element header");
  const std::size_t start = pos_;
  const std::uint8_t tag = data_[pos_];
  if ((tag & 0x1f) == 0x1f) fail("multi-byte tag " + tag_hex(tag) + " not supported");
  std::size_t p = pos_ + 1;
  const std::uint8_t first = data_[p++];
  std::size_t len = 0;
  if (first < 0x80) {
    len = first;
  } else if (first == 0x80) {
    fail("indefinite length not allowed in DER");
  } else {
    const std::size_t n = first & 0x7f;
    if (n > 4) fail("length of length " + std::to_string(n) + " too large");
    if (data_.size() - p < n) fail("truncated length");
    if (data_[p] == 0) fail("non-minimal length (leading zero)");
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | data_[p++];
    if (len < 0x80) fail("non-minimal length (long form for short length)");
  }
  if (data_.size() - p < len) {
    fail("length " + std::to_string(len) + " exceeds the " + std::to_string(data_.size() - p) +
         " remaining bytes");
  }
  Element e;
  e.tag = tag;
  e.value = data_.subspan(p, len);
  e.whole = data_.subspan(start, p + len - start);
  pos_ = p + len;
  return e;
}

Element Reader::read(std::uint8_t tag) {
  if (empty()) fail("expected tag " + tag_hex(tag) + ", found end of input");
  if (data_[pos_] != tag) fail("expected tag " + tag_hex(tag) + ", found " + tag_hex(data_[pos_]));
  return read_any();
}

Reader Reader::read_constructed(std::uint8_t tag) {
  if ((tag & 0x20) == 0) fail("tag " + tag_hex(tag) + " is not constructed");
  Element e = read(tag);
  return Reader(e.value, base_ + static_cast<std::size_t>(e.value.data() - data_.data()));
}

Reader Reader::read_sequence() { return read_constructed(kSequence); }
Reader Reader::read_set() { return read_constructed(kSet); }

ByteView Reader::read_octet_string() { return read(kOctetString).value; }

std::string Reader::read_utf8_string() {
  const std::size_t at = pos_;
  Element e = read(kUtf8String);
  // Validate UTF-8 so callers never carry malformed text into logs or JSON.
  ByteView v = e.value;
  for (std::size_t i = 0; i < v.size();) {
    const std::uint8_t c = v[i];
    const std::size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                                       : (c & 0xf8) == 0xf0 ? 3 : 4;
    bool ok = n < 4 && n <= v.size() - 1 - i;
    for (std::size_t k = 1; ok && k <= n; ++k) ok = (v[i + k] & 0xc0) == 0x80;
    // Reject overlong forms, surrogates and code points above U+10FFFF.
    if (ok && n == 1) ok = c >= 0xc2;
    if (ok && n == 2) ok = !(c == 0xe0 && v[i + 1] < 0xa0) && !(c == 0xed && v[i + 1] >= 0xa0);
    if (ok && n == 3) ok = c <= 0xf4 && !(c == 0xf0 && v[i + 1] < 0x90) &&
                           !(c == 0xf4 && v[i + 1] >= 0x90);
    if (!ok) {
      pos_ = at;
      fail("invalid UTF-8 in UTF8String");
    }
    i += n + 1;
  }
  return std::string(as_string(v));
}

std::string Reader::read_oid() {
  const std::size_t at = pos_;
  Element e = read(kOid);
  try {
    return decode_oid(e.value);
  } catch (const Error& err) {
    pos_ = at;
    fail(std::string("bad OID: ") + err.what());
  }
}

ByteView Reader::read_integer_bytes() {
  const std::size_t at = pos_;
  Element e = read(kInteger);
  ByteView v = e.value;
  auto bad = [&](const char* what) {
    pos_ = at;
    fail(what);
  };
  if (v.empty()) bad("empty INTEGER");
  if (v.size() > 1 && ((v[0] == 0x00 && !(v[1] & 0x80)) || (v[0] == 0xff && (v[1] & 0x80)))) {
    bad("non-minimal INTEGER");
  }
  return v;
}

std::int64_t Reader::read_small_integer() {
  const std::size_t at = pos_;
  ByteView v = read_integer_bytes();
  if (v.size() > 8) {
    pos_ = at;
    fail("INTEGER does not fit 64 bits");
  }
  std::uint64_t u = (v[0] & 0x80) ? ~std::uint64_t{0} : 0;
  for (std::uint8_t b : v) u = (u << 8) | b;
  return static_cast<std::int64_t>(u);
}

bool Reader::read_boolean() {
  const std::size_t at = pos_;
  Element e = read(kBoolean);
  if (e.value.size() != 1 || (e.value[0] != 0x00 && e.value[0] != 0xff)) {
    pos_ = at;
    fail("BOOLEAN must be one byte 0x00 or 0xff");
  }
  return e.value[0] == 0xff;
}

std::optional<Element> Reader::read_optional(std::uint8_t tag) {
  if (empty() || data_[pos_] != tag) return std::nullopt;
  return read_any();
}

void Reader::expect_end() const {
  if (!empty()) fail(std::to_string(remaining()) + " unexpected trailing bytes");
}

Element parse_single(ByteView input) {
  Reader r(input);
  Element e = r.read_any();
  r.expect_end();
  return e;
}

// ---- Writer ----

Bytes encode_length(std::size_t len) {
  if (len < 0x80) return Bytes{static_cast<std::uint8_t>(len)};
  Bytes tmp;
  while (len) {
    tmp.insert(tmp.begin(), static_cast<std::uint8_t>(len & 0xff));
    len >>= 8;
  }
  tmp.insert(tmp.begin(), static_cast<std::uint8_t>(0x80 | tmp.size()));
  return tmp;
}

Writer& Writer::add(std::uint8_t tag, ByteView content) {
  out_.push_back(tag);
  Bytes l = encode_length(content.size());
  out_.insert(out_.end(), l.begin(), l.end());
  out_.insert(out_.end(), content.begin(), content.end());
  return *this;
}

Writer& Writer::add_raw(ByteView encoded) {
  out_.insert(out_.end(), encoded.begin(), encoded.end());
  return *this;
}

Writer& Writer::add_oid(std::string_view dotted) { return add(kOid, encode_oid(dotted)); }

Writer& Writer::add_integer(std::int64_t v) {
  Bytes b;
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
  // Drop redundant sign bytes.
  std::size_t i = 0;
  while (i + 1 < b.size() && ((b[i] == 0x00 && !(b[i + 1] & 0x80)) ||
                              (b[i] == 0xff && (b[i + 1] & 0x80)))) {
    ++i;
  }
  return add(kInteger, ByteView(b).subspan(i));
}

Writer& Writer::add_unsigned_integer(ByteView big_endian) {
  std::size_t i = 0;
  while (i < big_endian.size() && big_endian[i] == 0) ++i;
  Bytes b;
  if (i == big_endian.size() || (big_endian[i] & 0x80)) b.push_back(0);
  b.insert(b.end(), big_endian.begin() + static_cast<std::ptrdiff_t>(i), big_endian.end());
  return add(kInteger, b);
}

Writer& Writer::add_boolean(bool v) {
  const std::uint8_t b = v ? 0xff : 0x00;
  return add(kBoolean, ByteView(&b, 1));
}

Writer& Writer::add_null() { return add(kNull, ByteView()); }

Bytes Writer::wrap(std::uint8_t tag) const {
  Writer w;
  w.add(tag, out_);
  return w.take();
}

// ---- OIDs ----

// Arcs are held in 128 bits: enough for every OID in use, including X.667 UUID arcs
// (2.25.<128-bit integer>) that this project mints; anything larger is rejected.
using Arc = unsigned __int128;
constexpr Arc kArcMax = ~Arc{0};

std::string arc_to_string(Arc v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v);
  return s;
}

Bytes encode_oid(std::string_view dotted) {
  std::vector<Arc> arcs;
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    Arc v = 0;
    while (j < dotted.size() && dotted[j] >= '0' && dotted[j] <= '9') {
      if (j > i && dotted[i] == '0') throw Error(ErrorKind::kInvalidInput, "der.oid", "leading zero in OID arc");
      const Arc d = static_cast<Arc>(dotted[j] - '0');
      if (v > (kArcMax - d) / 10) throw Error(ErrorKind::kInvalidInput, "der.oid", "OID arc too large");
      v = v * 10 + d;
      ++j;
    }
    if (j == i) throw Error(ErrorKind::kInvalidInput, "der.oid", "malformed OID \"" + std::string(dotted) + "\"");
    arcs.push_back(v);
    if (j == dotted.size()) break;
    if (dotted[j] != '.') throw Error(ErrorKind::kInvalidInput, "der.oid", "malformed OID \"" + std::string(dotted) + "\"");
    i = j + 1;
  }
  if (arcs.size() < 2) throw Error(ErrorKind::kInvalidInput, "der.oid", "OID needs at least two arcs");
  if (arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40))
    throw Error(ErrorKind::kInvalidInput, "der.oid", "invalid first OID arcs");
  if (arcs[1] > kArcMax - 80) throw Error(ErrorKind::kInvalidInput, "der.oid", "OID arc too large");
  Bytes out;
  auto put = [&](Arc v) {
    std::uint8_t tmp[19];  // ceil(128 / 7)
    int n = 0;
    do {
      tmp[n++] = static_cast<std::uint8_t>(v & 0x7f);
      v >>= 7;
    } while (v);
    while (n > 0) {
      --n;
      out.push_back(static_cast<std::uint8_t>(tmp[n] | (n ? 0x80 : 0)));
    }
  };
  put(arcs[0] * 40 + arcs[1]);
  for (std::size_t k = 2; k < arcs.size(); ++k) put(arcs[k]);
  return out;
}

std::string decode_oid(ByteView content) {
  if (content.empty()) throw Error(ErrorKind::kInvalidInput, "der.oid", "empty OID");
  if (content.back() & 0x80) throw Error(ErrorKind::kInvalidInput, "der.oid", "truncated OID sub-identifier");
  std::string out;
  std::size_t i = 0;
  bool first = true;
  while (i < content.size()) {
    if (content[i] == 0x80) throw Error(ErrorKind::kInvalidInput, "der.oid", "non-minimal OID sub-identifier");
    Arc v = 0;
    while (true) {
      if (v > (kArcMax >> 7)) throw Error(ErrorKind::kInvalidInput, "der.oid", "OID sub-identifier too large");
      const std::uint8_t b = content[i++];
      v = (v << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    if (first) {
      const Arc a = v < 40 ? 0 : v < 80 ? 1 : 2;
      out = arc_to_string(a) + "." + arc_to_string(v - a * 40);
      first = false;
    } else {
      out += "." + arc_to_string(v);
    }
  }
  return out;
}

}  // namespace enarx::der
