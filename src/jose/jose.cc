#include "jose/jose.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/openssl.h"

namespace enarx::jose {
namespace {

using json = nlohmann::json;

// Group orders n, big-endian (SEC 2 / FIPS 186-4); low-S needs them.
constexpr std::uint8_t kP256Order[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
constexpr std::uint8_t kP384Order[48] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC7, 0x63, 0x4D, 0x81, 0xF4, 0x37, 0x2D, 0xDF,
    0x58, 0x1A, 0x0D, 0xB2, 0x48, 0xB0, 0xA7, 0x7A, 0xEC, 0xEC, 0x19, 0x6A, 0xCC, 0xC5, 0x29, 0x73};

struct AlgInfo {
  Alg alg;
  std::string_view name;
  KeyType type;
  DigestAlgorithm digest;
  std::size_t component;      // 0 for RSA
  const std::uint8_t* order;  // `component` bytes; null for RSA
  std::string_view crv;       // JWK crv; empty for RSA
};

constexpr AlgInfo kAlgs[] = {
    {Alg::ES256, "ES256", KeyType::EcP256, DigestAlgorithm::Sha256, 32, kP256Order, "P-256"},
    {Alg::ES384, "ES384", KeyType::EcP384, DigestAlgorithm::Sha384, 48, kP384Order, "P-384"},
    {Alg::RS256, "RS256", KeyType::Rsa, DigestAlgorithm::Sha256, 0, nullptr, ""},
};

const AlgInfo& info(Alg alg) {
  for (const auto& a : kAlgs)
    if (a.alg == alg) return a;
  throw Error(ErrorKind::kInternal, "jose.unsupported", "unknown JOSE algorithm");
}

const AlgInfo* ec_info_for_crv(std::string_view crv) {
  for (const auto& a : kAlgs)
    if (a.component != 0 && a.crv == crv) return &a;
  return nullptr;
}

[[noreturn]] void fail(const Codes& codes, std::string_view code, std::string_view message) {
  throw Error(codes.kind, std::string(code), std::string(codes.prefix) + std::string(message));
}

const std::string& string_member(const json& obj, const char* name, const Codes& codes) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(codes, codes.malformed, std::string("jwk has no \"") + name + "\"");
  if (!it->is_string()) fail(codes, codes.malformed, std::string("jwk \"") + name + "\" must be a string");
  return it->get_ref<const std::string&>();
}

Bytes bn_param(const PublicKey& key, const char* name) {
  BIGNUM* bn = nullptr;
  ossl::check(EVP_PKEY_get_bn_param(key.get(), name, &bn) == 1, ErrorKind::kInternal, "jose.key_export",
              "cannot read RSA key");
  ossl::BignumPtr owned(bn);
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn)));
  BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  return out;
}

// The uncompressed point 04||X||Y, split.
std::pair<Bytes, Bytes> ec_coordinates(const PublicKey& key, std::size_t component) {
  std::size_t len = 0;
  ossl::check(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &len) == 1,
              ErrorKind::kInternal, "jose.key_export", "cannot read EC public key");
  Bytes point(len);
  ossl::check(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                              point.size(), &len) == 1,
              ErrorKind::kInternal, "jose.key_export", "cannot read EC public key");
  require(len == 1 + 2 * component && point[0] == 0x04, ErrorKind::kInternal, "jose.key_export",
          "EC public key is not an uncompressed point");
  return {Bytes(point.begin() + 1, point.begin() + 1 + static_cast<std::ptrdiff_t>(component)),
          Bytes(point.begin() + 1 + static_cast<std::ptrdiff_t>(component), point.begin() + static_cast<std::ptrdiff_t>(len))};
}

PublicKey rsa_from_n_e(ByteView n, ByteView e, const Codes& codes) {
  ossl::BignumPtr bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  ossl::BignumPtr bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  ossl::Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld(OSSL_PARAM_BLD_new());
  ossl::check(bn_n && bn_e && bld, ErrorKind::kInternal, "jose.key_import", "allocation failed");
  ossl::check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
                  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1,
              ErrorKind::kInternal, "jose.key_import", "RSA parameters");
  ossl::Ptr<OSSL_PARAM, OSSL_PARAM_free> params(OSSL_PARAM_BLD_to_param(bld.get()));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    fail(codes, codes.malformed, "jwk is not a valid RSA key");
  }
  return PublicKey(ossl::PkeyPtr(pkey));
}

// n - s, both `order.size()` bytes big-endian, for 0 < s < n.
Bytes order_minus(ByteView order, ByteView s) {
  Bytes out(order.size());
  int borrow = 0;
  for (std::size_t i = order.size(); i-- > 0;) {
    int d = order[i] - s[i] - borrow;
    borrow = d < 0;
    out[i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
  }
  return out;
}

// n is odd, so s and n - s never tie: s is high exactly when it exceeds n - s.
bool high_s(const AlgInfo& a, ByteView s) {
  ByteView order(a.order, a.component);
  return s.size() == a.component && std::memcmp(s.data(), order_minus(order, s).data(), a.component) > 0;
}

}  // namespace

std::string_view alg_name(Alg alg) { return info(alg).name; }

std::optional<Alg> parse_alg(std::string_view name) {
  for (const auto& a : kAlgs)
    if (a.name == name) return a.alg;
  return std::nullopt;
}

KeyType key_type(Alg alg) { return info(alg).type; }
DigestAlgorithm digest_algorithm(Alg alg) { return info(alg).digest; }
std::size_t ec_component_size(Alg alg) { return info(alg).component; }

std::optional<Alg> alg_for_key(KeyType type) {
  for (const auto& a : kAlgs)
    if (a.type == type) return a.alg;
  return std::nullopt;
}

Bytes decode_base64url(std::string_view text, const Codes& codes, Base64url form) {
  Bytes out;
  try {
    out = from_base64url(text);
  } catch (const Error&) {
    fail(codes, codes.malformed, "bad base64url");
  }
  if (form == Base64url::kCanonical && to_base64url(out) != text) fail(codes, codes.malformed, "non-canonical base64url");
  return out;
}

json jwk_from_key(const PublicKey& key, const Codes& codes) {
  if (!key) fail(codes, codes.unsupported, "no key");
  json jwk = json::object();
  auto alg = alg_for_key(key.type());
  if (!alg) fail(codes, codes.unsupported, "JWKs are for EC P-256/P-384 and RSA keys, not " + to_string(key.type()));
  const AlgInfo& a = info(*alg);
  if (a.component == 0) {
    jwk["kty"] = "RSA";
    jwk["n"] = to_base64url(bn_param(key, OSSL_PKEY_PARAM_RSA_N));
    jwk["e"] = to_base64url(bn_param(key, OSSL_PKEY_PARAM_RSA_E));
  } else {
    auto [x, y] = ec_coordinates(key, a.component);
    jwk["kty"] = "EC";
    jwk["crv"] = std::string(a.crv);
    jwk["x"] = to_base64url(x);
    jwk["y"] = to_base64url(y);
  }
  return jwk;
}

PublicKey key_from_jwk(const json& jwk, const Codes& codes) {
  if (!jwk.is_object()) fail(codes, codes.malformed, "jwk must be an object");
  const std::string& kty = string_member(jwk, "kty", codes);
  if (kty == "EC") {
    const std::string& crv = string_member(jwk, "crv", codes);
    const AlgInfo* a = ec_info_for_crv(crv);
    if (!a) fail(codes, codes.unsupported, "unsupported curve \"" + crv + "\"");
    Bytes x = decode_base64url(string_member(jwk, "x", codes), codes, Base64url::kPaddingAllowed);
    Bytes y = decode_base64url(string_member(jwk, "y", codes), codes, Base64url::kPaddingAllowed);
    if (x.size() != a->component || y.size() != a->component)
      fail(codes, codes.malformed, "jwk coordinates have the wrong length");
    try {
      return PublicKey::from_ec_point(a->type, x, y);
    } catch (const Error& e) {
      fail(codes, codes.malformed, std::string("jwk is not a valid point: ") + e.what());
    }
  }
  if (kty == "RSA") {
    Bytes n = decode_base64url(string_member(jwk, "n", codes), codes, Base64url::kPaddingAllowed);
    Bytes e = decode_base64url(string_member(jwk, "e", codes), codes, Base64url::kPaddingAllowed);
    if (n.empty() || e.empty()) fail(codes, codes.malformed, "jwk n and e must not be empty");
    return rsa_from_n_e(n, e, codes);
  }
  fail(codes, codes.unsupported, "unsupported jwk kty \"" + kty + "\"");
}

Bytes ecdsa_der_to_jose(Alg alg, ByteView der, const Codes& codes) {
  const AlgInfo& a = info(alg);
  if (a.component == 0) fail(codes, codes.unsupported, std::string(a.name) + " is not ECDSA");
  try {
    return ecdsa_der_to_raw(der, a.component);
  } catch (const Error& e) {
    fail(codes, codes.malformed, e.what());
  }
}

Bytes ecdsa_jose_to_der(Alg alg, ByteView raw, const Codes& codes) {
  const AlgInfo& a = info(alg);
  if (a.component == 0) fail(codes, codes.unsupported, std::string(a.name) + " is not ECDSA");
  if (raw.size() != 2 * a.component)
    fail(codes, codes.malformed, std::string(a.name) + " signatures are " + std::to_string(2 * a.component) + " bytes");
  return ecdsa_raw_to_der(raw.first(a.component), raw.last(a.component));
}

std::string signing_input(std::string_view protected_b64, std::string_view payload_b64) {
  std::string out;
  out.reserve(protected_b64.size() + 1 + payload_b64.size());
  out.append(protected_b64).append(".").append(payload_b64);
  return out;
}

Bytes sign(Alg alg, const PrivateKey& key, std::string_view input) {
  const AlgInfo& a = info(alg);
  require(key.type() == a.type, ErrorKind::kInternal, "jose.key_mismatch",
          std::string(a.name) + " needs a " + to_string(a.type) + " key, not " + to_string(key.type()));
  Bytes sig = key.sign(a.digest, as_bytes(input));
  if (a.component == 0) return sig;
  Bytes raw = ecdsa_der_to_raw(sig, a.component);
  // OpenSSL gives either s or n - s; verifiers that require low-S take only the low one.
  auto s = std::span<std::uint8_t>(raw).subspan(a.component);
  if (high_s(a, s)) {
    Bytes low = order_minus(ByteView(a.order, a.component), s);
    std::copy(low.begin(), low.end(), s.begin());
  }
  return raw;
}

bool verify(Alg alg, const PublicKey& key, std::string_view input, ByteView signature, LowS low_s) {
  const AlgInfo& a = info(alg);
  if (!key || key.type() != a.type) return false;
  if (a.component == 0) return key.verify(a.digest, as_bytes(input), signature);
  if (signature.size() != 2 * a.component) return false;
  ByteView r = signature.first(a.component), s = signature.last(a.component);
  if (low_s == LowS::kRequired && high_s(a, s)) return false;
  return key.verify_ecdsa_rs(a.digest, as_bytes(input), r, s);
}

Compact split_compact(std::string_view text, const Codes& codes) {
  auto d1 = text.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
  if (d2 == std::string_view::npos || text.find('.', d2 + 1) != std::string_view::npos)
    fail(codes, codes.malformed, "not a compact JWS (three dot-separated parts)");
  return Compact{text.substr(0, d1), text.substr(d1 + 1, d2 - d1 - 1), text.substr(d2 + 1), text.substr(0, d2)};
}

std::string join_compact(std::string_view signing_input, ByteView signature) {
  return std::string(signing_input) + "." + to_base64url(signature);
}

std::string sign_compact(Alg alg, const PrivateKey& key, json header, ByteView payload) {
  header["alg"] = std::string(alg_name(alg));
  auto input = signing_input(to_base64url(as_bytes(header.dump())), to_base64url(payload));
  return join_compact(input, sign(alg, key, input));
}

Jwt decode_jwt(std::string_view compact, const Codes& codes) {
  Compact parts = split_compact(compact, codes);
  auto object = [&](std::string_view b64, const char* what) {
    Bytes raw = decode_base64url(b64, codes);
    json j;
    try {
      j = json::parse(raw.begin(), raw.end());
    } catch (const json::exception&) {
      fail(codes, codes.malformed, std::string(what) + " is not JSON");
    }
    if (!j.is_object()) fail(codes, codes.malformed, std::string(what) + " is not a JSON object");
    return j;
  };
  Jwt out;
  out.header = object(parts.protected_b64, "token header");
  out.claims = object(parts.payload_b64, "token payload");
  out.signature = decode_base64url(parts.signature_b64, codes);
  out.signing_input = parts.signing_input;
  return out;
}

}  // namespace enarx::jose
