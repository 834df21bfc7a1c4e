// The shared JOSE primitives: what client/jws and drawbridge/auth rely on, tested once here.
#include "jose/jose.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/openssl.h"
#include "support/error_code.h"

namespace enarx {
namespace {

using support::error_code;

using jose::Alg;

KeyType key_type_for(Alg alg) { return jose::key_type(alg); }

// n - s and n / 2 with the group order n from OpenSSL, independently of jose's table.
struct CurveOrder {
  explicit CurveOrder(int nid) : group(EC_GROUP_new_by_curve_name(nid)) {}
  Bytes minus(ByteView s) const {
    ossl::BignumPtr bs(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr)), out(BN_new());
    BN_sub(out.get(), EC_GROUP_get0_order(group.get()), bs.get());
    return padded(out.get(), s.size());
  }
  Bytes half(std::size_t width) const {
    ossl::BignumPtr out(BN_new());
    BN_rshift1(out.get(), EC_GROUP_get0_order(group.get()));
    return padded(out.get(), width);
  }
  static Bytes padded(const BIGNUM* bn, std::size_t width) {
    Bytes out(width);
    BN_bn2binpad(bn, out.data(), static_cast<int>(width));
    return out;
  }
  ossl::Ptr<EC_GROUP, EC_GROUP_free> group;
};

TEST(Jose, AlgTable) {
  EXPECT_EQ(jose::parse_alg("ES256"), Alg::ES256);
  EXPECT_EQ(jose::parse_alg("ES384"), Alg::ES384);
  EXPECT_EQ(jose::parse_alg("RS256"), Alg::RS256);
  for (const char* refused : {"none", "HS256", "es256", "PS256", "ES512", ""}) EXPECT_FALSE(jose::parse_alg(refused)) << refused;
  EXPECT_EQ(jose::alg_for_key(KeyType::EcP256), Alg::ES256);
  EXPECT_EQ(jose::alg_for_key(KeyType::EcP384), Alg::ES384);
  EXPECT_EQ(jose::alg_for_key(KeyType::Rsa), Alg::RS256);
  EXPECT_FALSE(jose::alg_for_key(KeyType::Ed25519));
  EXPECT_EQ(jose::ec_component_size(Alg::ES256), 32u);
  EXPECT_EQ(jose::ec_component_size(Alg::ES384), 48u);
  EXPECT_EQ(jose::ec_component_size(Alg::RS256), 0u);
}

TEST(Jose, Base64urlCanonicalOnlyWhenAsked) {
  // "AQ" is the one spelling of the byte 0x01; "AQ==" pads it, "AR" sets a trailing bit.
  EXPECT_EQ(jose::decode_base64url("AQ"), Bytes{0x01});
  EXPECT_EQ(error_code([] { jose::decode_base64url("AQ=="); }), "jose.malformed");
  EXPECT_EQ(jose::decode_base64url("AQ==", {}, jose::Base64url::kPaddingAllowed), Bytes{0x01});
  EXPECT_EQ(error_code([] { jose::decode_base64url("AR"); }), "jose.malformed");
  EXPECT_EQ(error_code([] { jose::decode_base64url("AR", {}, jose::Base64url::kPaddingAllowed); }), "jose.malformed");
  // Standard base64's alphabet is not base64url's.
  EXPECT_EQ(error_code([] { jose::decode_base64url("+/8"); }), "jose.malformed");
  EXPECT_EQ(jose::decode_base64url("-_8"), (Bytes{0xfb, 0xff}));
  EXPECT_EQ(error_code([] { jose::decode_base64url("A"); }), "jose.malformed");
  EXPECT_TRUE(jose::decode_base64url("").empty());
}

TEST(Jose, CallerCodesAndKind) {
  constexpr jose::Codes codes{ErrorKind::kUnauthenticated, "x.bad", "x.unsupported", "token: "};
  try {
    jose::decode_base64url("AQ==", codes);
    FAIL() << "accepted padding";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "x.bad");
    EXPECT_EQ(e.kind(), ErrorKind::kUnauthenticated);
    EXPECT_EQ(std::string(e.what()).rfind("token: ", 0), 0u) << e.what();
  }
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(nlohmann::json{{"kty", "OKP"}}, codes); }), "x.unsupported");
}

TEST(Jose, JwkRoundTripEveryKeyType) {
  for (KeyType t : {KeyType::EcP256, KeyType::EcP384, KeyType::Rsa}) {
    PublicKey pub = PrivateKey::generate(t).public_key();
    auto jwk = jose::jwk_from_key(pub);
    EXPECT_TRUE(jose::key_from_jwk(jwk) == pub) << to_string(t);
    if (t == KeyType::Rsa) {
      EXPECT_EQ(jwk["kty"], "RSA");
      EXPECT_EQ(jwk["e"], "AQAB");
      EXPECT_EQ(jwk.size(), 3u);
    } else {
      EXPECT_EQ(jwk["kty"], "EC");
      EXPECT_EQ(jwk["crv"], t == KeyType::EcP256 ? "P-256" : "P-384");
      std::size_t width = t == KeyType::EcP256 ? 32 : 48;
      // Fixed width, even when a coordinate has leading zero bytes.
      EXPECT_EQ(from_base64url(jwk["x"].get<std::string>()).size(), width);
      EXPECT_EQ(from_base64url(jwk["y"].get<std::string>()).size(), width);
      // RFC 7638 thumbprint input: exactly these members, in lexicographic order.
      EXPECT_EQ(jwk.dump().rfind("{\"crv\":", 0), 0u);
      EXPECT_EQ(jwk.size(), 4u);
    }
  }
  EXPECT_EQ(error_code([] { jose::jwk_from_key(PrivateKey::generate(KeyType::Ed25519).public_key()); }),
            "jose.unsupported");
}

TEST(Jose, JwkRejections) {
  PublicKey p256 = PrivateKey::generate(KeyType::EcP256).public_key();
  auto good = jose::jwk_from_key(p256);
  auto with = [&](const char* member, nlohmann::json value) {
    auto j = good;
    j[member] = std::move(value);
    return j;
  };
  auto without = [&](const char* member) {
    auto j = good;
    j.erase(member);
    return j;
  };
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(nlohmann::json::array()); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(without("kty")); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(without("x")); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(with("x", 5)); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(with("kty", "oct")); }), "jose.unsupported");
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(with("crv", "P-521")); }), "jose.unsupported");
  // P-256 coordinates under the P-384 name: the wrong width.
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(with("crv", "P-384")); }), "jose.malformed");
  // A point that is not on the curve.
  auto x = from_base64url(good["x"].get<std::string>());
  x[31] ^= 1;
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(with("x", to_base64url(x))); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::key_from_jwk(with("x", "!!")); }), "jose.malformed");
  EXPECT_EQ(error_code([] { jose::key_from_jwk(nlohmann::json{{"kty", "RSA"}, {"n", ""}, {"e", "AQAB"}}); }),
            "jose.malformed");
  // Coordinates with base64url padding decode to the same key (stored JWKs may carry it).
  auto padded = with("x", good["x"].get<std::string>() + "=");
  EXPECT_TRUE(jose::key_from_jwk(padded) == p256);
}

TEST(Jose, SignVerifyRoundTripAndWrongKey) {
  for (Alg alg : {Alg::ES256, Alg::ES384, Alg::RS256}) {
    PrivateKey key = PrivateKey::generate(key_type_for(alg));
    PrivateKey other = PrivateKey::generate(key_type_for(alg));
    std::string input = jose::signing_input("eyJhbGciOiJFUzI1NiJ9", "e30");
    Bytes sig = jose::sign(alg, key, input);
    if (alg != Alg::RS256) {
      EXPECT_EQ(sig.size(), 2 * jose::ec_component_size(alg));
    }
    EXPECT_TRUE(jose::verify(alg, key.public_key(), input, sig));
    EXPECT_FALSE(jose::verify(alg, other.public_key(), input, sig)) << "another key of the same type";
    EXPECT_FALSE(jose::verify(alg, key.public_key(), input + "x", sig)) << "other bytes";
    Bytes flipped = sig;
    flipped[flipped.size() / 3] ^= 0x10;
    EXPECT_FALSE(jose::verify(alg, key.public_key(), input, flipped));
    EXPECT_FALSE(jose::verify(alg, key.public_key(), input, ByteView(sig).first(sig.size() - 1))) << "short";
    EXPECT_FALSE(jose::verify(alg, PublicKey(), input, sig)) << "no key";
  }
  // A key of another type never verifies, and never signs.
  PrivateKey p384 = PrivateKey::generate(KeyType::EcP384);
  Bytes sig384 = jose::sign(Alg::ES384, p384, "x");
  EXPECT_FALSE(jose::verify(Alg::ES256, p384.public_key(), "x", sig384));
  EXPECT_EQ(error_code([&] { jose::sign(Alg::ES256, p384, "x"); }), "jose.key_mismatch");
  EXPECT_EQ(error_code([&] { jose::sign(Alg::RS256, p384, "x"); }), "jose.key_mismatch");
}

// Signatures are low-S; a verifier that requires low-S refuses (r, n - s), one that does not
// takes it (signed tags).
TEST(Jose, LowSSignedAndHighSRefusedWhenRequired) {
  for (auto [alg, nid] : {std::pair{Alg::ES256, NID_X9_62_prime256v1}, std::pair{Alg::ES384, NID_secp384r1}}) {
    std::size_t w = jose::ec_component_size(alg);
    const CurveOrder order(nid);
    const Bytes half = order.half(w);
    PrivateKey key = PrivateKey::generate(key_type_for(alg));
    for (int i = 0; i < 24; ++i) {
      std::string input = "message " + std::to_string(i);
      Bytes sig = jose::sign(alg, key, input);
      ByteView s = ByteView(sig).last(w);
      ASSERT_LE(std::memcmp(s.data(), half.data(), w), 0) << "signature " << i << " is high-S";
      Bytes high = sig;
      Bytes neg = order.minus(s);
      std::copy(neg.begin(), neg.end(), high.begin() + static_cast<std::ptrdiff_t>(w));
      EXPECT_FALSE(jose::verify(alg, key.public_key(), input, high, jose::LowS::kRequired));
      EXPECT_TRUE(jose::verify(alg, key.public_key(), input, high, jose::LowS::kOptional));
      EXPECT_TRUE(jose::verify(alg, key.public_key(), input, sig, jose::LowS::kRequired));
    }
  }
}

TEST(Jose, DerJoseConversionBounds) {
  PrivateKey key = PrivateKey::generate(KeyType::EcP256);
  Bytes der = key.sign(DigestAlgorithm::Sha256, as_bytes("x"));
  Bytes raw = jose::ecdsa_der_to_jose(Alg::ES256, der);
  ASSERT_EQ(raw.size(), 64u);
  EXPECT_TRUE(key.public_key().verify(DigestAlgorithm::Sha256, as_bytes("x"), jose::ecdsa_jose_to_der(Alg::ES256, raw)));
  // Small r and s are left-padded to the full width, and come back as the same integers.
  Bytes small_der = ecdsa_raw_to_der(Bytes{0x01}, Bytes{0x02});
  Bytes small = jose::ecdsa_der_to_jose(Alg::ES384, small_der);
  ASSERT_EQ(small.size(), 96u);
  EXPECT_EQ(small[47], 0x01);
  EXPECT_EQ(small[95], 0x02);
  EXPECT_TRUE(std::all_of(small.begin(), small.begin() + 47, [](auto b) { return b == 0; }));
  EXPECT_EQ(jose::ecdsa_jose_to_der(Alg::ES384, small), small_der);
  // A P-384-sized component does not fit ES256.
  Bytes wide_der = ecdsa_raw_to_der(Bytes(48, 0x7f), Bytes{0x01});
  EXPECT_EQ(error_code([&] { jose::ecdsa_der_to_jose(Alg::ES256, wide_der); }), "jose.malformed");
  // The raw form is exactly twice the width.
  EXPECT_EQ(error_code([&] { jose::ecdsa_jose_to_der(Alg::ES256, ByteView(raw).first(63)); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::ecdsa_jose_to_der(Alg::ES256, Bytes(65, 1)); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::ecdsa_jose_to_der(Alg::ES256, Bytes{}); }), "jose.malformed");
  // Not DER, or DER with trailing bytes.
  EXPECT_EQ(error_code([] { jose::ecdsa_der_to_jose(Alg::ES256, Bytes{0x30, 0x01}); }), "jose.malformed");
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(error_code([&] { jose::ecdsa_der_to_jose(Alg::ES256, trailing); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::ecdsa_der_to_jose(Alg::RS256, der); }), "jose.unsupported");
}

TEST(Jose, CompactSplitJoinAndJwtDecode) {
  auto c = jose::split_compact("aGVhZGVy.cGF5bG9hZA.c2ln");
  EXPECT_EQ(c.protected_b64, "aGVhZGVy");
  EXPECT_EQ(c.payload_b64, "cGF5bG9hZA");
  EXPECT_EQ(c.signature_b64, "c2ln");
  EXPECT_EQ(c.signing_input, "aGVhZGVy.cGF5bG9hZA");
  EXPECT_EQ(jose::join_compact(c.signing_input, as_bytes("sig")), "aGVhZGVy.cGF5bG9hZA.c2ln");
  auto empty = jose::split_compact("..");
  EXPECT_TRUE(empty.protected_b64.empty() && empty.payload_b64.empty() && empty.signature_b64.empty());
  for (const char* bad : {"", "a", "a.b", "a.b.c.d", "a.b.c.", "....."})
    EXPECT_EQ(error_code([&] { jose::split_compact(bad); }), "jose.malformed") << bad;

  for (Alg alg : {Alg::ES256, Alg::RS256}) {
    PrivateKey key = PrivateKey::generate(key_type_for(alg));
    nlohmann::json claims = {{"sub", "alice"}, {"iat", 1}};
    std::string jwt = jose::sign_compact(alg, key, {{"kid", "k1"}, {"typ", "JWT"}}, as_bytes(claims.dump()));
    auto decoded = jose::decode_jwt(jwt);
    EXPECT_EQ(decoded.header, (nlohmann::json{{"alg", std::string(jose::alg_name(alg))}, {"kid", "k1"}, {"typ", "JWT"}}));
    EXPECT_EQ(decoded.claims, claims);
    EXPECT_EQ(decoded.signing_input, std::string_view(jwt).substr(0, jwt.rfind('.')));
    EXPECT_TRUE(jose::verify(alg, key.public_key(), decoded.signing_input, decoded.signature));
    // Any part padded is another spelling of the same token.
    auto dot = jwt.rfind('.');
    std::string sig_part = jwt.substr(dot + 1);
    if (sig_part.size() % 4 != 0) {
      EXPECT_EQ(error_code([&] { jose::decode_jwt(jwt + std::string(4 - sig_part.size() % 4, '=')); }), "jose.malformed");
    }
  }
  auto b64 = [](std::string_view s) { return to_base64url(as_bytes(s)); };
  EXPECT_EQ(error_code([&] { jose::decode_jwt(b64("[]") + "." + b64("{}") + "."); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::decode_jwt(b64("{}") + "." + b64("not json") + "."); }), "jose.malformed");
  EXPECT_EQ(error_code([&] { jose::decode_jwt(b64("{}") + "." + b64("{}") + ".!"); }), "jose.malformed");
  EXPECT_NO_THROW(jose::decode_jwt(b64("{}") + "." + b64("{}") + "."));
}

}  // namespace
}  // namespace enarx
