#include "core/content_digest.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace enarx {
namespace {

constexpr const char* kFoo256 = "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=";

std::string code_of(std::string_view header) {
  try {
    ContentDigest::parse_header(header);
  } catch (const Error& e) {
    return e.code();
  }
  return "<no error>";
}

TEST(ContentDigest, KnownVectorFoo) {
  ContentDigest d = ContentDigest::compute(as_bytes("foo"), {DigestAlgorithm::Sha256});
  EXPECT_EQ(d.to_header(), std::string("sha-256=:") + kFoo256 + ":");
  EXPECT_EQ(d.to_map().at("sha-256"), kFoo256);
  EXPECT_EQ(ContentDigest::parse_header(d.to_header()), d);
}

TEST(ContentDigest, AllAlgorithmsSortedAndRoundTrip) {
  ContentDigest d = ContentDigest::compute(as_bytes("foo"));
  const std::string h = d.to_header();
  const auto p224 = h.find("sha-224="), p256 = h.find("sha-256="), p384 = h.find("sha-384="),
             p512 = h.find("sha-512=");
  ASSERT_NE(p512, std::string::npos);
  EXPECT_EQ(p224, 0u);
  EXPECT_LT(p224, p256);
  EXPECT_LT(p256, p384);
  EXPECT_LT(p384, p512);
  EXPECT_EQ(h.find(' '), std::string::npos);
  EXPECT_EQ(ContentDigest::parse_header(h), d);
  EXPECT_EQ(ContentDigest::from_map(d.to_map()), d);
  EXPECT_EQ(d.to_map().size(), 4u);
}

TEST(ContentDigest, ParsesVariants) {
  const std::string v256 = std::string(":") + kFoo256 + ":";
  // Case-insensitive names, OWS around members, unknown algorithms ignored, merged instances.
  ContentDigest d = ContentDigest::parse_header(" SHA-256=" + v256 + " ,\tmd5=:AAAA:, unixsum=12");
  EXPECT_EQ(d.values().size(), 1u);
  EXPECT_EQ(to_base64(*d.get(DigestAlgorithm::Sha256)), kFoo256);
  ContentDigest all = ContentDigest::compute(as_bytes("foo"));
  const std::string b384 = all.to_map().at("sha-384");
  ContentDigest two = ContentDigest::parse_header("sha-384=:" + b384 + ":,sha-256=" + v256);
  EXPECT_EQ(two.values().size(), 2u);
  EXPECT_TRUE(two.matches(all));
  EXPECT_EQ(two.to_header(), "sha-256=" + v256 + ",sha-384=:" + b384 + ":");
}

TEST(ContentDigest, RejectsMalformed) {
  const std::string b = kFoo256;
  EXPECT_EQ(code_of(""), "digest.header_empty");
  EXPECT_EQ(code_of("   "), "digest.header_empty");
  EXPECT_EQ(code_of("md5=:AAAA:"), "digest.header_empty");
  EXPECT_EQ(code_of("md5=:AAAA:, crc32c=:AAAAAA==:"), "digest.header_empty");
  EXPECT_EQ(code_of("sha-256=" + b), "digest.header_malformed");           // no colons
  EXPECT_EQ(code_of("sha-256=:" + b), "digest.header_malformed");          // missing closing
  EXPECT_EQ(code_of("sha-256=" + b + ":"), "digest.header_malformed");     // missing opening
  EXPECT_EQ(code_of("sha-256=:LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564:"),
            "digest.header_malformed");  // unpadded
  EXPECT_EQ(code_of("sha-256=:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564=:"),
            "digest.header_malformed");  // base64url alphabet
  EXPECT_EQ(code_of("sha-256=:Zm9v:"), "digest.header_malformed");  // wrong length
  EXPECT_EQ(code_of("sha-512=:" + b + ":"), "digest.header_malformed");  // 32 bytes for sha-512
  EXPECT_EQ(code_of("sha-256=:" + b + ":,sha-256=:" + b + ":"), "digest.header_malformed");
  EXPECT_EQ(code_of("sha-256=:" + b + ":,SHA-256=:" + b + ":"), "digest.header_malformed");
  EXPECT_EQ(code_of("sha-256=:" + b + ":,"), "digest.header_malformed");   // trailing comma
  EXPECT_EQ(code_of(",sha-256=:" + b + ":"), "digest.header_malformed");
  EXPECT_EQ(code_of("sha-256 =:" + b + ":"), "digest.header_malformed");  // space before '='
  EXPECT_EQ(code_of("sha-256= :" + b + ":"), "digest.header_malformed");  // space after '='
  EXPECT_EQ(code_of("sha-256=: " + b + ":"), "digest.header_malformed");  // space inside
  EXPECT_EQ(code_of("sha-256=:" + b + ":;param=1"), "digest.header_malformed");
  EXPECT_EQ(code_of("=:" + b + ":"), "digest.header_malformed");
  EXPECT_EQ(code_of("sha-256"), "digest.header_malformed");
  EXPECT_EQ(code_of("sha-256=::"), "digest.header_malformed");
  EXPECT_EQ(code_of("sha-256=:" + b + "::"), "digest.header_malformed");
  EXPECT_EQ(code_of("md5="), "digest.header_malformed");
}

TEST(ContentDigest, FromMap) {
  ContentDigest d = ContentDigest::from_map({{"SHA-256", kFoo256}, {"blake3", "whatever"}});
  EXPECT_EQ(d.values().size(), 1u);
  try {
    ContentDigest::from_map({{"sha-256", "Zm9v"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "digest.object_malformed");
  }
  try {
    ContentDigest::from_map({{"sha-256", kFoo256}, {"Sha-256", kFoo256}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "digest.object_malformed");
  }
  EXPECT_TRUE(ContentDigest::from_map({}).empty());
}

TEST(ContentDigest, Names) {
  EXPECT_EQ(digest_name(DigestAlgorithm::Sha224), "sha-224");
  EXPECT_EQ(digest_from_name("ShA-512"), DigestAlgorithm::Sha512);
  EXPECT_FALSE(digest_from_name("sha256").has_value());
  EXPECT_FALSE(digest_from_name("").has_value());
}

TEST(ContentDigest, Matches) {
  ContentDigest foo = ContentDigest::compute(as_bytes("foo"));
  ContentDigest foo256 = ContentDigest::compute(as_bytes("foo"), {DigestAlgorithm::Sha256});
  ContentDigest bar512 = ContentDigest::compute(as_bytes("bar"), {DigestAlgorithm::Sha512});
  ContentDigest foo512 = ContentDigest::compute(as_bytes("foo"), {DigestAlgorithm::Sha512});
  EXPECT_TRUE(foo.matches(foo256));
  EXPECT_FALSE(foo.matches(bar512));
  EXPECT_FALSE(foo256.matches(foo512));  // nothing shared
  EXPECT_FALSE(ContentDigest().matches(foo));
  ContentDigest mixed = foo256;
  mixed.set(DigestAlgorithm::Sha512, *bar512.get(DigestAlgorithm::Sha512));
  EXPECT_FALSE(foo.matches(mixed));
  EXPECT_THROW(mixed.set(DigestAlgorithm::Sha224, Bytes(3)), Error);
}

TEST(DigestVerifier, Streams) {
  ContentDigest expected = ContentDigest::parse_header(std::string("sha-256=:") + kFoo256 + ":");
  DigestVerifier v(expected);
  v.update(as_bytes("f"));
  v.update(as_bytes("oo"));
  EXPECT_EQ(v.bytes_seen(), 3u);
  EXPECT_NO_THROW(v.verify());

  DigestVerifier bad(expected);
  bad.update(as_bytes("fooo"));
  try {
    bad.verify();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "digest.mismatch");
  }

  DigestVerifier all(ContentDigest::all_algorithms());
  all.update(as_bytes("foo"));
  EXPECT_EQ(all.finish(), ContentDigest::compute(as_bytes("foo")));

  DigestVerifier nothing(std::vector<DigestAlgorithm>{DigestAlgorithm::Sha256});
  EXPECT_THROW(nothing.verify(), Error);  // no expectation given

  // Large streamed body equals one-shot.
  Bytes big(1 << 20, 0x5a);
  DigestVerifier chunks(ContentDigest::compute(big));
  for (std::size_t i = 0; i < big.size(); i += 4096) chunks.update(ByteView(big).subspan(i, 4096));
  EXPECT_NO_THROW(chunks.verify());
}

}  // namespace
}  // namespace enarx
