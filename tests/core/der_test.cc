#include "core/der.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace enarx::der {
namespace {

std::string message_of(ByteView input, void (*f)(ByteView)) {
  try {
    f(input);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "der.malformed") << e.what();
    return e.what();
  }
  return "<no error>";
}

void read_all(ByteView in) {
  Reader r(in);
  while (!r.empty()) r.read_any();
}

TEST(DerReader, ReadsNestedStructure) {
  // SEQUENCE { INTEGER 5, OCTET STRING 'ab', SEQUENCE { OID 1.2.840.113549, BOOLEAN true }, NULL }
  Bytes in = from_hex("301502010504026162300b" "06062a864886f70d" "0101ff" "0500");
  in[1] = static_cast<std::uint8_t>(in.size() - 2);
  Reader top(in);
  Reader seq = top.read_sequence();
  top.expect_end();
  EXPECT_EQ(seq.read_small_integer(), 5);
  EXPECT_EQ(as_string(seq.read_octet_string()), "ab");
  Reader inner = seq.read_sequence();
  EXPECT_EQ(inner.read_oid(), "1.2.840.113549");
  EXPECT_TRUE(inner.read_boolean());
  inner.expect_end();
  EXPECT_FALSE(seq.read_optional(kInteger).has_value());
  auto null = seq.read_optional(kNull);
  ASSERT_TRUE(null.has_value());
  EXPECT_EQ(null->whole.size(), 2u);
  seq.expect_end();
}

TEST(DerReader, OffsetsInErrors) {
  // The inner element at absolute offset 2 has a length running past its parent.
  Bytes in = from_hex("3003040501");
  Reader top(in);
  Reader seq = top.read_sequence();
  // parent length 3 claims 3 bytes but only 3 present: 04 05 01 -> inner claims 5
  try {
    seq.read_any();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "der.malformed");
    EXPECT_NE(std::string(e.what()).find("at offset 2"), std::string::npos) << e.what();
  }
}

TEST(DerReader, RejectsNonDer) {
  EXPECT_NE(message_of(from_hex("30"), read_all).find("truncated"), std::string::npos);
  EXPECT_NE(message_of(from_hex("3080"), read_all).find("indefinite"), std::string::npos);
  EXPECT_NE(message_of(from_hex("04810101"), read_all).find("non-minimal"), std::string::npos);
  EXPECT_NE(message_of(from_hex("0482000101"), read_all).find("non-minimal"), std::string::npos);
  EXPECT_NE(message_of(from_hex("0485ffffffffff"), read_all).find("too large"), std::string::npos);
  EXPECT_NE(message_of(from_hex("1f0100"), read_all).find("multi-byte tag"), std::string::npos);
  EXPECT_NE(message_of(from_hex("0484ffffffff00"), read_all).find("exceeds"), std::string::npos);
  EXPECT_NE(message_of(from_hex("0482"), read_all).find("truncated"), std::string::npos);
  message_of(from_hex("04ff"), read_all);
}

TEST(DerReader, StrictPrimitives) {
  auto boolean = [](ByteView in) { Reader(in).read_boolean(); };
  message_of(from_hex("010101"), boolean);  // BER true
  message_of(from_hex("01020000"), boolean);
  auto integer = [](ByteView in) { Reader(in).read_integer_bytes(); };
  message_of(from_hex("0200"), integer);
  message_of(from_hex("02020001"), integer);  // redundant zero
  message_of(from_hex("0202ff80"), integer);  // redundant ff
  auto small = [](ByteView in) { Reader(in).read_small_integer(); };
  message_of(from_hex("0209010000000000000000"), small);
  EXPECT_EQ(Reader(from_hex("0201ff")).read_small_integer(), -1);
  EXPECT_EQ(Reader(from_hex("02020080")).read_small_integer(), 128);
  EXPECT_EQ(Reader(from_hex("02088000000000000000")).read_small_integer(), INT64_MIN);
  auto oid = [](ByteView in) { Reader(in).read_oid(); };
  message_of(from_hex("0600"), oid);
  message_of(from_hex("06022a86"), oid);    // truncated sub-identifier
  message_of(from_hex("06032a8001"), oid);  // non-minimal 0x80 lead
  auto utf8 = [](ByteView in) { Reader(in).read_utf8_string(); };
  message_of(from_hex("0c02c0af"), utf8);  // overlong
  message_of(from_hex("0c01ff"), utf8);
  message_of(from_hex("0c03eda080"), utf8);  // surrogate
  message_of(from_hex("0c02e282"), utf8);    // truncated
  EXPECT_EQ(Reader(from_hex("0c03e282ac")).read_utf8_string(), "\xe2\x82\xac");
  auto wrong_tag = [](ByteView in) { Reader(in).read(kSequence); };
  EXPECT_NE(message_of(from_hex("0400"), wrong_tag).find("expected tag 0x30"), std::string::npos);
  auto on_empty = [](ByteView in) { Reader(in).read(kSequence); };
  EXPECT_NE(message_of({}, on_empty).find("end of input"), std::string::npos);
  auto constructed = [](ByteView in) { Reader(in).read_constructed(kOctetString); };
  message_of(from_hex("0400"), constructed);
}

TEST(DerReader, ParseSingleRejectsTrailingBytes) {
  EXPECT_EQ(parse_single(from_hex("0500")).tag, kNull);
  auto single = [](ByteView in) { parse_single(in); };
  EXPECT_NE(message_of(from_hex("050000"), single).find("trailing"), std::string::npos);
  message_of({}, single);
}

TEST(DerReader, LongLengths) {
  Bytes content(300, 0xaa);
  Writer w;
  w.add_octet_string(content);
  EXPECT_EQ(to_hex(ByteView(w.bytes()).first(4)), "0482012c");
  Element e = parse_single(w.bytes());
  EXPECT_EQ(e.value.size(), 300u);
  EXPECT_EQ(e.whole.size(), 304u);
}

TEST(DerWriter, Encodings) {
  EXPECT_EQ(to_hex(Writer().add_integer(0).bytes()), "020100");
  EXPECT_EQ(to_hex(Writer().add_integer(127).bytes()), "02017f");
  EXPECT_EQ(to_hex(Writer().add_integer(128).bytes()), "02020080");
  EXPECT_EQ(to_hex(Writer().add_integer(-1).bytes()), "0201ff");
  EXPECT_EQ(to_hex(Writer().add_integer(-129).bytes()), "0202ff7f");
  EXPECT_EQ(to_hex(Writer().add_unsigned_integer(from_hex("0080")).bytes()), "02020080");
  EXPECT_EQ(to_hex(Writer().add_unsigned_integer(from_hex("ff")).bytes()), "020200ff");
  EXPECT_EQ(to_hex(Writer().add_unsigned_integer({}).bytes()), "020100");
  EXPECT_EQ(to_hex(Writer().add_boolean(true).add_boolean(false).bytes()), "0101ff010100");
  EXPECT_EQ(to_hex(Writer().add_null().bytes()), "0500");
  EXPECT_EQ(to_hex(Writer().add_utf8_string("hi").wrap(kSequence)), "30040c026869");
  EXPECT_EQ(to_hex(encode_length(0x7f)), "7f");
  EXPECT_EQ(to_hex(encode_length(0x80)), "8180");
  EXPECT_EQ(to_hex(encode_length(0x10000)), "83010000");
  Writer inner;
  inner.add_integer(1);
  Writer outer;
  outer.add_sequence(inner).add_set(inner).add(context(0, true), inner.bytes());
  EXPECT_EQ(to_hex(outer.bytes()), "3003020101" "3103020101" "a003020101");
  // Round trip through the reader.
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{255},
                         std::int64_t{-256}, INT64_MAX, INT64_MIN}) {
    EXPECT_EQ(Reader(Writer().add_integer(v).bytes()).read_small_integer(), v);
  }
}

TEST(DerOid, EncodeDecode) {
  EXPECT_EQ(to_hex(encode_oid("1.2.840.113549.1.1.11")), "2a864886f70d01010b");
  EXPECT_EQ(decode_oid(from_hex("2a864886f70d01010b")), "1.2.840.113549.1.1.11");
  EXPECT_EQ(to_hex(encode_oid("1.3.6.1.4.1.58270.1.3")), "2b0601040183c71e0103");
  EXPECT_EQ(decode_oid(encode_oid("1.3.6.1.4.1.58270.1.3")), "1.3.6.1.4.1.58270.1.3");
  EXPECT_EQ(decode_oid(encode_oid("2.999.3")), "2.999.3");
  EXPECT_EQ(decode_oid(encode_oid("0.0")), "0.0");
  EXPECT_EQ(decode_oid(encode_oid("2.5.29.17")), "2.5.29.17");
  EXPECT_EQ(decode_oid(encode_oid("1.2.18446744073709551615")), "1.2.18446744073709551615");
  // X.667 UUID arcs (128-bit), as the project's own OIDs use.
  EXPECT_EQ(decode_oid(encode_oid("2.25.84546494608837276188556021380741189428")),
            "2.25.84546494608837276188556021380741189428");
  EXPECT_EQ(decode_oid(encode_oid("2.25.340282366920938463463374607431768211455")),
            "2.25.340282366920938463463374607431768211455");
  for (const char* bad : {"", "1", "1.", ".1", "1..2", "3.1", "1.40", "a.b", "1.2.3x",
                          "1.02", "1.2.340282366920938463463374607431768211456"}) {
    try {
      encode_oid(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), "der.oid") << bad;
    }
  }
  for (const char* bad : {"", "2a86", "2a8001", "ffffffffffffffffffffffffffffffffffffff7f"}) {
    EXPECT_THROW(decode_oid(from_hex(bad)), Error) << bad;
  }
  EXPECT_EQ(to_hex(Writer().add_oid("2.5.29.17").bytes()), "0603551d11");
}

}  // namespace
}  // namespace enarx::der
