#include "jose/jws.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "support/error_code.h"

namespace enarx {
namespace {

using support::error_code;

TEST(Jws, SignVerifyRoundTripBothCurves) {
  for (KeyType t : {KeyType::EcP256, KeyType::EcP384}) {
    PrivateKey key = PrivateKey::generate(t);
    std::string payload = R"({"digest":{"sha-256":"x"},"length":3,"type":"a"})";
    std::string jws_text = jws::sign(as_bytes(payload), key, "application/vnd.drawbridge.entry.v1+json");
    auto v = jws::verify(jws_text);
    EXPECT_EQ(as_string(v.payload), payload);
    EXPECT_EQ(v.algorithm, t == KeyType::EcP256 ? "ES256" : "ES384");
    EXPECT_EQ(v.signer_fingerprint, jws::key_fingerprint(key.public_key()));
    PublicKey pub = key.public_key();
    EXPECT_NO_THROW(jws::verify(jws_text, &pub));
  }
}

TEST(Jws, RejectsTamperingAndWrongSigner) {
  PrivateKey key = PrivateKey::generate(KeyType::EcP384);
  auto doc = nlohmann::json::parse(jws::sign(as_bytes("hello"), key));
  auto tampered = doc;
  tampered["payload"] = to_base64url(as_bytes("hellO"));
  EXPECT_EQ(error_code([&] { jws::verify(tampered.dump()); }), "jws.bad_signature");

  auto bad_sig = doc;
  std::string s = bad_sig["signatures"][0]["signature"];
  s[5] = s[5] == 'A' ? 'B' : 'A';
  bad_sig["signatures"][0]["signature"] = s;
  EXPECT_EQ(error_code([&] { jws::verify(bad_sig.dump()); }), "jws.bad_signature");

  PublicKey other = PrivateKey::generate(KeyType::EcP384).public_key();
  EXPECT_EQ(error_code([&] { jws::verify(doc.dump(), &other); }), "jws.wrong_signer");
}

// Steward's registry check accepts a tag when any signature is the expected signer's, so every
// signature's key is listed — and every signature must still verify.
TEST(Jws, EverySignersFingerprintIsListed) {
  PrivateKey first = PrivateKey::generate(KeyType::EcP256);
  PrivateKey second = PrivateKey::generate(KeyType::EcP384);
  auto doc = nlohmann::json::parse(jws::sign(as_bytes("entry"), first));
  doc["signatures"].push_back(nlohmann::json::parse(jws::sign(as_bytes("entry"), second))["signatures"][0]);
  auto v = jws::verify(doc.dump());
  EXPECT_EQ(v.signer_fingerprints, (std::vector<std::string>{jws::key_fingerprint(first.public_key()),
                                                              jws::key_fingerprint(second.public_key())}));
  EXPECT_EQ(v.signer_fingerprint, jws::key_fingerprint(first.public_key()));

  // A second signature over other bytes spoils the whole JWS.
  doc["signatures"][1] = nlohmann::json::parse(jws::sign(as_bytes("other"), second))["signatures"][0];
  EXPECT_EQ(error_code([&] { jws::verify(doc.dump()); }), "jws.bad_signature");
}

TEST(Jws, RejectsMalformed) {
  EXPECT_EQ(error_code([] { jws::verify("not json and not compact"); }), "jws.malformed");
  EXPECT_EQ(error_code([] { jws::verify("{}"); }), "jws.malformed");
  EXPECT_EQ(error_code([] { jws::verify(R"({"payload":"e30","signatures":[]})"); }), "jws.malformed");
  std::string none_header = to_base64url(as_bytes(R"({"alg":"none"})"));
  EXPECT_EQ(error_code([&] { jws::verify(none_header + ".e30."); }), "jws.unsupported_algorithm");
  std::string hs_header = to_base64url(as_bytes(R"({"alg":"HS256"})"));
  EXPECT_EQ(error_code([&] { jws::verify(hs_header + ".e30.AAAA"); }), "jws.unsupported_algorithm");
}

TEST(Jws, Rfc7515AppendixA3CompactVector) {
  // RFC 7515 A.3: ES256 over the example JWT claims, key given as a JWK. The header carries no
  // jwk, so we splice the RFC's public key into a General-JSON form by verifying the raw
  // signature directly.
  const std::string header = "eyJhbGciOiJFUzI1NiJ9";
  const std::string payload =
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const std::string sig =
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  PublicKey key = jws::from_jwk(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})");
  Bytes raw = from_base64url(sig);
  ASSERT_EQ(raw.size(), 64u);
  std::string input = header + "." + payload;
  EXPECT_TRUE(key.verify_ecdsa_rs(DigestAlgorithm::Sha256, as_bytes(input), ByteView(raw).first(32),
                                  ByteView(raw).last(32)));
  input[3] ^= 1;
  EXPECT_FALSE(key.verify_ecdsa_rs(DigestAlgorithm::Sha256, as_bytes(input), ByteView(raw).first(32),
                                   ByteView(raw).last(32)));
}

TEST(Jws, JwkRoundTrip) {
  PublicKey pub = PrivateKey::generate(KeyType::EcP256).public_key();
  EXPECT_TRUE(jws::from_jwk(jws::to_jwk(pub)) == pub);
  EXPECT_EQ(error_code([] { jws::from_jwk(R"({"kty":"RSA","n":"AQAB","e":"AQAB"})"); }),
            "jws.unsupported_algorithm");
}

}  // namespace
}  // namespace enarx
