#include "drawbridge/auth.h"

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "jose/jose.h"
#include "net/http_client.h"

namespace enarx::drawbridge {
namespace {

constexpr auto kLeeway = std::chrono::seconds(60);

[[noreturn]] void auth_fail(std::string_view code, std::string_view message) {
  throw Error(ErrorKind::kUnauthenticated, "drawbridge.auth." + std::string(code), std::string(message));
}

nlohmann::json parse_json_object(ByteView data, std::string_view code, std::string_view what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data.begin(), data.end());
  } catch (const nlohmann::json::exception&) {
    auth_fail(code, std::string(what) + " is not JSON");
  }
  if (!j.is_object()) auth_fail(code, std::string(what) + " is not a JSON object");
  return j;
}

// Token failures are 401s under drawbridge's codes, worded as Drawbridge words them.
constexpr jose::Codes kTokenCodes{ErrorKind::kUnauthenticated, "drawbridge.auth.token_malformed",
                                  "drawbridge.auth.unsupported_alg", "Invalid token provided: "};
constexpr jose::Codes kJwksCodes{ErrorKind::kUnauthenticated, "drawbridge.auth.jwks_invalid",
                                 "drawbridge.auth.jwks_invalid", ""};

// The algorithms drawbridge takes for bearer tokens (a JWKS may publish others; they are skipped).
std::optional<jose::Alg> token_alg(std::string_view name) {
  auto alg = jose::parse_alg(name);
  if (alg != jose::Alg::RS256 && alg != jose::Alg::ES256) return std::nullopt;
  return alg;
}

std::string str_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string scope_name(std::string_view level, ScopeContext context) {
  std::string ctx = context == ScopeContext::Users          ? "drawbridge_users"
                    : context == ScopeContext::Repositories ? "drawbridge_repositories"
                                                            : "drawbridge_tags";
  return std::string(level) + ":" + ctx;
}

std::vector<std::string> all_manage_scopes() {
  return {scope_name("manage", ScopeContext::Users), scope_name("manage", ScopeContext::Repositories),
          scope_name("manage", ScopeContext::Tags)};
}

bool TokenClaims::has_scope(ScopeLevel level, ScopeContext context) const {
  auto want = scope_name(level == ScopeLevel::Read ? "read" : "write", context);
  auto manage = scope_name("manage", context);
  return std::any_of(scopes.begin(), scopes.end(), [&](const std::string& s) { return s == want || s == manage; });
}

std::string key_id_for(const PublicKey& key) {
  auto id = to_base64url(sha256(key.spki_der()));
  return id.substr(0, 22);
}

std::vector<Jwk> parse_jwks(std::string_view json) {
  auto doc = parse_json_object(as_bytes(json), "jwks_invalid", "JWKS");
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) auth_fail("jwks_invalid", "JWKS has no \"keys\" array");
  std::vector<Jwk> out;
  for (const auto& k : *keys) {
    if (!k.is_object()) continue;
    auto kid = str_field(k, "kid"), kty = str_field(k, "kty"), use = str_field(k, "use");
    if (kid.empty() || (!use.empty() && use != "sig")) continue;
    try {
      if (kty == "RSA") {
        auto alg = str_field(k, "alg");
        if (!alg.empty() && alg != "RS256") continue;
        auto key = jose::key_from_jwk(k, kJwksCodes);
        if (key.bits() < 2048) continue;
        out.push_back(Jwk{kid, "RS256", key});
      } else if (kty == "EC" && str_field(k, "crv") == "P-256") {
        auto alg = str_field(k, "alg");
        if (!alg.empty() && alg != "ES256") continue;
        out.push_back(Jwk{kid, "ES256", jose::key_from_jwk(k, kJwksCodes)});
      }
    } catch (const Error& e) {
      log::warn("drawbridge.jwks.key_skipped", {{"kid", kid}, {"reason", e.code()}});
    }
  }
  return out;
}

nlohmann::json jwk_to_json(const Jwk& jwk) {
  nlohmann::json j = jose::jwk_from_key(jwk.key, kJwksCodes);
  j["kid"] = jwk.kid;
  j["alg"] = jwk.alg;
  j["use"] = "sig";
  return j;
}

std::string jwks_to_json(const std::vector<Jwk>& keys) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& k : keys) arr.push_back(jwk_to_json(k));
  return nlohmann::json{{"keys", arr}}.dump();
}

std::string sign_jwt(const PrivateKey& key, std::string_view kid, const nlohmann::json& claims) {
  auto alg = jose::alg_for_key(key.type());
  require(alg == jose::Alg::RS256 || alg == jose::Alg::ES256, ErrorKind::kUnauthenticated, "drawbridge.auth.key",
          "JWT keys are RSA or P-256");
  nlohmann::json header = {{"kid", std::string(kid)}, {"typ", "JWT"}};
  return jose::sign_compact(*alg, key, header, as_bytes(claims.dump()));
}

TokenVerifier::TokenVerifier(std::shared_ptr<const Clock> clock) : clock_(std::move(clock)) {}

bool TokenVerifier::empty() const {
  std::lock_guard lock(mu_);
  return issuers_.empty();
}

std::size_t TokenVerifier::key_count(const std::string& issuer) const {
  std::lock_guard lock(mu_);
  auto it = issuers_.find(issuer);
  return it == issuers_.end() ? 0 : it->second->keys.size();
}

std::optional<std::string> TokenVerifier::sole_issuer() const {
  std::lock_guard lock(mu_);
  if (issuers_.size() != 1) return std::nullopt;
  return issuers_.begin()->first;
}

void TokenVerifier::add_issuer(IssuerConfig config) {
  auto state = std::make_shared<IssuerState>();
  for (const auto& k : config.keys) state->keys[k.kid] = k;
  state->config = std::move(config);
  if (state->config.fetch_jwks) refresh(*state, true);
  std::lock_guard lock(mu_);
  issuers_[state->config.issuer] = state;
}

void TokenVerifier::refresh(IssuerState& state, bool forced) {
  auto now = clock_->now();
  {
    std::lock_guard lock(mu_);
    if (!state.config.fetch_jwks) return;
    auto since = now - state.last_fetch;
    if (state.fetched && since < (forced ? state.config.min_refresh_interval : state.config.refresh_interval)) return;
    state.last_fetch = now;
  }
  try {
    auto keys = parse_jwks(state.config.fetch_jwks());
    if (keys.size() > kMaxJwksKeys) {
      // A key set this large is a misconfigured or hostile issuer: lookups stay bounded.
      log::warn("drawbridge.jwks.too_many_keys", {{"issuer", state.config.issuer}, {"keys", keys.size()}});
      keys.resize(kMaxJwksKeys);
    }
    std::lock_guard lock(mu_);
    state.keys.clear();
    for (const auto& k : state.config.keys) state.keys[k.kid] = k;
    for (auto& k : keys) state.keys[k.kid] = std::move(k);
    state.fetched = true;
    log::info("drawbridge.jwks.refreshed", {{"issuer", state.config.issuer}, {"keys", state.keys.size()}});
  } catch (const Error& e) {
    log::warn("drawbridge.jwks.fetch_failed", {{"issuer", state.config.issuer}, {"code", e.code()}, {"error", e.what()}});
  }
}

TokenClaims TokenVerifier::verify(std::string_view jwt) {
  if (jwt.size() > 16384) auth_fail("token_malformed", "Invalid token provided: not a compact JWS");
  auto token = jose::decode_jwt(jwt, kTokenCodes);
  const auto& header = token.header;
  const auto& claims = token.claims;
  auto alg_name = str_field(header, "alg"), kid = str_field(header, "kid");
  auto alg = token_alg(alg_name);
  if (!alg) auth_fail("unsupported_alg", "Invalid token provided: unsupported alg");
  if (kid.empty()) auth_fail("token_malformed", "Invalid token provided: missing kid");
  auto iss = str_field(claims, "iss");

  std::shared_ptr<IssuerState> state;
  {
    std::lock_guard lock(mu_);
    auto it = issuers_.find(iss);
    if (it == issuers_.end()) auth_fail("unknown_issuer", "Invalid token provided: untrusted issuer");
    state = it->second;
  }
  refresh(*state, false);
  auto find_key = [&]() -> std::optional<Jwk> {
    std::lock_guard lock(mu_);
    auto it = state->keys.find(kid);
    if (it == state->keys.end()) return std::nullopt;
    return it->second;
  };
  auto key = find_key();
  if (!key) {
    refresh(*state, true);
    key = find_key();
  }
  if (!key) auth_fail("unknown_key", "Invalid token provided: unknown key id");
  if (key->alg != alg_name) auth_fail("unsupported_alg", "Invalid token provided: alg does not match the key");
  // Low-S only: one token, one spelling (auth.h).
  if (!jose::verify(*alg, key->key, token.signing_input, token.signature, jose::LowS::kRequired))
    auth_fail("bad_signature", "Invalid token provided: bad signature");

  auto now = clock_->now();
  auto num_time = [&](const char* name) -> std::optional<TimePoint> {
    auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number()) auth_fail("token_malformed", std::string("Invalid token provided: ") + name + " is not a number");
    return TimePoint(std::chrono::seconds(it->get<std::int64_t>()));
  };
  auto exp = num_time("exp");
  auto iat = num_time("iat");
  auto nbf = num_time("nbf");
  if (!exp || !iat) auth_fail("missing_claim", "Invalid token provided: exp and iat are required");
  if (*exp + kLeeway < now) auth_fail("expired", "Invalid token provided: token expired");
  if (nbf && *nbf - kLeeway > now) auth_fail("not_yet_valid", "Invalid token provided: token not yet valid");
  // Issued in the future: a wrong clock, or a token minted to look fresh later (anything that
  // judges a token's age goes by iat). Not valid yet, like an nbf in the future.
  if (*iat - kLeeway > now) auth_fail("not_yet_valid", "Invalid token provided: issued in the future");
  bool aud_ok = false;
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_string()) aud_ok = it->get<std::string>() == state->config.audience;
    if (it->is_array())
      for (const auto& a : *it) aud_ok = aud_ok || (a.is_string() && a.get<std::string>() == state->config.audience);
  }
  if (!aud_ok) auth_fail("wrong_audience", "Invalid token provided: wrong audience");
  TokenClaims out;
  out.issuer = iss;
  out.subject = str_field(claims, "sub");
  out.expires = *exp;
  if (out.subject.empty()) auth_fail("missing_claim", "Invalid token provided: sub is required");
  auto scope_it = claims.find("scope");
  if (scope_it == claims.end() || !scope_it->is_string()) auth_fail("missing_claim", "Invalid token provided: scope is required");
  std::istringstream scopes(scope_it->get<std::string>());
  for (std::string s; scopes >> s;) out.scopes.push_back(s);
  return out;
}

std::function<std::string()> oidc_jwks_fetcher(std::string issuer, std::string ca_file) {
  return [issuer = std::move(issuer), ca_file = std::move(ca_file)]() -> std::string {
    net::ClientOptions opts;
    opts.timeout = std::chrono::seconds(10);
    opts.max_retries = 1;
    opts.max_response_size = 1 << 20;
    if (!ca_file.empty()) opts.tls.ca_file = ca_file;
    net::HttpClient client(opts);
    auto base = issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto disco = client.get(base + "/.well-known/openid-configuration");
    disco.raise_for_status();
    auto doc = parse_json_object(as_bytes(disco.body), "jwks_invalid", "OIDC discovery document");
    auto jwks_uri = str_field(doc, "jwks_uri");
    if (jwks_uri.empty()) auth_fail("jwks_invalid", "OIDC discovery document has no jwks_uri");
    auto jwks = client.get(jwks_uri);
    jwks.raise_for_status();
    return jwks.body;
  };
}

LocalIssuer LocalIssuer::load_or_create(const std::filesystem::path& data_dir, std::string issuer,
                                        std::string audience) {
  namespace fs = std::filesystem;
  fs::create_directories(data_dir);
  auto path = data_dir / "issuer-key.pem";
  LocalIssuer li;
  if (fs::exists(path)) {
    li.key_ = PrivateKey::from_pem(read_text_file(path));
  } else {
    li.key_ = PrivateKey::generate(KeyType::EcP256);
    write_file_atomic(path, li.key_.to_pem_pkcs8(), 0600);
    log::info("drawbridge.issuer.key_created", {{"path", path.string()}});
  }
  require(li.key_.type() == KeyType::EcP256, ErrorKind::kUnauthenticated, "drawbridge.auth.key", "issuer key must be P-256");
  li.kid_ = key_id_for(li.key_.public_key());
  li.issuer_ = std::move(issuer);
  li.audience_ = std::move(audience);
  return li;
}

std::string LocalIssuer::mint(std::string_view subject, const std::vector<std::string>& scopes,
                              std::chrono::seconds ttl, TimePoint now) const {
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::json claims = {{"iss", issuer_}, {"aud", audience_}, {"sub", std::string(subject)},
                           {"scope", scope}, {"iat", secs}, {"exp", secs + ttl.count()}};
  return sign_jwt(key_, kid_, claims);
}

IssuerConfig LocalIssuer::issuer_config() const {
  IssuerConfig c;
  c.issuer = issuer_;
  c.audience = audience_;
  c.keys.push_back(Jwk{kid_, "ES256", key_.public_key()});
  return c;
}

}  // namespace enarx::drawbridge
