// Signed tags: JSON Web Signatures (RFC 7515) over a Drawbridge tag entry, made with the
// publisher's EC key (ES256 / ES384) and checked by `enarx deploy` and by steward (registry
// check, docs/steward.md).
//
// Format (General JSON serialization, which Drawbridge stores verbatim as application/jose+json):
//   {"payload":"<b64url(tag entry JSON)>",
//    "signatures":[{"protected":"<b64url({"alg":"ES384","cty":"...entry.v1+json","jwk":{...}})>",
//                   "signature":"<b64url(r||s)>"}]}
// The public key travels in the protected header (`jwk`), so a verifier can name the signer; trust
// comes from comparing that key with what the deployer expects (--signer), never from the JWS.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/crypto.h"

namespace enarx::jws {

inline constexpr std::string_view kMediaType = "application/jose+json";

// Signs `payload`; the key must be EC P-256 (ES256) or P-384 (ES384).
// Returns the General JSON serialization as compact JSON text.
std::string sign(ByteView payload, const PrivateKey& key, std::string_view content_type = {});

struct Verified {
  Bytes payload;
  PublicKey signer;
  std::string algorithm;          // "ES256" | "ES384"
  std::string signer_fingerprint; // key_fingerprint(signer)
  // key_fingerprint of every signature's key, in order (each signature verified).
  std::vector<std::string> signer_fingerprints;
};

// Parses a JWS in General JSON, Flattened JSON or compact serialization and verifies every
// signature with the key in its protected `jwk` header. Throws Error with codes
// jws.malformed, jws.unsupported_algorithm, jws.bad_signature, jws.unknown_critical_header.
// When `expected_signer` is given, some signature must be by that key (jws.wrong_signer).
Verified verify(std::string_view jws_text, const PublicKey* expected_signer = nullptr);

// The publisher identity used everywhere (CSR SAN, --signer, claims):
// lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.
std::string key_fingerprint(const PublicKey& key);

// RFC 7517 JWK for an EC public key: {"kty":"EC","crv":"P-256","x":"..","y":".."}.
std::string to_jwk(const PublicKey& key);
PublicKey from_jwk(std::string_view jwk_json);

}  // namespace enarx::jws
