#include "core/crypto.h"
#include "core/signing.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <climits>

#include "core/error.h"

namespace enarx {

namespace {

// Never let OpenSSL prompt on the terminal for a passphrase: encrypted keys are unsupported.
int no_passphrase(char*, int, int, void*) { return -1; }

std::shared_ptr<EVP_PKEY> share(ossl::PkeyPtr key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
}

KeyType key_type_of(EVP_PKEY* k) {
  if (!k) throw Error(ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_EC: {
      char name[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) !=
          1) {
        ERR_clear_error();
        return KeyType::Other;
      }
      std::string_view n(name, len);
      if (n == "prime256v1" || n == "P-256" || n == "secp256r1") return KeyType::EcP256;
      if (n == "secp384r1" || n == "P-384") return KeyType::EcP384;
      return KeyType::Other;
    }
    case EVP_PKEY_RSA:
      return KeyType::Rsa;
    case EVP_PKEY_RSA_PSS:
      return KeyType::RsaPss;
    case EVP_PKEY_ED25519:
      return KeyType::Ed25519;
    default:
      return KeyType::Other;
  }
}

const EVP_MD* md_for(EVP_PKEY* k, DigestAlgorithm alg) {
  // Ed25519 is a pure signature scheme: no separate digest.
  return EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? nullptr : evp_md(alg);
}

bool finish_verify(int rc) {
  // Bad signatures leave reasons on the error queue; they are an expected outcome, not an error.
  ERR_clear_error();
  return rc == 1;
}

}  // namespace

const EVP_MD* evp_md(DigestAlgorithm alg) {
  switch (alg) {
    case DigestAlgorithm::Sha224:
      return EVP_sha224();
    case DigestAlgorithm::Sha256:
      return EVP_sha256();
    case DigestAlgorithm::Sha384:
      return EVP_sha384();
    case DigestAlgorithm::Sha512:
      return EVP_sha512();
  }
  throw Error(ErrorKind::kInvalidInput, "crypto.unsupported", "unknown digest algorithm");
}

const EVP_MD* signature_digest(KeyType type) {
  switch (type) {
    case KeyType::Ed25519: return nullptr;  // pure EdDSA: no separate digest
    case KeyType::EcP384: return EVP_sha384();
    default: return EVP_sha256();
  }
}

std::size_t digest_size(DigestAlgorithm alg) {
  return static_cast<std::size_t>(EVP_MD_get_size(evp_md(alg)));
}

Bytes digest(DigestAlgorithm alg, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  ossl::check(EVP_Digest(data.data(), data.size(), out.data(), &len, evp_md(alg), nullptr) == 1, ErrorKind::kInternal,
              "crypto.digest", "digest failed");
  out.resize(len);
  return out;
}

Hasher::Hasher(DigestAlgorithm alg) : alg_(alg), ctx_(EVP_MD_CTX_new()) {
  ossl::check(ctx_ != nullptr, ErrorKind::kInternal, "crypto.digest", "EVP_MD_CTX_new failed");
  ossl::check(EVP_DigestInit_ex(ctx_.get(), evp_md(alg), nullptr) == 1, ErrorKind::kInternal, "crypto.digest",
              "digest init failed");
}

void Hasher::update(ByteView data) {
  require(ctx_ != nullptr, ErrorKind::kInternal, "crypto.digest", "hasher already finished");
  ossl::check(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1, ErrorKind::kInternal, "crypto.digest",
              "digest update failed");
}

Bytes Hasher::finish() {
  require(ctx_ != nullptr, ErrorKind::kInternal, "crypto.digest", "hasher already finished");
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  ossl::check(EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) == 1, ErrorKind::kInternal, "crypto.digest",
              "digest final failed");
  ctx_.reset();
  out.resize(len);
  return out;
}

Bytes hmac_sha256(ByteView key, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  static const std::uint8_t kEmpty = 0;
  if (key.size() > static_cast<std::size_t>(INT_MAX))
    throw Error(ErrorKind::kInvalidInput, "crypto.hmac", "key too long");
  ossl::check(HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
                   data.data(), data.size(), out.data(), &len) != nullptr, ErrorKind::kInvalidInput,
              "crypto.hmac", "HMAC failed");
  out.resize(len);
  return out;
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (n == 0) return out;
  ossl::check(RAND_bytes(out.data(), static_cast<int>(n)) == 1, ErrorKind::kInternal, "crypto.random",
              "RAND_bytes failed");
  return out;
}

std::string to_string(KeyType t) {
  switch (t) {
    case KeyType::EcP256:
      return "EC P-256";
    case KeyType::EcP384:
      return "EC P-384";
    case KeyType::Rsa:
      return "RSA";
    case KeyType::RsaPss:
      return "RSA-PSS";
    case KeyType::Ed25519:
      return "Ed25519";
    case KeyType::Other:
      break;
  }
  return "other";
}

// ---- PublicKey ----

PublicKey::PublicKey(ossl::PkeyPtr key) : key_(share(std::move(key))) {}

PublicKey PublicKey::from_spki_der(ByteView der) {
  const unsigned char* p = der.data();
  ossl::PkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!k) ossl::throw_error(ErrorKind::kInvalidInput, "crypto.key_parse", "invalid SubjectPublicKeyInfo");
  if (p != der.data() + der.size()) {
    throw Error(ErrorKind::kInvalidInput, "crypto.key_parse", "trailing bytes after SubjectPublicKeyInfo");
  }
  return PublicKey(std::move(k));
}

PublicKey PublicKey::from_pem(std::string_view pem) {
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  ossl::PkeyPtr k(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!k) ossl::throw_error(ErrorKind::kInvalidInput, "crypto.key_parse", "invalid PEM public key");
  return PublicKey(std::move(k));
}

PublicKey PublicKey::from_ec_point(KeyType curve, ByteView x, ByteView y) {
  std::size_t size;
  const char* group;
  if (curve == KeyType::EcP256) {
    size = 32;
    group = "P-256";
  } else if (curve == KeyType::EcP384) {
    size = 48;
    group = "P-384";
  } else {
    throw Error(ErrorKind::kInvalidInput, "crypto.unsupported", "EC point: unsupported curve " + to_string(curve));
  }
  auto strip = [](ByteView v) {
    while (!v.empty() && v[0] == 0) v = v.subspan(1);
    return v;
  };
  ByteView xs = strip(x), ys = strip(y);
  require(xs.size() <= size && ys.size() <= size, ErrorKind::kInvalidInput, "crypto.ec_point",
          "EC coordinate longer than the curve's field");
  Bytes point(1 + 2 * size, 0);
  point[0] = 0x04;
  std::copy(xs.begin(), xs.end(), point.begin() + 1 + (size - xs.size()));
  std::copy(ys.begin(), ys.end(), point.begin() + 1 + size + (size - ys.size()));

  ossl::Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld(OSSL_PARAM_BLD_new());
  ossl::check(bld != nullptr, ErrorKind::kInternal, "crypto.ec_point", "OSSL_PARAM_BLD_new failed");
  ossl::check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
                  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                                   point.data(), point.size()) == 1, ErrorKind::kInvalidInput,
              "crypto.ec_point", "building EC parameters failed");
  ossl::Ptr<OSSL_PARAM, OSSL_PARAM_free> params(OSSL_PARAM_BLD_to_param(bld.get()));
  ossl::check(params != nullptr, ErrorKind::kInternal, "crypto.ec_point", "building EC parameters failed");
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  ossl::check(ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1, ErrorKind::kInternal, "crypto.ec_point",
              "EVP_PKEY_fromdata_init failed");
  EVP_PKEY* raw = nullptr;
  // fromdata decodes the point, which rejects coordinates that are not on the curve.
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || !raw) {
    ossl::throw_error(ErrorKind::kInvalidInput, "crypto.ec_point", "invalid EC point");
  }
  ossl::PkeyPtr key(raw);
  // Make sure the point really is valid (fromdata may defer decoding in some providers).
  ossl::PkeyCtxPtr check_ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check_ctx || EVP_PKEY_public_check(check_ctx.get()) != 1) {
    ossl::throw_error(ErrorKind::kInvalidInput, "crypto.ec_point", "EC point is not on the curve");
  }
  return PublicKey(std::move(key));
}

Bytes PublicKey::spki_der() const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  return ossl::to_der(i2d_PUBKEY, key_.get(), "crypto.key_encode");
}

std::string PublicKey::to_pem() const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio && PEM_write_bio_PUBKEY(bio.get(), key_.get()) == 1, ErrorKind::kInternal, "crypto.key_encode",
              "cannot write PEM public key");
  return ossl::bio_to_string(bio.get());
}

KeyType PublicKey::type() const { return key_type_of(key_.get()); }

int PublicKey::bits() const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  return EVP_PKEY_get_bits(key_.get());
}

bool PublicKey::verify(DigestAlgorithm alg, ByteView data, ByteView signature_der) const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ossl::check(ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, md_for(key_.get(), alg), nullptr,
                                          key_.get()) == 1, ErrorKind::kUntrusted,
              "crypto.verify", "verify init failed");
  if (EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_RSA_PSS) {
    ossl::check(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0, ErrorKind::kUntrusted,
                "crypto.verify", "cannot set PSS salt length");
  }
  return finish_verify(EVP_DigestVerify(ctx.get(), signature_der.data(), signature_der.size(),
                                        data.data(), data.size()));
}

bool PublicKey::verify_ecdsa_rs(DigestAlgorithm alg, ByteView data, ByteView r,
                                ByteView s) const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  require(EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_EC, ErrorKind::kInvalidInput, "crypto.wrong_key_type",
          "ECDSA verification needs an EC key");
  return verify(alg, data, ecdsa_raw_to_der(r, s));
}

bool PublicKey::verify_rsa_pss(DigestAlgorithm alg, ByteView data, ByteView signature,
                               int salt_len) const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  int id = EVP_PKEY_get_base_id(key_.get());
  require(id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS, ErrorKind::kInvalidInput, "crypto.wrong_key_type",
          "RSA-PSS verification needs an RSA key");
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ossl::check(ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, evp_md(alg), nullptr, key_.get()) == 1, ErrorKind::kUntrusted,
              "crypto.verify", "verify init failed");
  ossl::check(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) > 0 &&
                  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, evp_md(alg)) > 0, ErrorKind::kUntrusted,
              "crypto.verify", "cannot configure RSA-PSS");
  return finish_verify(
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()));
}

bool PublicKey::operator==(const PublicKey& other) const {
  if (!key_ || !other.key_) return !key_ && !other.key_;
  bool eq = EVP_PKEY_eq(key_.get(), other.key_.get()) == 1;
  ERR_clear_error();
  return eq;
}

// ---- PrivateKey ----

PrivateKey::PrivateKey(ossl::PkeyPtr key) : key_(share(std::move(key))) {}

PrivateKey PrivateKey::generate(KeyType type) {
  ossl::PkeyCtxPtr ctx;
  switch (type) {
    case KeyType::EcP256:
    case KeyType::EcP384:
      ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
      ossl::check(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
                      EVP_PKEY_CTX_set_group_name(
                          ctx.get(), type == KeyType::EcP256 ? "P-256" : "P-384") == 1, ErrorKind::kInternal,
                  "crypto.keygen", "EC keygen init failed");
      break;
    case KeyType::Rsa:
      ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
      ossl::check(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
                      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 3072) == 1, ErrorKind::kInternal,
                  "crypto.keygen", "RSA keygen init failed");
      break;
    case KeyType::Ed25519:
      ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
      ossl::check(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1, ErrorKind::kInternal, "crypto.keygen",
                  "Ed25519 keygen init failed");
      break;
    default:
      throw Error(ErrorKind::kInvalidInput, "crypto.unsupported", "cannot generate key of type " + to_string(type));
  }
  EVP_PKEY* raw = nullptr;
  ossl::check(EVP_PKEY_generate(ctx.get(), &raw) == 1 && raw, ErrorKind::kInternal, "crypto.keygen",
              "key generation failed");
  return PrivateKey(ossl::PkeyPtr(raw));
}

PrivateKey PrivateKey::from_uri(std::string_view uri, const KeyUriOptions& options) {
  PrivateKey key = load_private_key_uri(uri, options);
  key.in_token_ = true;
  return key;
}

PrivateKey PrivateKey::from_pem(std::string_view pem) {
  auto bio = ossl::memory_bio(pem.data(), pem.size());
  ossl::PkeyPtr k(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!k) ossl::throw_error(ErrorKind::kInvalidInput, "crypto.key_parse", "invalid PEM private key");
  return PrivateKey(std::move(k));
}

std::string PrivateKey::to_pem_pkcs8() const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  // Checked before OpenSSL is asked: the provider would refuse anyway (tests prove it), but
  // some provider configurations encode a *reference* ("PKCS#11 PROVIDER URI" PEM) instead of
  // failing, which must never be mistaken for the key.
  require(!in_token_, ErrorKind::kPermissionDenied, "crypto.key_not_exportable",
          "the private key lives in a PKCS#11 token and cannot be exported");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio && PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) == 1, ErrorKind::kInvalidInput,
              "crypto.key_encode", "cannot write PKCS#8 PEM");
  return ossl::bio_to_string(bio.get());
}

PublicKey PrivateKey::public_key() const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  // Re-encode so the PublicKey holds no private material.
  return PublicKey::from_spki_der(ossl::to_der(i2d_PUBKEY, key_.get(), "crypto.key_encode"));
}

KeyType PrivateKey::type() const { return key_type_of(key_.get()); }

Bytes PrivateKey::sign(DigestAlgorithm alg, ByteView data) const {
  require(key_ != nullptr, ErrorKind::kInvalidInput, "crypto.no_key", "no key");
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ossl::check(ctx && EVP_DigestSignInit(ctx.get(), &pctx, md_for(key_.get(), alg), nullptr,
                                        key_.get()) == 1, ErrorKind::kInternal,
              "crypto.sign", "sign init failed");
  if (EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_RSA_PSS) {
    ossl::check(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0, ErrorKind::kInternal,
                "crypto.sign", "cannot set PSS salt length");
  }
  size_t len = 0;
  ossl::check(EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) == 1, ErrorKind::kInternal,
              "crypto.sign", "sign failed");
  Bytes sig(len);
  ossl::check(EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) == 1, ErrorKind::kInternal,
              "crypto.sign", "sign failed");
  sig.resize(len);
  return sig;
}

DigestAlgorithm PrivateKey::default_digest() const {
  return type() == KeyType::EcP384 ? DigestAlgorithm::Sha384 : DigestAlgorithm::Sha256;
}

// ---- ECDSA signature formats ----

Bytes ecdsa_der_to_raw(ByteView der, std::size_t component_size) {
  const unsigned char* p = der.data();
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    ERR_clear_error();
    throw Error(ErrorKind::kInvalidInput, "crypto.signature_format", "malformed DER ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(2 * component_size);
  if (BN_bn2binpad(r, out.data(), static_cast<int>(component_size)) < 0 ||
      BN_bn2binpad(s, out.data() + component_size, static_cast<int>(component_size)) < 0) {
    ERR_clear_error();
    throw Error(ErrorKind::kInvalidInput, "crypto.signature_format", "ECDSA component larger than expected");
  }
  return out;
}

Bytes ecdsa_raw_to_der(ByteView r, ByteView s) {
  if (r.size() > INT_MAX / 2 || s.size() > INT_MAX / 2)
    throw Error(ErrorKind::kInvalidInput, "crypto.signature_format", "ECDSA component too long");
  ossl::BignumPtr br(BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr));
  ossl::BignumPtr bs(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::check(br && bs && sig, ErrorKind::kInternal, "crypto.signature_format", "allocation failed");
  ossl::check(ECDSA_SIG_set0(sig.get(), br.get(), bs.get()) == 1, ErrorKind::kInvalidInput, "crypto.signature_format",
              "ECDSA_SIG_set0 failed");
  (void)br.release();
  (void)bs.release();
  return ossl::to_der(i2d_ECDSA_SIG, sig.get(), "crypto.signature_format");
}

}  // namespace enarx
