#include "client/jws.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/openssl.h"

namespace enarx::jws {
namespace {

using json = nlohmann::json;

struct Curve {
  KeyType type;
  const char* crv;
  const char* alg;
  DigestAlgorithm digest;
  std::size_t component;  // bytes per coordinate / signature half
};

constexpr Curve kCurves[] = {
    {KeyType::EcP256, "P-256", "ES256", DigestAlgorithm::Sha256, 32},
    {KeyType::EcP384, "P-384", "ES384", DigestAlgorithm::Sha384, 48},
};

const Curve& curve_for(KeyType t) {
  for (const auto& c : kCurves)
    if (c.type == t) return c;
  throw Error(ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "signing keys must be EC P-256 or P-384, not " + to_string(t));
}

const Curve& curve_for_alg(std::string_view alg) {
  for (const auto& c : kCurves)
    if (alg == c.alg) return c;
  throw Error(ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "unsupported JWS algorithm \"" + std::string(alg) + "\"");
}

// Uncompressed point 04||X||Y of an EC key, via the SPKI's BIT STRING.
std::pair<Bytes, Bytes> ec_coordinates(const PublicKey& key, std::size_t component) {
  std::size_t len = 0;
  ossl::check(EVP_PKEY_get_octet_string_param(key.get(), "encoded-pub-key", nullptr, 0, &len) == 1, ErrorKind::kInvalidInput,
              "jws.malformed", "cannot read EC public key");
  Bytes point(len);
  ossl::check(EVP_PKEY_get_octet_string_param(key.get(), "encoded-pub-key", point.data(),
                                              point.size(), &len) == 1, ErrorKind::kInvalidInput,
              "jws.malformed", "cannot read EC public key");
  require(len == 1 + 2 * component && point[0] == 0x04, ErrorKind::kInvalidInput, "jws.malformed",
          "EC public key is not an uncompressed point");
  return {Bytes(point.begin() + 1, point.begin() + 1 + component),
          Bytes(point.begin() + 1 + component, point.end())};
}

json parse_json(std::string_view text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    throw Error(ErrorKind::kInvalidInput, "jws.malformed", std::string(what) + " is not valid JSON");
  }
}

std::string get_string(const json& obj, const char* key, bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    require(!required, ErrorKind::kInvalidInput, "jws.malformed", std::string("missing \"") + key + "\"");
    return {};
  }
  require(it->is_string(), ErrorKind::kInvalidInput, "jws.malformed", std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

struct SignatureParts {
  std::string protected_b64;
  std::string signature_b64;
};

}  // namespace

std::string key_fingerprint(const PublicKey& key) { return to_hex(sha256(key.spki_der())); }

std::string to_jwk(const PublicKey& key) {
  const Curve& c = curve_for(key.type());
  auto [x, y] = ec_coordinates(key, c.component);
  json jwk = json::object();
  // RFC 7638 member order (crv, kty, x, y) so the text doubles as a thumbprint input.
  jwk["crv"] = c.crv;
  jwk["kty"] = "EC";
  jwk["x"] = to_base64url(x);
  jwk["y"] = to_base64url(y);
  return jwk.dump();
}

PublicKey from_jwk(std::string_view jwk_json) {
  json jwk = parse_json(jwk_json, "jwk");
  require(jwk.is_object(), ErrorKind::kInvalidInput, "jws.malformed", "jwk must be an object");
  require(get_string(jwk, "kty") == "EC", ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "jwk kty must be EC");
  std::string crv = get_string(jwk, "crv");
  const Curve* curve = nullptr;
  for (const auto& c : kCurves)
    if (crv == c.crv) curve = &c;
  require(curve != nullptr, ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "unsupported curve \"" + crv + "\"");
  Bytes x = from_base64url(get_string(jwk, "x"));
  Bytes y = from_base64url(get_string(jwk, "y"));
  require(x.size() == curve->component && y.size() == curve->component, ErrorKind::kInvalidInput, "jws.malformed",
          "jwk coordinates have the wrong length");
  try {
    return PublicKey::from_ec_point(curve->type, x, y);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "jws.malformed", std::string("jwk is not a valid point: ") + e.what());
  }
}

std::string sign(ByteView payload, const PrivateKey& key, std::string_view content_type) {
  PublicKey pub = key.public_key();
  const Curve& c = curve_for(pub.type());
  json header = json::object();
  header["alg"] = c.alg;
  if (!content_type.empty()) header["cty"] = std::string(content_type);
  header["jwk"] = json::parse(to_jwk(pub));
  std::string protected_b64 = to_base64url(as_bytes(header.dump()));
  std::string payload_b64 = to_base64url(payload);
  std::string signing_input = protected_b64 + "." + payload_b64;
  Bytes der = key.sign(c.digest, as_bytes(signing_input));
  Bytes raw = ecdsa_der_to_raw(der, c.component);

  json out = json::object();
  out["payload"] = payload_b64;
  out["signatures"] = json::array({json{{"protected", protected_b64},
                                        {"signature", to_base64url(raw)}}});
  return out.dump();
}

Verified verify(std::string_view text, const PublicKey* expected_signer) {
  std::string payload_b64;
  std::vector<SignatureParts> parts;

  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    json doc = parse_json(text, "JWS");
    require(doc.is_object(), ErrorKind::kInvalidInput, "jws.malformed", "JWS must be a JSON object");
    payload_b64 = get_string(doc, "payload");
    if (doc.contains("signatures")) {
      require(doc["signatures"].is_array() && !doc["signatures"].empty(), ErrorKind::kInvalidInput, "jws.malformed",
              "\"signatures\" must be a non-empty array");
      for (const auto& s : doc["signatures"]) {
        require(s.is_object(), ErrorKind::kInvalidInput, "jws.malformed", "signature entries must be objects");
        parts.push_back({get_string(s, "protected"), get_string(s, "signature")});
      }
    } else {
      parts.push_back({get_string(doc, "protected"), get_string(doc, "signature")});
    }
  } else {
    // Compact: protected.payload.signature
    auto d1 = text.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
    require(d2 != std::string_view::npos && text.find('.', d2 + 1) == std::string_view::npos, ErrorKind::kInvalidInput,
            "jws.malformed", "compact JWS must have exactly three parts");
    parts.push_back({std::string(text.substr(0, d1)), std::string(text.substr(d2 + 1))});
    payload_b64 = std::string(text.substr(d1 + 1, d2 - d1 - 1));
  }

  Verified result;
  result.payload = from_base64url(payload_b64);
  bool expected_seen = expected_signer == nullptr;
  for (const auto& p : parts) {
    json header = parse_json(as_string(from_base64url(p.protected_b64)), "protected header");
    require(header.is_object(), ErrorKind::kInvalidInput, "jws.malformed", "protected header must be an object");
    if (header.contains("crit")) {
      throw Error(ErrorKind::kInvalidInput, "jws.unknown_critical_header", "JWS names critical header parameters we do not support");
    }
    const Curve& c = curve_for_alg(get_string(header, "alg"));
    require(header.contains("jwk"), ErrorKind::kInvalidInput, "jws.malformed", "protected header has no jwk");
    PublicKey key = from_jwk(header["jwk"].dump());
    require(key.type() == c.type, ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "jwk curve does not match alg");
    Bytes sig = from_base64url(p.signature_b64);
    require(sig.size() == 2 * c.component, ErrorKind::kUntrusted, "jws.bad_signature", "signature has the wrong length");
    std::string signing_input = p.protected_b64 + "." + payload_b64;
    bool ok = key.verify_ecdsa_rs(c.digest, as_bytes(signing_input),
                                  ByteView(sig).first(c.component), ByteView(sig).last(c.component));
    require(ok, ErrorKind::kUntrusted, "jws.bad_signature", "tag signature does not verify");
    if (expected_signer && key == *expected_signer) expected_seen = true;
    if (!result.signer) {
      result.signer = key;
      result.algorithm = c.alg;
    }
  }
  if (!expected_seen)
    throw Error(ErrorKind::kUntrusted, "jws.wrong_signer", "the tag is not signed by the expected publisher key " +
                                        key_fingerprint(*expected_signer));
  if (expected_signer) result.signer = *expected_signer;
  result.signer_fingerprint = key_fingerprint(result.signer);
  return result;
}

}  // namespace enarx::jws
