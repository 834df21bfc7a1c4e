#include "jose/jws.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "jose/jose.h"

namespace enarx::jws {
namespace {

using json = nlohmann::json;

// Signed tags have always been decoded with base64url padding allowed; tags already published
// must keep verifying, so they do not get the tokens' one-spelling rule.
constexpr jose::Codes kCodes{ErrorKind::kInvalidInput, "jws.malformed", "jws.unsupported_algorithm", ""};
constexpr auto kSpelling = jose::Base64url::kPaddingAllowed;

// The signed-tag format is ES256/ES384 only (jws.h); jose also knows RS256, which tags refuse.
jose::Alg alg_for_signing_key(KeyType t) {
  if (t == KeyType::EcP256) return jose::Alg::ES256;
  if (t == KeyType::EcP384) return jose::Alg::ES384;
  throw Error(ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "signing keys must be EC P-256 or P-384, not " + to_string(t));
}

jose::Alg alg_from_header(std::string_view name) {
  auto alg = jose::parse_alg(name);
  require(alg == jose::Alg::ES256 || alg == jose::Alg::ES384, ErrorKind::kInvalidInput, "jws.unsupported_algorithm",
          "unsupported JWS algorithm \"" + std::string(name) + "\"");
  return *alg;
}

json parse_json(std::string_view text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    throw Error(ErrorKind::kInvalidInput, "jws.malformed", std::string(what) + " is not valid JSON");
  }
}

std::string get_string(const json& obj, const char* key) {
  auto it = obj.find(key);
  require(it != obj.end(), ErrorKind::kInvalidInput, "jws.malformed", std::string("missing \"") + key + "\"");
  require(it->is_string(), ErrorKind::kInvalidInput, "jws.malformed", std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

PublicKey ec_key_from_jwk(const json& jwk) {
  require(jwk.is_object(), ErrorKind::kInvalidInput, "jws.malformed", "jwk must be an object");
  require(get_string(jwk, "kty") == "EC", ErrorKind::kInvalidInput, "jws.unsupported_algorithm", "jwk kty must be EC");
  return jose::key_from_jwk(jwk, kCodes);
}

struct SignatureParts {
  std::string protected_b64;
  std::string signature_b64;
};

}  // namespace

std::string key_fingerprint(const PublicKey& key) { return to_hex(sha256(key.spki_der())); }

std::string to_jwk(const PublicKey& key) {
  alg_for_signing_key(key.type());
  // RFC 7638 member order (crv, kty, x, y) so the text doubles as a thumbprint input.
  return jose::jwk_from_key(key, kCodes).dump();
}

PublicKey from_jwk(std::string_view jwk_json) { return ec_key_from_jwk(parse_json(jwk_json, "jwk")); }

std::string sign(ByteView payload, const PrivateKey& key, std::string_view content_type) {
  PublicKey pub = key.public_key();
  jose::Alg alg = alg_for_signing_key(pub.type());
  json header = json::object();
  header["alg"] = std::string(jose::alg_name(alg));
  if (!content_type.empty()) header["cty"] = std::string(content_type);
  header["jwk"] = jose::jwk_from_key(pub, kCodes);
  std::string protected_b64 = to_base64url(as_bytes(header.dump()));
  std::string payload_b64 = to_base64url(payload);
  Bytes raw = jose::sign(alg, key, jose::signing_input(protected_b64, payload_b64));

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
    jose::Compact compact = jose::split_compact(text, kCodes);
    parts.push_back({std::string(compact.protected_b64), std::string(compact.signature_b64)});
    payload_b64 = std::string(compact.payload_b64);
  }

  Verified result;
  result.payload = jose::decode_base64url(payload_b64, kCodes, kSpelling);
  bool expected_seen = expected_signer == nullptr;
  for (const auto& p : parts) {
    json header = parse_json(as_string(jose::decode_base64url(p.protected_b64, kCodes, kSpelling)), "protected header");
    require(header.is_object(), ErrorKind::kInvalidInput, "jws.malformed", "protected header must be an object");
    if (header.contains("crit")) {
      throw Error(ErrorKind::kInvalidInput, "jws.unknown_critical_header", "JWS names critical header parameters we do not support");
    }
    jose::Alg alg = alg_from_header(get_string(header, "alg"));
    require(header.contains("jwk"), ErrorKind::kInvalidInput, "jws.malformed", "protected header has no jwk");
    PublicKey key = ec_key_from_jwk(header["jwk"]);
    require(key.type() == jose::key_type(alg), ErrorKind::kInvalidInput, "jws.unsupported_algorithm",
            "jwk curve does not match alg");
    Bytes sig = jose::decode_base64url(p.signature_b64, kCodes, kSpelling);
    // Tags signed before signatures were normalised may be high-S; they stay valid.
    bool ok = jose::verify(alg, key, jose::signing_input(p.protected_b64, payload_b64), sig, jose::LowS::kOptional);
    require(ok, ErrorKind::kUntrusted, "jws.bad_signature", "tag signature does not verify");
    if (expected_signer && key == *expected_signer) expected_seen = true;
    result.signer_fingerprints.push_back(key_fingerprint(key));
    if (!result.signer) {
      result.signer = key;
      result.algorithm = std::string(jose::alg_name(alg));
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
