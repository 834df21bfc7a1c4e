// Authentication: OIDC bearer tokens (JWT, RS256 or ES256) verified against issuers' JWKS, and
// a local issuer for the embedded quick start (`drawbridge token`).
//
// Claims checked (as Drawbridge v0.3+): `kid` header names a key of the issuer's JWKS; `iss`
// equals a configured issuer; `aud` (string or array) contains that issuer's audience; `exp`
// in the future, `iat` present and not in the future, `nbf` (if present) not in the future (60 s
// leeway each); `sub` and `scope` (space-separated) present.
// Stricter than Drawbridge, so that one token has exactly one spelling: every part must be
// canonical base64url (no padding, zero trailing bits), and ES256 signatures must be low-S
// (s <= n/2; sign_jwt produces only those). Scopes are `<read|write|manage>:drawbridge_
// <users|repositories|tags>`; `manage` satisfies read and write.
// JWKS are refreshed periodically and on an unknown `kid` (at most every 30 s per issuer); at
// most kMaxJwksKeys fetched keys are kept per issuer (an issuer publishes a handful).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/crypto.h"

namespace enarx::drawbridge {

enum class ScopeLevel { Read, Write };
enum class ScopeContext { Users, Repositories, Tags };
std::string scope_name(std::string_view level, ScopeContext context);  // "read:drawbridge_tags"
std::vector<std::string> all_manage_scopes();

struct TokenClaims {
  std::string issuer;
  std::string subject;
  std::vector<std::string> scopes;
  TimePoint expires;
  bool has_scope(ScopeLevel level, ScopeContext context) const;
};

inline constexpr std::size_t kMaxJwksKeys = 64;

struct Jwk {
  std::string kid;
  std::string alg;  // "RS256" or "ES256"
  PublicKey key;
};
// Keys we cannot use (other types, curves, or no kid) are skipped, not fatal.
// Throws Error("drawbridge.auth.jwks_invalid") if the document is not a JWKS.
std::vector<Jwk> parse_jwks(std::string_view json);
nlohmann::json jwk_to_json(const Jwk& jwk);
std::string jwks_to_json(const std::vector<Jwk>& keys);
// RFC 7638-style thumbprint used as kid for generated keys (base64url SHA-256 of the SPKI).
std::string key_id_for(const PublicKey& key);

// Compact JWS over `claims` with header {"alg","kid","typ":"JWT"}; RS256 for RSA keys, ES256
// for P-256 keys, always low-S. (The local issuer and tests use it.)
std::string sign_jwt(const PrivateKey& key, std::string_view kid, const nlohmann::json& claims);

struct IssuerConfig {
  std::string issuer;
  std::string audience;
  std::vector<Jwk> keys;                        // initial / static keys
  std::function<std::string()> fetch_jwks;      // null = static keys only
  std::chrono::seconds refresh_interval{3600};
  std::chrono::seconds min_refresh_interval{30};
};

class TokenVerifier {
 public:
  explicit TokenVerifier(std::shared_ptr<const Clock> clock);
  // Fetches the JWKS at once when a fetcher is given (a failure is logged; retried lazily).
  void add_issuer(IssuerConfig config);
  bool empty() const;
  // Keys currently known for `issuer` (0 for an unknown issuer).
  std::size_t key_count(const std::string& issuer) const;
  // Throws Error with codes drawbridge.auth.token_malformed (incl. non-canonical base64url),
  // .unsupported_alg, .unknown_issuer, .unknown_key, .bad_signature (incl. high-S ES256),
  // .expired, .not_yet_valid (nbf or iat in the future), .wrong_audience, .missing_claim.
  TokenClaims verify(std::string_view jwt);
  // The issuer's name when exactly one is configured (see Registry: users stored before issuers
  // were recorded belong to it); nullopt otherwise.
  std::optional<std::string> sole_issuer() const;

 private:
  struct IssuerState {
    IssuerConfig config;
    std::map<std::string, Jwk> keys;
    TimePoint last_fetch{};
    bool fetched = false;
  };
  void refresh(IssuerState& state, bool forced);

  std::shared_ptr<const Clock> clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<IssuerState>> issuers_;
};

// OIDC discovery: GET <issuer>/.well-known/openid-configuration, then its jwks_uri. `ca_file`
// (optional) replaces the system trust store for these fetches.
std::function<std::string()> oidc_jwks_fetcher(std::string issuer, std::string ca_file = {});

// Drawbridge as its own token issuer: an ES256 (P-256) key kept in <data_dir>/issuer-key.pem
// (0600), created on first use.
class LocalIssuer {
 public:
  static LocalIssuer load_or_create(const std::filesystem::path& data_dir, std::string issuer,
                                    std::string audience);
  std::string mint(std::string_view subject, const std::vector<std::string>& scopes,
                   std::chrono::seconds ttl, TimePoint now) const;
  IssuerConfig issuer_config() const;
  const std::string& issuer() const { return issuer_; }

 private:
  PrivateKey key_;
  std::string kid_, issuer_, audience_;
};

}  // namespace enarx::drawbridge
