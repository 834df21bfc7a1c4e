// Fuzzes the JOSE parsers that read attacker-chosen text: a bearer token (decode_jwt, before any
// signature check), a JWK (from a JWKS or a JWS header) and a signed tag in any serialization.
// Anything but enarx::Error escaping, or a decoded JWT whose parts are not the input's, is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "client/jws.h"
#include "jose/jose.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace enarx;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto jwt = jose::decode_jwt(text);
    // Canonical parts: re-encoding gives back exactly the text that was signed.
    auto dot = text.rfind('.');
    if (jwt.signing_input != text.substr(0, dot) || to_base64url(jwt.signature) != text.substr(dot + 1)) __builtin_trap();
    if (!jwt.header.is_object() || !jwt.claims.is_object()) __builtin_trap();
  } catch (const Error&) {
  }
  try {
    auto jwk = nlohmann::json::parse(text, nullptr, false);
    if (!jwk.is_discarded()) {
      auto key = jose::key_from_jwk(jwk);
      if (!(jose::key_from_jwk(jose::jwk_from_key(key)) == key)) __builtin_trap();
    }
  } catch (const Error&) {
  }
  try {
    (void)jws::verify(text);
  } catch (const Error&) {
  }
  return 0;
}
