// Bearer tokens: RS256 via a mock OIDC provider (discovery + JWKS over the net HTTP client),
// ES256 via the local issuer; every rejection has its own code; key rotation on unknown kid.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "core/error.h"
#include "core/file.h"
#include "drawbridge/auth.h"
#include "drawbridge/guard.h"
#include "net/http_server.h"

using namespace enarx;
using namespace enarx::drawbridge;

namespace {

std::string code_of(TokenVerifier& v, const std::string& jwt) {
  try {
    v.verify(jwt);
  } catch (const Error& e) {
    return e.code();
  }
  return "";
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class MockOidc {
 public:
  MockOidc() {
    net::ServerConfig sc;
    sc.allow_plaintext = true;
    sc.access_log = false;
    server_ = std::make_unique<net::HttpServer>(sc);
    server_->get("/.well-known/openid-configuration", [this](net::Request&) {
      return net::Response::json(200, "{\"issuer\":\"" + issuer() + "\",\"jwks_uri\":\"" + issuer() + "/jwks\"}");
    });
    server_->get("/jwks", [this](net::Request&) {
      ++fetches;
      std::lock_guard lock(mu_);
      return net::Response::json(200, jwks_to_json(keys_));
    });
    server_->start();
  }
  ~MockOidc() { server_->stop(); }
  std::string issuer() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void set_keys(std::vector<Jwk> keys) {
    std::lock_guard lock(mu_);
    keys_ = std::move(keys);
  }
  std::atomic<int> fetches{0};

 private:
  std::mutex mu_;
  std::vector<Jwk> keys_;
  std::unique_ptr<net::HttpServer> server_;
};

nlohmann::json claims(const std::string& iss, std::int64_t exp_offset = 3600, const std::string& aud = "drawbridge") {
  return {{"iss", iss}, {"aud", aud}, {"sub", "alice"}, {"iat", now_s()}, {"exp", now_s() + exp_offset},
          {"scope", "read:drawbridge_tags manage:drawbridge_users"}};
}

TEST(DrawbridgeAuth, Rs256FromOidcDiscovery) {
  MockOidc oidc;
  auto key = PrivateKey::generate(KeyType::Rsa);
  oidc.set_keys({Jwk{"signkey", "RS256", key.public_key()}});
  TokenVerifier v(system_clock());
  IssuerConfig ic;
  ic.issuer = oidc.issuer();
  ic.audience = "drawbridge";
  ic.fetch_jwks = oidc_jwks_fetcher(oidc.issuer());
  ic.min_refresh_interval = std::chrono::seconds(0);
  v.add_issuer(ic);

  auto ok = v.verify(sign_jwt(key, "signkey", claims(oidc.issuer())));
  EXPECT_EQ(ok.subject, "alice");
  EXPECT_TRUE(ok.has_scope(ScopeLevel::Read, ScopeContext::Tags));
  EXPECT_FALSE(ok.has_scope(ScopeLevel::Write, ScopeContext::Tags));
  EXPECT_TRUE(ok.has_scope(ScopeLevel::Write, ScopeContext::Users));
  EXPECT_FALSE(ok.has_scope(ScopeLevel::Read, ScopeContext::Repositories));

  EXPECT_EQ(code_of(v, sign_jwt(key, "signkey", claims(oidc.issuer(), -3600))), "drawbridge.auth.expired");
  EXPECT_EQ(code_of(v, sign_jwt(key, "signkey", claims(oidc.issuer(), 3600, "other"))), "drawbridge.auth.wrong_audience");
  EXPECT_EQ(code_of(v, sign_jwt(key, "signkey", claims("https://evil.example"))), "drawbridge.auth.unknown_issuer");
  auto other = PrivateKey::generate(KeyType::Rsa);
  EXPECT_EQ(code_of(v, sign_jwt(other, "signkey", claims(oidc.issuer()))), "drawbridge.auth.bad_signature");
  EXPECT_EQ(code_of(v, sign_jwt(other, "nokey", claims(oidc.issuer()))), "drawbridge.auth.unknown_key");
  auto no_scope = claims(oidc.issuer());
  no_scope.erase("scope");
  EXPECT_EQ(code_of(v, sign_jwt(key, "signkey", no_scope)), "drawbridge.auth.missing_claim");
  EXPECT_EQ(code_of(v, "a.b"), "drawbridge.auth.token_malformed");
  EXPECT_EQ(code_of(v, "e30.e30.AA"), "drawbridge.auth.unsupported_alg");
  // alg "none" and HS256 are never accepted.
  auto none = to_base64url(as_bytes("{\"alg\":\"none\",\"kid\":\"signkey\"}")) + "." +
              to_base64url(as_bytes(claims(oidc.issuer()).dump())) + ".";
  EXPECT_EQ(code_of(v, none), "drawbridge.auth.unsupported_alg");

  // Rotation: a token signed by a new key is accepted once the JWKS has it.
  auto rotated = PrivateKey::generate(KeyType::Rsa);
  oidc.set_keys({Jwk{"signkey", "RS256", key.public_key()}, Jwk{"k2", "RS256", rotated.public_key()}});
  EXPECT_EQ(v.verify(sign_jwt(rotated, "k2", claims(oidc.issuer()))).subject, "alice");
}

TEST(DrawbridgeAuth, LocalIssuerEs256) {
  TempDir dir("drawbridge-issuer");
  auto li = LocalIssuer::load_or_create(dir.path(), "drawbridge-local", "drawbridge");
  auto perms = std::filesystem::status(dir.path() / "issuer-key.pem").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  TokenVerifier v(system_clock());
  v.add_issuer(li.issuer_config());
  auto tok = li.mint("alice", all_manage_scopes(), std::chrono::hours(1), std::chrono::system_clock::now());
  auto c = v.verify(tok);
  EXPECT_EQ(c.subject, "alice");
  EXPECT_TRUE(c.has_scope(ScopeLevel::Write, ScopeContext::Tags));
  // The same key is loaded again (tokens survive restarts).
  auto again = LocalIssuer::load_or_create(dir.path(), "drawbridge-local", "drawbridge");
  TokenVerifier v2(system_clock());
  v2.add_issuer(again.issuer_config());
  EXPECT_EQ(v2.verify(tok).subject, "alice");
  auto expired = li.mint("alice", {}, std::chrono::hours(1), std::chrono::system_clock::now() - std::chrono::hours(3));
  EXPECT_EQ(code_of(v, expired), "drawbridge.auth.expired");
  // JWKS round trip keeps both key types usable.
  auto rsa = PrivateKey::generate(KeyType::Rsa);
  auto keys = parse_jwks(jwks_to_json({li.issuer_config().keys[0], Jwk{"r", "RS256", rsa.public_key()}}));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys[1].key == rsa.public_key());
}

// A verifier trusting one static key (no network), and the means to sign any text with it, so
// tests can build tokens whose parts are spelled exactly as they like.
class StaticIssuer {
 public:
  explicit StaticIssuer(KeyType type) : key_(PrivateKey::generate(type)), v_(system_clock()) {
    IssuerConfig ic;
    ic.issuer = kIssuer;
    ic.audience = "drawbridge";
    ic.keys.push_back(Jwk{"k", type == KeyType::Rsa ? "RS256" : "ES256", key_.public_key()});
    v_.add_issuer(ic);
  }
  static constexpr const char* kIssuer = "https://static.example";
  TokenVerifier& verifier() { return v_; }
  std::string jwt(const nlohmann::json& c) { return sign_jwt(key_, "k", c); }
  std::string header() const {
    return nlohmann::json{{"alg", key_.type() == KeyType::Rsa ? "RS256" : "ES256"}, {"kid", "k"}, {"typ", "JWT"}}.dump();
  }
  // header.payload as given, signed (RS256 only: ES256 would need the low-S rule below).
  std::string sign_text(const std::string& header_b64, const std::string& payload_b64) {
    auto input = header_b64 + "." + payload_b64;
    return input + "." + to_base64url(key_.sign(DigestAlgorithm::Sha256, as_bytes(input)));
  }

 private:
  PrivateKey key_;
  TokenVerifier v_;
};

nlohmann::json static_claims(std::int64_t iat_offset = 0) {
  return {{"iss", StaticIssuer::kIssuer}, {"aud", "drawbridge"}, {"sub", "alice"}, {"iat", now_s() + iat_offset},
          {"exp", now_s() + iat_offset + 3600}, {"scope", "manage:drawbridge_tags"}};
}

// Finding: only nbf was checked against the clock at the start of the validity window; a token
// issued an hour from now was accepted.
TEST(DrawbridgeAuth, RejectsIatInTheFuture) {
  for (auto type : {KeyType::EcP256, KeyType::Rsa}) {
    StaticIssuer is(type);
    EXPECT_EQ(code_of(is.verifier(), is.jwt(static_claims(3600))), "drawbridge.auth.not_yet_valid");
    EXPECT_EQ(code_of(is.verifier(), is.jwt(static_claims(61 + 5))), "drawbridge.auth.not_yet_valid");
    // Within the 60 s leeway (clocks drift), and in the past: fine.
    EXPECT_EQ(code_of(is.verifier(), is.jwt(static_claims(30))), "");
    EXPECT_EQ(code_of(is.verifier(), is.jwt(static_claims(-600))), "");
  }
}

// "=" appended up to a multiple of 4: what a lenient decoder accepts as the same bytes.
std::string padded(const std::string& b64) { return b64 + std::string((4 - b64.size() % 4) % 4, '='); }
// The last character with its lowest bit set: for a length that is not a multiple of 4 that
// bit is a trailing bit that decodes to nothing.
std::string trailing_bit(std::string b64) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto& last = b64.back();
  last = kAlphabet[kAlphabet.find(last) | 1];
  return b64;
}

// Finding: padded base64url was decoded like the canonical text, so one token had several
// spellings (the signature part is not even signed). Each part must be exactly what encoding
// its bytes gives.
TEST(DrawbridgeAuth, RejectsNonCanonicalBase64url) {
  StaticIssuer is(KeyType::Rsa);
  auto& v = is.verifier();
  auto header = to_base64url(as_bytes(is.header()));
  auto claims = static_claims();
  // A payload whose encoding has a partial last group (so padding and trailing bits exist).
  for (std::string jti; to_base64url(as_bytes(claims.dump())).size() % 4 == 0; jti += "x") claims["jti"] = jti;
  auto payload = to_base64url(as_bytes(claims.dump()));
  ASSERT_NE(header.size() % 4, 0u);
  ASSERT_NE(payload.size() % 4, 0u);
  auto good = is.sign_text(header, payload);
  ASSERT_EQ(code_of(v, good), "");

  // Padding, each part in turn (header and payload re-signed: the signature is valid for the
  // text as spelled).
  EXPECT_EQ(code_of(v, is.sign_text(padded(header), payload)), "drawbridge.auth.token_malformed");
  EXPECT_EQ(code_of(v, is.sign_text(header, padded(payload))), "drawbridge.auth.token_malformed");
  // Non-zero trailing bits.
  EXPECT_EQ(code_of(v, is.sign_text(trailing_bit(header), payload)), "drawbridge.auth.token_malformed");
  EXPECT_EQ(code_of(v, is.sign_text(header, trailing_bit(payload))), "drawbridge.auth.token_malformed");
  // The signature part, which no signature covers: an ES256 signature (64 bytes) has a
  // partial last group.
  StaticIssuer es(KeyType::EcP256);
  auto es_good = es.jwt(static_claims());
  ASSERT_EQ(code_of(es.verifier(), es_good), "");
  auto dot = es_good.rfind('.') + 1;
  auto signed_part = es_good.substr(0, dot), sig = es_good.substr(dot);
  ASSERT_NE(sig.size() % 4, 0u);
  EXPECT_EQ(code_of(es.verifier(), signed_part + padded(sig)), "drawbridge.auth.token_malformed");
  EXPECT_EQ(code_of(es.verifier(), signed_part + trailing_bit(sig)), "drawbridge.auth.token_malformed");
  // Standard base64's alphabet is not base64url's.
  auto plus = good;
  std::replace(plus.begin(), plus.end(), '-', '+');
  if (plus != good) {
    EXPECT_EQ(code_of(v, plus), "drawbridge.auth.token_malformed");
  }
  EXPECT_EQ(code_of(v, good), "");
}

// P-256 group order n and n/2, big-endian.
constexpr std::uint8_t kOrder[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                     0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
constexpr std::uint8_t kHalfOrder[32] = {0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF,
                                         0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B,
                                         0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};

// The same token with s replaced by n - s: an equally valid ECDSA signature.
std::string flip_s(const std::string& jwt) {
  auto dot = jwt.rfind('.');
  auto sig = from_base64url(jwt.substr(dot + 1));
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kOrder[i] - sig[32 + static_cast<std::size_t>(i)] - borrow;
    borrow = d < 0;
    sig[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
  }
  return jwt.substr(0, dot + 1) + to_base64url(sig);
}

bool low_s(const std::string& jwt) {
  auto sig = from_base64url(jwt.substr(jwt.rfind('.') + 1));
  return sig.size() == 64 && std::memcmp(sig.data() + 32, kHalfOrder, 32) <= 0;
}

// Finding: ECDSA accepts (r, s) and (r, n - s) alike, so every ES256 token had a second valid
// spelling. Only low-S is accepted now — and the project's own signer must produce only that,
// or about half of its tokens (the local issuer's, the tests') would be refused.
TEST(DrawbridgeAuth, Es256SignaturesAreLowS) {
  StaticIssuer is(KeyType::EcP256);
  TempDir dir("drawbridge-issuer");
  auto li = LocalIssuer::load_or_create(dir.path(), "drawbridge-local", "drawbridge");
  TokenVerifier lv(system_clock());
  lv.add_issuer(li.issuer_config());
  constexpr int kTokens = 48;
  int signed_high = 0, high_accepted = 0, low_refused = 0;
  for (int i = 0; i < 2 * kTokens; ++i) {
    const bool local = i % 2 == 1;  // sign_jwt directly, and through the local issuer
    auto tok = local ? li.mint("alice", all_manage_scopes(), std::chrono::hours(1), std::chrono::system_clock::now())
                     : is.jwt(static_claims());
    auto& v = local ? lv : is.verifier();
    if (!low_s(tok)) ++signed_high;
    auto low = low_s(tok) ? tok : flip_s(tok), high = low_s(tok) ? flip_s(tok) : tok;
    ASSERT_TRUE(low_s(low) && !low_s(high));
    if (code_of(v, high) != "drawbridge.auth.bad_signature") ++high_accepted;
    if (code_of(v, low) != "") ++low_refused;
  }
  EXPECT_EQ(high_accepted, 0) << "of " << 2 * kTokens << " high-S signatures";
  EXPECT_EQ(signed_high, 0) << "of " << 2 * kTokens << " tokens signed by sign_jwt were high-S";
  EXPECT_EQ(low_refused, 0);
}

TEST(DrawbridgeGuard, TokenBucketAndNetworks) {
  auto clock = std::make_shared<FixedClock>(std::chrono::system_clock::now());
  RateLimiter rl(2, 3, clock);
  EXPECT_TRUE(rl.allow("a"));
  EXPECT_TRUE(rl.allow("a"));
  EXPECT_TRUE(rl.allow("a"));
  double retry = 0;
  EXPECT_FALSE(rl.allow("a", &retry));
  EXPECT_GT(retry, 0);
  EXPECT_TRUE(rl.allow("b"));
  clock->set(clock->now() + std::chrono::milliseconds(600));
  EXPECT_TRUE(rl.allow("a"));
  EXPECT_FALSE(rl.allow("a"));

  NetworkAllowList nets({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32"});
  EXPECT_TRUE(nets.allows("10.1.2.3"));
  EXPECT_FALSE(nets.allows("11.0.0.1"));
  EXPECT_TRUE(nets.allows("192.168.1.7"));
  EXPECT_FALSE(nets.allows("192.168.1.8"));
  EXPECT_TRUE(nets.allows("2001:db8:1::5"));
  EXPECT_FALSE(nets.allows("2001:db9::1"));
  EXPECT_FALSE(nets.allows("garbage"));
  EXPECT_TRUE(NetworkAllowList().allows("1.2.3.4"));
  EXPECT_THROW(NetworkAllowList({"10.0.0.0/33"}), Error);
  EXPECT_THROW(NetworkAllowList({"nonsense"}), Error);
  EXPECT_EQ(client_ip("127.0.0.1:5555"), "127.0.0.1");
  EXPECT_EQ(client_ip("[::1]:5555"), "::1");
  EXPECT_EQ(client_ip("::1"), "::1");
}

// A client with many addresses (an IPv6 /64 has 2^64) cannot grow the limiter's table: its
// addresses share one bucket per /64, and past max_clients the least recently used bucket goes.
TEST(DrawbridgeGuard, RateLimiterTableIsBounded) {
  auto clock = std::make_shared<FixedClock>(std::chrono::system_clock::now());
  RateLimiter rl(1, 2, clock, 1000);
  for (int i = 0; i < 100000; ++i) {
    rl.allow("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256));
  }
  EXPECT_EQ(rl.size(), 1000u);
  // The most recent client keeps its (drained) bucket.
  EXPECT_TRUE(rl.allow("192.0.2.1"));
  EXPECT_TRUE(rl.allow("192.0.2.1"));
  EXPECT_FALSE(rl.allow("192.0.2.1"));
  EXPECT_EQ(rl.size(), 1000u);
  // Every address of a /64 is one client.
  EXPECT_EQ(client_prefix("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_prefix("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_prefix("192.0.2.1"), "192.0.2.1");
  RateLimiter v6(1, 2, clock);
  EXPECT_TRUE(v6.allow(client_prefix("2001:db8::1")));
  EXPECT_TRUE(v6.allow(client_prefix("2001:db8::2")));
  EXPECT_FALSE(v6.allow(client_prefix("2001:db8::3")));
  EXPECT_EQ(v6.size(), 1u);
}

// An issuer publishing thousands of keys (misconfigured or hostile) costs a bounded key table.
TEST(DrawbridgeAuth, JwksKeysAreCapped) {
  MockOidc idp;
  std::vector<Jwk> keys;
  const auto pub = PrivateKey::generate(KeyType::EcP256).public_key();
  for (int i = 0; i < 1000; ++i) keys.push_back(Jwk{"k" + std::to_string(i), "ES256", pub});
  idp.set_keys(keys);
  TokenVerifier v(system_clock());
  IssuerConfig ic;
  ic.issuer = idp.issuer();
  ic.audience = "drawbridge";
  ic.fetch_jwks = oidc_jwks_fetcher(idp.issuer());
  v.add_issuer(ic);
  EXPECT_EQ(v.key_count(idp.issuer()), kMaxJwksKeys);
  // Tokens naming unknown keys do not make the registry fetch the key set each time: at most
  // once per 30 s per issuer (here: not again after the start-up fetch).
  const int fetched = idp.fetches.load();
  const auto signer = PrivateKey::generate(KeyType::EcP256);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(code_of(v, sign_jwt(signer, "unknown" + std::to_string(i), claims(idp.issuer()))),
              "drawbridge.auth.unknown_key");
  }
  EXPECT_EQ(idp.fetches.load(), fetched);
}

}  // namespace
