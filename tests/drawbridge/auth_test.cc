// Bearer tokens: RS256 via a mock OIDC provider (discovery + JWKS over the net HTTP client),
// ES256 via the local issuer; every rejection has its own code; key rotation on unknown kid.
#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
