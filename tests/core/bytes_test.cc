#include "core/bytes.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace enarx {
namespace {

TEST(Hex, RoundTrip) {
  Bytes b{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "0001abff");
  EXPECT_EQ(from_hex("0001ABff"), b);
}

TEST(Hex, RejectsMalformed) {
  EXPECT_THROW(from_hex("abc"), Error);
  EXPECT_THROW(from_hex("zz"), Error);
  try {
    from_hex("0g");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "encoding.hex");
  }
}

TEST(Base64, KnownVectors) {
  // RFC 4648 §10.
  EXPECT_EQ(to_base64(as_bytes("")), "");
  EXPECT_EQ(to_base64(as_bytes("f")), "Zg==");
  EXPECT_EQ(to_base64(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(to_base64(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(to_base64(as_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(as_string(from_base64("Zm9vYg==")), "foob");
  EXPECT_EQ(to_base64url(Bytes{0xfb, 0xff}), "-_8");
  EXPECT_EQ(from_base64url("-_8"), (Bytes{0xfb, 0xff}));
}

TEST(Base64, RejectsMalformed) {
  EXPECT_THROW(from_base64("Zm9"), Error);     // missing padding
  EXPECT_THROW(from_base64("Zm9v!A=="), Error);  // bad character
  EXPECT_THROW(from_base64("Zh=="), Error);    // non-canonical trailing bits
  EXPECT_THROW(from_base64url("A"), Error);    // impossible length
}

TEST(ConstantTime, Compares) {
  EXPECT_TRUE(constant_time_equal(Bytes{1, 2}, Bytes{1, 2}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2}, Bytes{1, 3}));
  EXPECT_FALSE(constant_time_equal(Bytes{1}, Bytes{1, 2}));
}

}  // namespace
}  // namespace enarx
