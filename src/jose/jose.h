// JOSE primitives (RFC 7515 JWS, RFC 7517 JWK, RFC 7518 algorithms, RFC 7519 JWT) shared by the
// signed tags (client/jws), drawbridge's bearer tokens (drawbridge/auth) and the CLI.
//
// Only the mechanics live here: strict base64url, JWK <-> PublicKey, JOSE <-> DER ECDSA
// signatures, signing and verifying a signing input, the compact serialization. What a caller
// accepts (which algorithms, which headers, which claims) stays with the caller, and so do its
// error codes: every function that can refuse its input takes a `Codes` naming the kind and the
// codes to raise, so a caller's errors keep their documented codes without re-classifying ours.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/error.h"

namespace enarx::jose {

struct Codes {
  ErrorKind kind = ErrorKind::kInvalidInput;
  std::string_view malformed = "jose.malformed";      // bad structure, encoding, length or point
  std::string_view unsupported = "jose.unsupported";  // a well-formed kty, crv or alg we do not take
  std::string_view prefix = "";                       // put before every message
};

enum class Alg { ES256, ES384, RS256 };
std::string_view alg_name(Alg alg);
std::optional<Alg> parse_alg(std::string_view name);
KeyType key_type(Alg alg);
DigestAlgorithm digest_algorithm(Alg alg);
// Bytes per half of a JOSE ECDSA signature (r or s); 0 for RS256.
std::size_t ec_component_size(Alg alg);
// ES256 for P-256, ES384 for P-384, RS256 for RSA; nullopt for any other key.
std::optional<Alg> alg_for_key(KeyType type);

// How much base64url spelling freedom a caller allows. Tokens want kCanonical: one token, one
// spelling (replay caches, logs and deny lists key on the text). Signed tags stored before this
// module existed may carry padding, so they keep kPaddingAllowed.
enum class Base64url { kCanonical, kPaddingAllowed };
// Trailing bits must be zero in either form (core's decoder already insists on that).
Bytes decode_base64url(std::string_view text, const Codes& codes = {},
                       Base64url form = Base64url::kCanonical);

// RFC 7517 JWK of a public key: {"crv","kty":"EC","x","y"} for P-256/P-384, {"e","kty":"RSA","n"}
// for RSA. The members are the RFC 7638 thumbprint members, in its (lexicographic) order.
nlohmann::json jwk_from_key(const PublicKey& key, const Codes& codes = {});
// The key of an EC (P-256, P-384) or RSA JWK. Other members (kid, alg, use) are the caller's to
// judge. Coordinates and n/e may carry padding, as they did before this module existed.
PublicKey key_from_jwk(const nlohmann::json& jwk, const Codes& codes = {});

// JOSE ECDSA signatures are fixed-width r||s (RFC 7518 §3.4); OpenSSL speaks DER.
// Throws codes.malformed when a component does not fit the alg's width / the raw form is not
// exactly twice that width.
Bytes ecdsa_der_to_jose(Alg alg, ByteView der, const Codes& codes = {});
Bytes ecdsa_jose_to_der(Alg alg, ByteView raw, const Codes& codes = {});

// ASCII(BASE64URL(protected) "." BASE64URL(payload)), the bytes every JWS signature covers.
std::string signing_input(std::string_view protected_b64, std::string_view payload_b64);

// A signature over `input` in its JOSE form. ECDSA signatures are always low-S (s <= n/2), so
// that they pass a verifier that requires it.
Bytes sign(Alg alg, const PrivateKey& key, std::string_view input);

enum class LowS { kRequired, kOptional };
// False for a wrong signature, a signature of the wrong length, a key that does not fit `alg`,
// and (kRequired) an ECDSA signature whose s is above n/2: ECDSA accepts (r, s) and (r, n - s)
// alike, so requiring the low one gives a message exactly one signature per key.
bool verify(Alg alg, const PublicKey& key, std::string_view input, ByteView signature,
            LowS low_s = LowS::kRequired);

// The three parts of a compact serialization, still base64url. Views into the text.
struct Compact {
  std::string_view protected_b64, payload_b64, signature_b64;
  std::string_view signing_input;  // protected_b64 "." payload_b64
};
// Exactly three dot-separated parts, else codes.malformed.
Compact split_compact(std::string_view text, const Codes& codes = {});
std::string join_compact(std::string_view signing_input, ByteView signature);

// header (with "alg" set to `alg`) and payload, signed, in compact serialization.
std::string sign_compact(Alg alg, const PrivateKey& key, nlohmann::json header, ByteView payload);

// A compact JWS whose header and payload are JSON objects (a JWT), decoded but NOT verified:
// every part canonical base64url, else codes.malformed. Whoever trusts the claims must verify
// `signature` over `signing_input` first.
struct Jwt {
  nlohmann::json header;
  nlohmann::json claims;
  Bytes signature;
  std::string_view signing_input;  // into the text passed in
};
Jwt decode_jwt(std::string_view compact, const Codes& codes = {});

}  // namespace enarx::jose
