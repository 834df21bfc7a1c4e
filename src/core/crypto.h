// Keys, signatures, digests, MACs and randomness (OpenSSL 3 underneath).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/key_store.h"
#include "core/openssl.h"

namespace enarx {

enum class DigestAlgorithm { Sha224, Sha256, Sha384, Sha512 };

const EVP_MD* evp_md(DigestAlgorithm alg);
std::size_t digest_size(DigestAlgorithm alg);
Bytes digest(DigestAlgorithm alg, ByteView data);
inline Bytes sha256(ByteView data) { return digest(DigestAlgorithm::Sha256, data); }
inline Bytes sha384(ByteView data) { return digest(DigestAlgorithm::Sha384, data); }

// Incremental hashing for streamed bodies.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm alg);
  void update(ByteView data);
  Bytes finish();  // may be called once
  DigestAlgorithm algorithm() const { return alg_; }

 private:
  DigestAlgorithm alg_;
  ossl::MdCtxPtr ctx_;
};

Bytes hmac_sha256(ByteView key, ByteView data);

// Bytes from the OS CSPRNG (OpenSSL's DRBG seeded from getrandom).
Bytes random_bytes(std::size_t n);

enum class KeyType { EcP256, EcP384, Rsa, RsaPss, Ed25519, Other };
std::string to_string(KeyType t);

class PublicKey {
 public:
  PublicKey() = default;
  explicit PublicKey(ossl::PkeyPtr key);
  // DER SubjectPublicKeyInfo / PEM "PUBLIC KEY".
  static PublicKey from_spki_der(ByteView der);
  static PublicKey from_pem(std::string_view pem);
  // An uncompressed EC point on P-256/P-384 given as big-endian X and Y coordinates.
  static PublicKey from_ec_point(KeyType curve, ByteView x, ByteView y);

  Bytes spki_der() const;
  std::string to_pem() const;
  KeyType type() const;
  int bits() const;

  // Verifies a DER-encoded signature (ECDSA-Sig-Value for EC, PKCS#1 v1.5 for RSA; RSA-PSS keys
  // use PSS with salt = hash length). Returns false on a bad signature; throws only on misuse.
  bool verify(DigestAlgorithm alg, ByteView data, ByteView signature_der) const;
  // ECDSA signature given as raw big-endian r and s (any length; leading zeros allowed).
  bool verify_ecdsa_rs(DigestAlgorithm alg, ByteView data, ByteView r, ByteView s) const;
  // RSASSA-PSS with MGF1(same hash) and the given salt length.
  bool verify_rsa_pss(DigestAlgorithm alg, ByteView data, ByteView signature, int salt_len) const;

  EVP_PKEY* get() const { return key_.get(); }
  explicit operator bool() const { return static_cast<bool>(key_); }
  bool operator==(const PublicKey& other) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

class PrivateKey {
 public:
  PrivateKey() = default;
  explicit PrivateKey(ossl::PkeyPtr key);
  static PrivateKey generate(KeyType type);  // EcP256, EcP384, Rsa (3072), Ed25519
  // PEM: PKCS#8 ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
  static PrivateKey from_pem(std::string_view pem);
  // A key in a PKCS#11 token named by a "pkcs11:" URI (core/key_store.h): the returned key is a
  // handle; signing runs in the token and the private key never enters this process.
  static PrivateKey from_uri(std::string_view uri, const KeyUriOptions& options = {});
  // Unencrypted PKCS#8 PEM. A token key (in_token()) throws
  // Error(permission_denied, "crypto.key_not_exportable"): its private part cannot be exported.
  std::string to_pem_pkcs8() const;
  // True for a key loaded from a token by from_uri.
  bool in_token() const { return in_token_; }

  PublicKey public_key() const;
  KeyType type() const;
  // DER-encoded signature (ECDSA-Sig-Value for EC; PKCS#1 v1.5 for RSA).
  Bytes sign(DigestAlgorithm alg, ByteView data) const;
  // The digest that pairs naturally with the key: SHA-384 for P-384, SHA-256 otherwise.
  DigestAlgorithm default_digest() const;

  EVP_PKEY* get() const { return key_.get(); }
  explicit operator bool() const { return static_cast<bool>(key_); }

 private:
  std::shared_ptr<EVP_PKEY> key_;
  bool in_token_ = false;
};

// ECDSA signature format conversions.
// DER ECDSA-Sig-Value -> fixed-width big-endian r||s (each `component_size` bytes).
Bytes ecdsa_der_to_raw(ByteView der, std::size_t component_size);
// big-endian r, s (any width) -> DER ECDSA-Sig-Value.
Bytes ecdsa_raw_to_der(ByteView r, ByteView s);

}  // namespace enarx
