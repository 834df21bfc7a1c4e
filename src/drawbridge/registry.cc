#include "drawbridge/registry.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "drawbridge/audit.h"
#include "drawbridge/model.h"
#include "identity/names.h"
#include "identity/keep_certificate.h"
#include "identity/slug.h"
#include "net/router.h"

namespace enarx::drawbridge {

// The registry's name grammars and slugs live in the identity library.
using namespace enarx::identity;
namespace {

[[noreturn]] void fail(int status, std::string code, const std::string& message) {
  throw net::HttpError(status, std::move(code), message);
}
[[noreturn]] void not_found() { fail(404, "drawbridge.not_found", "Not found"); }

enum class Kind {
  User, RepoList, Repo, TagList, Tag, Tree,
  // Which steward (docs/drawbridge.md "Which steward").
  RepoSteward, TagSteward,
  // Sharing (docs/drawbridge.md "Sharing").
  GroupList, Group, GroupMember, GrantList, UserGrant, GroupGrant,
  // Yank, audit log, quotas (docs/drawbridge.md "Yank and delete", "Registry audit log", "Quotas").
  TagYank, Audit, Usage,
};

struct Target {
  Kind kind = Kind::User;
  std::string user, repo, tag;
  std::string group;    // Group, GroupMember, GroupGrant
  std::string grantee;  // GroupMember (the member), UserGrant (the user)
  std::vector<std::string> path;
  std::string tree_path() const { return join_tree_path(path); }
};

// The API's resources, one route each (the pattern is also the route's metrics label). A tree
// path of any depth, the root included, is the `path` wildcard.
struct ApiRoute {
  Kind kind;
  std::string_view pattern;
  bool writable;
  bool deletable = false;
};
constexpr ApiRoute kApiRoutes[] = {
    {Kind::User, "/api/v{version}/{user}", true},
    {Kind::RepoList, "/api/v{version}/{user}/_repos", false},
    {Kind::Repo, "/api/v{version}/{user}/{repo}", true, true},
    {Kind::RepoSteward, "/api/v{version}/{user}/{repo}/_steward", true},
    {Kind::TagList, "/api/v{version}/{user}/{repo}/_tag", false},
    {Kind::Tag, "/api/v{version}/{user}/{repo}/_tag/{tag}", true, true},
    {Kind::TagSteward, "/api/v{version}/{user}/{repo}/_tag/{tag}/_steward", false},
    {Kind::Tree, "/api/v{version}/{user}/{repo}/_tag/{tag}/tree/{path*}", true},
    {Kind::GroupList, "/api/v{version}/{user}/_groups", false},
    {Kind::Group, "/api/v{version}/{user}/_groups/{group}", true, true},
    {Kind::GroupMember, "/api/v{version}/{user}/_groups/{group}/members/{member}", true, true},
    {Kind::GrantList, "/api/v{version}/{user}/{repo}/_grants", false},
    {Kind::UserGrant, "/api/v{version}/{user}/{repo}/_grants/users/{grantee}", true, true},
    {Kind::GroupGrant, "/api/v{version}/{user}/{repo}/_grants/groups/{group}", true, true},
    {Kind::TagYank, "/api/v{version}/{user}/{repo}/_tag/{tag}/_yank", true, true},
    {Kind::Audit, "/api/v{version}/{user}/_audit", false},
    {Kind::Usage, "/api/v{version}/{user}/_usage", false},
};

// Group names take the repository grammar, under a code of their own.
void validate_group_name(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 128 &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '-'; });
  require(ok, ErrorKind::kInvalidInput, "drawbridge.name.group", "Invalid group name");
}


void check_version(const std::string& version) {
  SemVer requested, ours = SemVer::parse(kApiVersion);
  try {
    requested = SemVer::parse(version);
  } catch (const Error&) {
    fail(400, "drawbridge.bad_version", "Invalid API version 'v" + version.substr(0, 40) + "'");
  }
  bool newer = requested.major > ours.major ||
               (requested.major == ours.major && ours.major == 0 && requested.minor > ours.minor);
  if (newer) fail(501, "drawbridge.unsupported_version", "Unsupported API version");
}

// The resource a routed request names, its captures validated against the name grammars.
Target target_of(Kind kind, const net::Request& req) {
  auto param = [&](std::string_view name) -> const std::string& {
    auto it = req.params.find(name);
    if (it == req.params.end()) not_found();
    return it->second;
  };
  check_version(param("version"));
  Target t;
  t.kind = kind;
  t.user = param("user");
  validate_user_name(t.user);
  if (kind == Kind::User || kind == Kind::RepoList || kind == Kind::GroupList || kind == Kind::Audit ||
      kind == Kind::Usage)
    return t;
  if (kind == Kind::Group || kind == Kind::GroupMember) {
    t.group = param("group");
    validate_group_name(t.group);
    if (kind == Kind::GroupMember) {
      t.grantee = param("member");
      validate_user_name(t.grantee);
    }
    return t;
  }
  t.repo = param("repo");
  validate_repo_name(t.repo);
  if (kind == Kind::Repo || kind == Kind::TagList || kind == Kind::GrantList || kind == Kind::RepoSteward) return t;
  if (kind == Kind::UserGrant) {
    t.grantee = param("grantee");
    validate_user_name(t.grantee);
    return t;
  }
  if (kind == Kind::GroupGrant) {
    t.group = param("group");
    validate_group_name(t.group);
    return t;
  }
  t.tag = param("tag");
  validate_tag_name(t.tag);
  if (kind == Kind::Tag || kind == Kind::TagSteward || kind == Kind::TagYank) return t;
  const std::string& path = param("path");
  // The router hands the wildcard over as decoded segments joined by '/' (none holds a '/').
  for (std::size_t start = 0; start < path.size();) {
    auto end = std::min(path.find('/', start), path.size());
    t.path.push_back(path.substr(start, end - start));
    validate_entry_name(t.path.back());
    start = end + 1;
  }
  require(t.path.size() < kMaxPathDepth, ErrorKind::kInvalidInput, "drawbridge.name.path", "tree path too deep");
  return t;
}

net::Response object_response(const std::string& meta_json, std::string body) {
  auto meta = parse_meta(meta_json);
  auto r = net::Response::bytes(200, std::move(body), meta.type);
  r.headers.set("Content-Digest", meta.digest.to_header());
  return r;
}

std::string body_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

// A file node's body, streamed to the store's spool by the HTTP server as it arrives.
class SpoolSink final : public net::RequestBodySink {
 public:
  explicit SpoolSink(std::unique_ptr<BlobSpool> s) : spool(std::move(s)) {}
  void write(const char* data, std::size_t size) override {
    spool->write(ByteView(reinterpret_cast<const std::uint8_t*>(data), size));
  }
  std::unique_ptr<BlobSpool> spool;
};

// The announced Content-Length (the server has already refused malformed ones); nullopt for a
// chunked body.
std::optional<std::uint64_t> content_length(const net::Request& req) {
  auto v = req.header("Content-Length");
  if (!v) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size()) return std::nullopt;
  return n;
}

}  // namespace

struct Registry::Impl {
  std::shared_ptr<Store> store;
  std::shared_ptr<TokenVerifier> tokens;
  RegistryOptions opt;
  RateLimiter limiter;
  NetworkAllowList allow;
  net::Counter* uploads = nullptr;
  net::Counter* limited = nullptr;
  net::Counter* sharing = nullptr;
  net::Counter* keeps_refused = nullptr;
  ReadCache cache;
  net::Counter* cache_lookups = nullptr;
  std::unique_ptr<Store::ChangeSubscription> change_feed;  // after cache, so gone before it is

  Impl(std::shared_ptr<Store> s, std::shared_ptr<TokenVerifier> t, RegistryOptions o)
      : store(std::move(s)), tokens(std::move(t)), opt(std::move(o)),
        limiter(opt.lookup_rate, opt.lookup_burst, opt.clock, opt.lookup_max_clients), allow(opt.allowed_networks),
        cache(opt.read_cache, opt.clock) {}

  struct Caller {
    std::optional<TokenClaims> token;
    std::vector<Slug> slugs;          // from a verified, accepted keep certificate
    std::optional<identity::KeepFacts> keep;  // what that certificate says was attested
  };

  // The bearer token only: what writes go by (keep certificates grant reads only).
  Caller identify_token(const net::Request& req) {
    Caller c;
    if (auto auth = req.header("Authorization")) {
      constexpr std::string_view kBearer = "Bearer ";
      if (auth->size() <= kBearer.size() || !net::iequals(std::string_view(*auth).substr(0, kBearer.size()), kBearer))
        fail(401, "drawbridge.auth.token_malformed", "Invalid token provided: expected a Bearer token");
      if (!tokens || tokens->empty()) fail(401, "drawbridge.auth.unknown_issuer", "This registry accepts no tokens");
      c.token = tokens->verify(std::string_view(*auth).substr(kBearer.size()));
    }
    return c;
  }

  Caller identify(const net::Request& req) {
    Caller c = identify_token(req);
    if (!req.peer_chain_der.empty() && !opt.client_ca.empty()) {
      try {
        auto leaf = Certificate::from_der(req.peer_chain_der.front());
        std::vector<Certificate> intermediates;
        for (std::size_t i = 1; i < req.peer_chain_der.size(); ++i)
          intermediates.push_back(Certificate::from_der(req.peer_chain_der[i]));
        ChainVerifyOptions vo;
        vo.at = opt.clock->now();
        vo.required_eku = "1.3.6.1.5.5.7.3.2";  // clientAuth
        const auto path = verify_chain(leaf, intermediates, opt.client_ca, vo);
        if (!opt.keep_crls.empty() && !keep_not_revoked(leaf, path, req)) return c;
        // Only a keep certificate grants anything: steward's claims say what was attested, and
        // a keep without hardware attestation (or with names for an unlisted runtime) is not
        // trusted with private content unless this registry is explicitly in development mode.
        auto facts = identity::read_keep_facts(leaf);
        if (!facts) {
          log::info("drawbridge.client_cert_not_a_keep", {{"request_id", req.request_id}});
          return c;
        }
        if (facts->insecure && !opt.accept_insecure_keeps) {
          log::warn("drawbridge.client_cert_insecure",
                    {{"reason", facts->insecure_reason}, {"request_id", req.request_id}});
          return c;
        }
        for (const auto& uri : leaf.subject_alt_names().uris) {
          try {
            if (auto s = parse_slug_uri(uri)) c.slugs.push_back(*s);
          } catch (const Error&) {
          }
        }
        c.keep = std::move(facts);
      } catch (const Error& e) {
        log::info("drawbridge.client_cert_rejected", {{"code", e.code()}, {"request_id", req.request_id}});
      }
    }
    return c;
  }

  // The keep CRLs' word on a verified client certificate (its issuer is path[1]): true only for
  // "current and not listed" from the monitor holding its issuer's CRL. Anything else grants
  // nothing, logged with the CRL's number. Each monitor answers kOtherIssuer for certificates
  // of another steward's CA, so the one that knows the issuer decides; while a monitor has no
  // valid CRL it cannot tell, and its kNoCrl / kStale stands (fail closed).
  bool keep_not_revoked(const Certificate& leaf, const std::vector<Certificate>& path, const net::Request& req) {
    using State = revocation::CrlMonitor::State;
    revocation::CrlMonitor::Verdict verdict{.state = State::kOtherIssuer};
    const revocation::CrlMonitor* decided_by = nullptr;
    if (path.size() >= 2) {
      for (const auto& monitor : opt.keep_crls) {
        const auto v = monitor->status(leaf, path[1]);
        if (v.state == State::kGood || v.state == State::kRevoked) {
          verdict = v;
          decided_by = monitor.get();
          break;
        }
        if (v.state != State::kOtherIssuer && verdict.state == State::kOtherIssuer) {
          verdict = v;
          decided_by = monitor.get();
        }
      }
    }
    if (verdict.state == State::kGood) return true;
    const std::string number = verdict.number ? std::to_string(*verdict.number) : std::string("-");
    const std::string state(revocation::to_string(verdict.state));
    if (keeps_refused) keeps_refused->inc({state});
    if (verdict.state == State::kRevoked) {
      log::warn("drawbridge.client_cert_revoked",
                {{"serial", leaf.serial_hex()}, {"reason", std::string(revocation::reason_name(verdict.reason))},
                 {"revoked_at", format_rfc3339(verdict.revoked_at)}, {"crl_number", number},
                 {"crl_url", decided_by->url()}, {"request_id", req.request_id}});
    } else if (decided_by) {
      const auto info = decided_by->info();
      log::warn("drawbridge.keep_crl_unusable",
                {{"state", state}, {"serial", leaf.serial_hex()}, {"crl_number", number},
                 {"crl_url", decided_by->url()},
                 {"crl_next_update", info.have ? format_rfc3339(info.next_update) : std::string("-")},
                 {"last_error", info.last_error}, {"request_id", req.request_id}});
    } else {
      log::warn("drawbridge.keep_crl_unusable",
                {{"state", state}, {"serial", leaf.serial_hex()}, {"issuer", leaf.issuer()},
                 {"detail", "no keeps.crl_url serves this steward CA's CRL"}, {"request_id", req.request_id}});
    }
    return false;
  }

  const TokenClaims& need_token(const Caller& c, ScopeLevel level, ScopeContext ctx) {
    if (!c.token) fail(401, "drawbridge.auth.missing_token", "Bearer token header missing");
    if (!c.token->has_scope(level, ctx))
      fail(401, "drawbridge.auth.missing_scope",
           "Token is missing a scope for level " + std::string(level == ScopeLevel::Read ? "read" : "write") +
               " (" + scope_name(level == ScopeLevel::Read ? "read" : "write", ctx) + ")");
    return *c.token;
  }

  // The one ownership rule: a user belongs to (issuer, subject), not to a subject alone. With
  // several issuers (the local one beside an OIDC provider) a `sub` is only unique within its
  // issuer, and anyone holding `drawbridge token` could mint an OIDC user's `sub` locally.
  bool owns(const StoredUser& u, const TokenClaims& t) const {
    return u.subject == t.subject && issued_by(u.issuer, t);
  }
  bool issued_by(const std::optional<std::string>& recorded, const TokenClaims& t) const {
    if (recorded) return *recorded == t.issuer;
    // Registered before issuers were recorded: the issuer is known only when there can have
    // been just one. Otherwise nobody owns the row (fail closed).
    auto only = tokens->sole_issuer();
    return only && *only == t.issuer;
  }

  // The registry users a token is: every user its (issuer, subject) owns, by the same rule as
  // owns() (a legacy row without issuer only while there is a sole issuer).
  std::vector<std::string> users_of(const TokenClaims& t) {
    std::vector<std::string> out;
    for (auto& u : store->user_for(t.issuer, t.subject))
      if (issued_by(u.issuer, t)) out.push_back(std::move(u.name));
    return out;
  }

  // What user/repo is shared with the token's users (directly or through a group of the
  // repository's owner). Looked up on every request: a revoked grant or a removed member is
  // refused on the very next one.
  std::optional<Access> granted(const std::string& user, const std::string& repo, const TokenClaims& t) {
    std::optional<Access> best;
    for (const auto& name : users_of(t)) {
      auto a = store->access_of(user, repo, name);
      if (a && (!best || *a == Access::Write)) best = a;
    }
    return best;
  }

  bool is_owner(const std::string& user, const TokenClaims& t) {
    auto u = store->get_user(user);
    return u && owns(*u, t);
  }

  // Could this caller upload nodes to user/repo's tags (a token with write:drawbridge_tags of
  // the owner or of a writer)?
  bool may_upload(const Caller& c, const std::string& user, const std::string& repo) {
    if (!c.token || !c.token->has_scope(ScopeLevel::Write, ScopeContext::Tags)) return false;
    return is_owner(user, *c.token) || granted(user, repo, *c.token) == Access::Write;
  }

  // For publishing (tag and tree PUTs): the owner, or a user with write access to the
  // repository. A missing user is 404; anyone else 401 not_owner whether or not the repository
  // exists (a repository without grants to the caller looks like a missing one); a reader
  // knows it exists and is told it may only read.
  void need_publisher(const Target& t, const TokenClaims& tok) {
    auto u = store->get_user(t.user);
    if (!u) fail(404, "drawbridge.not_found", "User does not exist");
    if (owns(*u, tok)) return;
    auto access = granted(t.user, t.repo, tok);
    if (access == Access::Write) return;
    if (access) fail(403, "drawbridge.auth.read_only", "You may read this repository but not publish to it");
    fail(401, "drawbridge.auth.not_owner", "You are logged in as " + tok.subject);
  }

  // For writes: the token must own `user` (a missing user is 404).
  void need_owner(const std::string& user, const TokenClaims& t) {
    auto u = store->get_user(user);
    if (!u) fail(404, "drawbridge.not_found", "User does not exist");
    if (!owns(*u, t)) fail(401, "drawbridge.auth.not_owner", "You are logged in as " + t.subject);
  }

  // May the caller's bearer token read this private repository (its owner, or a reader or
  // writer it is shared with)?
  bool token_may_read(const Caller& c, const std::string& user, const std::string& repo) {
    return c.token && c.token->has_scope(ScopeLevel::Read, ScopeContext::Repositories) &&
           (is_owner(user, *c.token) || granted(user, repo, *c.token).has_value());
  }

  // Which steward a keep deploying `t` should attest to (docs/drawbridge.md "Which steward").
  // Anyone may ask, before attesting. For a name the caller may not read — private or missing,
  // repository or tag — the answer is the registry's default, byte for byte the same whichever
  // it is, so the route tells an outsider nothing about private names.
  net::Response steward_answer(const Caller& c, const Target& t) {
    auto answer = [](const std::optional<std::string>& url, std::string_view source) {
      nlohmann::ordered_json j;
      j["steward"] = url ? nlohmann::ordered_json(*url) : nlohmann::ordered_json(nullptr);
      j["source"] = url ? source : "none";
      return listing(j.dump());
    };
    auto fallback = [&] {
      return answer(opt.default_steward.empty() ? std::nullopt : std::optional<std::string>(opt.default_steward),
                    "registry");
    };
    auto repo = store->get_repo(t.user, t.repo);
    if (!repo || !(repo->is_public || token_may_read(c, t.user, t.repo))) return fallback();
    if (t.kind == Kind::TagSteward) {
      // The registry reports what the stored tag says; a keep believes it only from a tag whose
      // signature it has verified itself (a plain entry is the registry's word, not the
      // publisher's, and is ignored here too).
      auto tag = store->get_tag(t.user, t.repo, t.tag);
      if (tag && tag->complete && parse_meta(tag->meta_json).type == kJwsType) {
        try {
          if (auto url = tag_steward(tag_root_entry(std::string(kJwsType), as_string(tag->content))))
            return answer(url, "tag");
        } catch (const Error& e) {
          log::warn("drawbridge.tag_steward_invalid", {{"code", e.code()}, {"tag", t.user + "/" + t.repo + ":" + t.tag}});
        }
      }
    }
    if (auto config = parse_repo(as_string(repo->content)); config.steward) return answer(config.steward, "repository");
    return fallback();
  }

  // Reads of a repository's tags and trees. Private and missing repositories look the same.
  StoredRepo readable_repo(const Caller& c, const Target& t, bool listing) {
    auto repo = store->get_repo(t.user, t.repo);
    if (!repo) not_found();
    if (repo->is_public) return *repo;
    if (token_may_read(c, t.user, t.repo)) return *repo;
    std::optional<std::string> tag;
    if (!listing) tag = t.tag;
    for (const auto& s : c.slugs)
      if (slug_grants(s, t.user, t.repo, tag, opt.public_host) && keep_meets(*c.keep, *repo)) return *repo;
    not_found();
  }

  // The owner may also require attested platforms / measurements of the keeps that read.
  static bool keep_meets(const identity::KeepFacts& keep, const StoredRepo& repo) {
    const auto config = parse_repo(as_string(repo.content));
    if (!config.keeps) return true;
    const auto in = [](const std::vector<std::string>& list, const std::string& v) {
      return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
    };
    return in(config.keeps->platforms, keep.platform) && in(config.keeps->measurements, keep.measurement);
  }

  // application/json may carry parameters ("; charset=utf-8"); the others are exact tokens.
  static bool is_json(const std::string& type) {
    auto base = type.substr(0, type.find(';'));
    while (!base.empty() && base.back() == ' ') base.pop_back();
    return net::iequals(base, kJsonType);
  }

  std::string content_type(const net::Request& req) {
    auto t = req.header("Content-Type");
    if (!t || t->empty()) fail(400, "drawbridge.content_type_missing", "Content-Type header missing");
    return *t;
  }

  std::optional<ContentDigest> declared_digest(const net::Request& req, bool required) {
    auto values = req.headers.get_all("Content-Digest");
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
    if (joined.empty()) {
      if (required) fail(400, "drawbridge.digest_missing", "At least one content digest value must be specified");
      return std::nullopt;
    }
    try {
      return ContentDigest::parse_header(joined);
    } catch (const Error& e) {
      fail(400, e.code(), e.what());
    }
  }

  static std::vector<DigestAlgorithm> algorithms(const ContentDigest& d) {
    std::vector<DigestAlgorithm> out;
    for (const auto& [alg, v] : d.values()) out.push_back(alg);
    return out;
  }

  static void check_digest(const ContentDigest& declared, ByteView data) {
    if (!(ContentDigest::compute(data, algorithms(declared)) == declared))
      fail(400, "drawbridge.digest_mismatch", "Content digest mismatch");
  }

  void json_limit(const net::Request& req) {
    if (req.body.size() > opt.max_json_size) fail(413, "drawbridge.body_too_large", "Request body too large");
  }

  static net::Response created() { return net::Response::empty(201); }
  [[noreturn]] static void exists() { fail(409, "drawbridge.already_exists", "Already exists"); }

  void count_upload(const char* kind, const char* result) {
    if (uploads) uploads->inc({kind, result});
  }

  // ---- reads ----
  net::Response get(const net::Request& req, const Target& t) {
    auto caller = identify(req);
    switch (t.kind) {
      case Kind::User: {
        auto& tok = need_token(caller, ScopeLevel::Read, ScopeContext::Users);
        auto u = store->get_user(t.user);
        if (!u || !owns(*u, tok)) not_found();
        return object_response(u->meta_json, body_string(u->content));
      }
      case Kind::Repo: {
        auto& tok = need_token(caller, ScopeLevel::Read, ScopeContext::Repositories);
        if (!is_owner(t.user, tok)) not_found();
        auto r = store->get_repo(t.user, t.repo);
        if (!r) not_found();
        return object_response(r->meta_json, body_string(r->content));
      }
      case Kind::RepoList: {
        // A user that does not exist lists like one without public repositories (200 []):
        // a 404 would tell anyone which user names exist.
        bool owner = caller.token && caller.token->has_scope(ScopeLevel::Read, ScopeContext::Repositories) &&
                     is_owner(t.user, *caller.token);
        nlohmann::json names = nlohmann::json::array();
        for (const auto& [name, pub] : store->list_repos(t.user))
          if (pub || owner) names.push_back(name);
        return listing(names.dump());
      }
      case Kind::RepoSteward:
      case Kind::TagSteward: return steward_answer(identify_token(req), t);
      case Kind::TagList: {
        const auto generation = cache.generation();
        const bool is_public = readable_repo(caller, t, true).is_public;
        auto tags = store->list_tags(t.user, t.repo);
        sort_tags(tags);
        auto r = listing(nlohmann::json(tags).dump());
        if (is_public) cache.store(ReadCache::tag_list_key(t.user, t.repo), r, generation);
        return r;
      }
      case Kind::Tag: {
        const auto generation = cache.generation();
        const bool is_public = readable_repo(caller, t, false).is_public;
        auto tag = store->get_tag(t.user, t.repo, t.tag);
        if (!tag || !tag->complete) not_found();
        auto r = object_response(tag->meta_json, body_string(tag->content));
        if (is_public) cache.store(ReadCache::tag_key(t.user, t.repo, t.tag), r, generation);
        return r;
      }
      case Kind::GroupList:
      case Kind::Group:
      case Kind::GroupMember:
      case Kind::GrantList:
      case Kind::UserGrant:
      case Kind::GroupGrant: return get_sharing(caller, t);
      case Kind::TagYank:
      case Kind::Audit:
      case Kind::Usage: return get_ops(req, caller, t);
      case Kind::Tree: {
        const auto generation = cache.generation();
        bool cacheable = false;  // a complete tag of a public repository
        auto tag = store->get_tag(t.user, t.repo, t.tag);
        if (tag && !tag->complete && may_upload(caller, t.user, t.repo)) {
          // The publisher resuming a pending upload may see which nodes are already stored.
        } else {
          cacheable = readable_repo(caller, t, false).is_public;
          if (!tag || !tag->complete) not_found();
        }
        auto node = store->get_node(tag->id, t.tree_path());
        if (!node || !node->present) not_found();
        auto entry = parse_entry(node->entry_json);
        net::Response r;
        if (cacheable && cache.enabled() && entry.meta.length <= cache.options().max_file_size) {
          r = net::Response::bytes(200, body_string(store->read_blob(node->blob_key)), entry.meta.type);
          r.headers.set("Content-Digest", entry.meta.digest.to_header());
          cache.store(ReadCache::node_key(t.user, t.repo, t.tag, t.tree_path()), r, generation);
          return r;
        }
        if (auto file = store->blob_file(node->blob_key)) {
          r = net::Response::from_file(net::OpenFile::open(*file), entry.meta.type);
        } else {
          r = net::Response::bytes(200, body_string(store->read_blob(node->blob_key)), entry.meta.type);
        }
        r.headers.set("Content-Digest", entry.meta.digest.to_header());
        return r;
      }
    }
    not_found();
  }

  static net::Response listing(std::string body) {
    auto r = net::Response::bytes(200, body, std::string(kJsonType));
    r.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
    return r;
  }

  // ---- writes ----
  net::Response put(const net::Request& req, const Target& t) {
    auto caller = identify_token(req);
    switch (t.kind) {
      case Kind::User: {
        auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Users);
        json_limit(req);
        if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
        auto record = parse_user(req.body);
        if (record.subject != tok.subject)
          fail(401, "drawbridge.auth.subject_mismatch", "You are logged in as " + tok.subject);
        auto canonical = user_to_json(record);
        auto meta = upload_meta(req, canonical, std::string(kJsonType), false);
        // Taken names answer 409 whoever asks: registration must tell that a name is taken, so
        // this is the one route that reveals a user exists (and only to a token that may
        // register users).
        if (store->create_user(t.user, meta_to_json(meta), as_bytes(canonical), tok.issuer, record.subject) ==
            PutResult::Exists) {
          count_upload("user", "exists");
          exists();
        }
        count_upload("user", "created");
        return created();
      }
      case Kind::Repo: {
        auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Repositories);
        json_limit(req);
        if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
        need_owner(t.user, tok);
        auto config = parse_repo(req.body);
        auto canonical = repo_to_json(config);
        auto meta = upload_meta(req, canonical, std::string(kJsonType), false);
        const auto event = audit_event(&tok, "repo_create", t);
        if (store->create_repo(t.user, t.repo, meta_to_json(meta), as_bytes(canonical), config.is_public, &event) ==
            PutResult::Exists) {
          count_upload("repository", "exists");
          exists();
        }
        count_upload("repository", "created");
        return created();
      }
      case Kind::RepoSteward: return put_repo_steward(req, caller, t);
      case Kind::Tag: return put_tag(req, caller, t);
      case Kind::Tree: return put_node(req, caller, t);
      case Kind::Group:
      case Kind::GroupMember:
      case Kind::UserGrant:
      case Kind::GroupGrant: return put_sharing(req, caller, t);
      case Kind::TagYank: return change_yank(req, caller, t, true);
      default: fail(405, "http.method_not_allowed", "Method not allowed");
    }
  }

  // ---- sharing ----
  // Groups are managed with the owner's token and drawbridge_users scopes, grants with
  // drawbridge_repositories scopes. Reads answer 404 to everyone but the owner (like the
  // repository config: no route tells a private repository or a group from a missing one);
  // writes answer like the other writes (404 for a missing user, else 401 not_owner, before
  // anything about the repository or group is looked at).
  const TokenClaims& need_manager(const Caller& c, ScopeLevel level, const Target& t) {
    const bool group = t.kind == Kind::GroupList || t.kind == Kind::Group || t.kind == Kind::GroupMember;
    auto& tok = need_token(c, level, group ? ScopeContext::Users : ScopeContext::Repositories);
    if (level == ScopeLevel::Read) {
      if (!is_owner(t.user, tok)) not_found();
    } else {
      need_owner(t.user, tok);
    }
    return tok;
  }

  static Grantee grantee_kind(const Target& t) { return t.kind == Kind::GroupGrant ? Grantee::Group : Grantee::User; }
  static const std::string& grantee_name(const Target& t) { return t.kind == Kind::GroupGrant ? t.group : t.grantee; }

  net::Response get_sharing(const Caller& caller, const Target& t) {
    need_manager(caller, ScopeLevel::Read, t);
    switch (t.kind) {
      case Kind::GroupList: return listing(nlohmann::json(store->list_groups(t.user)).dump());
      case Kind::Group: {
        auto members = store->group_members(t.user, t.group);
        if (!members) not_found();
        return listing(nlohmann::json{{"members", *members}}.dump());
      }
      case Kind::GroupMember: {
        auto members = store->group_members(t.user, t.group);
        if (!members || std::find(members->begin(), members->end(), t.grantee) == members->end()) not_found();
        return listing(nlohmann::json{{"member", t.grantee}}.dump());
      }
      case Kind::GrantList: {
        if (!store->get_repo(t.user, t.repo)) not_found();
        nlohmann::json users = nlohmann::json::object(), groups = nlohmann::json::object();
        for (const auto& g : store->list_grants(t.user, t.repo))
          (g.kind == Grantee::User ? users : groups)[g.name] = std::string(to_string(g.access));
        return listing(nlohmann::json{{"users", users}, {"groups", groups}}.dump());
      }
      case Kind::UserGrant:
      case Kind::GroupGrant:
        for (const auto& g : store->list_grants(t.user, t.repo))
          if (g.kind == grantee_kind(t) && g.name == grantee_name(t))
            return listing(nlohmann::json{{"access", std::string(to_string(g.access))}}.dump());
        not_found();
      default: not_found();
    }
  }

  // A grant body: exactly {"access": "read" | "write"}.
  static Access parse_access(const std::string& body) {
    nlohmann::json j;
    try {
      // Nothing nests in a grant: deeper bodies are refused while parsing, never built.
      j = nlohmann::json::parse(body, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > 1) fail(400, "drawbridge.share.invalid", R"(A grant is {"access": "read" | "write"})");
        return true;
      });
    } catch (const nlohmann::json::exception&) {
      fail(400, "drawbridge.json.invalid", "Invalid JSON");
    }
    if (!j.is_object() || j.size() != 1 || !j.contains("access") || !j["access"].is_string())
      fail(400, "drawbridge.share.invalid", R"(A grant is {"access": "read" | "write"})");
    const auto access = j["access"].get<std::string>();
    if (access == "read") return Access::Read;
    if (access == "write") return Access::Write;
    fail(400, "drawbridge.share.invalid", R"(A grant is {"access": "read" | "write"})");
  }

  // A change to who may read or publish, as the store records it with the change.
  AuditEvent sharing_event(const TokenClaims& tok, std::string_view action, const Target& t,
                           std::optional<Access> access = std::nullopt) {
    return audit_event(&tok, action, t, sharing_detail(t, access));
  }

  // Every change to who may read or publish is logged (and counted by action).
  void log_sharing(const net::Request& req, const TokenClaims& tok, std::string_view action, const Target& t,
                   std::optional<Access> access = std::nullopt) {
    if (sharing) sharing->inc({std::string(action)});
    log::info("drawbridge.sharing", {{"action", action},
                                     {"user", t.user},
                                     {"repo", t.repo},
                                     {"group", t.group},
                                     {"grantee", t.grantee},
                                     {"access", access ? to_string(*access) : std::string_view()},
                                     {"by_subject", tok.subject},
                                     {"by_issuer", tok.issuer},
                                     {"request_id", req.request_id}});
  }

  net::Response put_sharing(const net::Request& req, const Caller& caller, const Target& t) {
    auto& tok = need_manager(caller, ScopeLevel::Write, t);
    switch (t.kind) {
      case Kind::Group: {
        if (!req.body.empty()) fail(413, "drawbridge.body_too_large", "A group is created without a body");
        const auto event = sharing_event(tok, "group_created", t);
        if (store->create_group(t.user, t.group, &event) == PutResult::Exists) exists();
        log_sharing(req, tok, "group_created", t);
        return created();
      }
      case Kind::GroupMember: {
        if (!req.body.empty()) fail(413, "drawbridge.body_too_large", "A member is added without a body");
        const auto event = sharing_event(tok, "member_added", t);
        const auto result = store->add_member(t.user, t.group, t.grantee, &event);
        if (result == PutResult::Exists) return net::Response::empty(200);
        log_sharing(req, tok, "member_added", t);
        return created();
      }
      case Kind::UserGrant:
      case Kind::GroupGrant: {
        json_limit(req);
        if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
        const auto access = parse_access(req.body);
        if (t.kind == Kind::UserGrant && t.grantee == t.user)
          fail(400, "drawbridge.share.owner", "The owner has every access already");
        if (!store->get_repo(t.user, t.repo)) fail(404, "drawbridge.not_found", "Repository does not exist");
        const auto event = sharing_event(tok, "grant", t, access);
        const auto result = store->put_grant(t.user, t.repo, grantee_kind(t), grantee_name(t), access, &event);
        log_sharing(req, tok, "grant", t, access);
        return result == PutResult::Created ? created() : net::Response::empty(200);
      }
      default: fail(405, "http.method_not_allowed", "Method not allowed");
    }
  }

  net::Response del(const net::Request& req, const Target& t) {
    auto caller = identify_token(req);
    if (t.kind == Kind::Repo || t.kind == Kind::Tag) return delete_ops(req, caller, t);
    if (t.kind == Kind::TagYank) return change_yank(req, caller, t, false);
    if (t.kind != Kind::Group && t.kind != Kind::GroupMember && t.kind != Kind::UserGrant && t.kind != Kind::GroupGrant)
      fail(405, "http.method_not_allowed", "Method not allowed");
    auto& tok = need_manager(caller, ScopeLevel::Write, t);
    const char* action = t.kind == Kind::Group ? "group_deleted" : t.kind == Kind::GroupMember ? "member_removed" : "revoke";
    const auto event = sharing_event(tok, action, t);
    bool removed = false;
    switch (t.kind) {
      case Kind::Group: removed = store->delete_group(t.user, t.group, &event); break;
      case Kind::GroupMember: removed = store->remove_member(t.user, t.group, t.grantee, &event); break;
      default: removed = store->delete_grant(t.user, t.repo, grantee_kind(t), grantee_name(t), &event); break;
    }
    if (!removed) not_found();
    log_sharing(req, tok, action, t);
    return net::Response::empty(204);
  }

  Meta upload_meta(const net::Request& req, std::string_view canonical, std::string type, bool digest_required) {
    auto declared = declared_digest(req, digest_required);
    if (declared) {
      check_digest(*declared, as_bytes(canonical));
      return Meta{*declared, canonical.size(), std::move(type)};
    }
    return Meta::of(as_bytes(canonical), std::move(type));
  }

  // The owner sets or clears the repository's steward: {"steward": "https://…"} or
  // {"steward": null}. Takes effect on the next discovery request.
  net::Response put_repo_steward(const net::Request& req, const Caller& caller, const Target& t) {
    auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Repositories);
    json_limit(req);
    if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
    need_owner(t.user, tok);
    auto body = parse_steward_setting(req.body);
    auto repo = store->get_repo(t.user, t.repo);
    if (!repo) fail(404, "drawbridge.not_found", "Repository does not exist");
    auto config = parse_repo(as_string(repo->content));
    config.steward = body;
    auto canonical = repo_to_json(config);
    auto meta = Meta::of(as_bytes(canonical), std::string(kJsonType));
    if (!store->replace_repo_config(t.user, t.repo, meta_to_json(meta), as_bytes(canonical)))
      fail(404, "drawbridge.not_found", "Repository does not exist");
    log::info("drawbridge.repo_steward_set", {{"repo", t.user + "/" + t.repo},
                                              {"steward", body ? *body : std::string("(none)")},
                                              {"request_id", req.request_id}});
    return net::Response::empty(204);
  }

  net::Response put_tag(const net::Request& req, const Caller& caller, const Target& t) {
    auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Tags);
    json_limit(req);
    need_publisher(t, tok);
    auto type = content_type(req);
    std::string canonical;
    Entry root;
    if (type == kEntryType) {
      root = parse_entry(req.body);
      canonical = entry_to_json(root);
    } else if (type == kJwsType) {
      root = tag_root_entry(type, req.body);
      canonical = req.body;  // a signature is stored and served byte-exact
    } else {
      fail(415, "drawbridge.content_type", "A tag must be " + std::string(kEntryType) + " or " + std::string(kJwsType));
    }
    auto meta = upload_meta(req, canonical, type, true);
    if (!store->get_repo(t.user, t.repo)) fail(404, "drawbridge.not_found", "Repository does not exist");
    // The header check refused a deleted name and a tag past the quota then; the store checks
    // both again inside its transaction, where that answer holds (docs "Quotas").
    switch (store->put_tag(t.user, t.repo, t.tag, meta_to_json(meta), as_bytes(canonical), entry_to_json(root),
                           quota())) {
      case PutResult::Exists: count_upload("tag", "exists"); exists();
      case PutResult::Resumed:
        // Same root as the pending upload: its stored nodes are kept (resumable publishing).
        count_upload("tag", "resumed");
        return net::Response::empty(200);
      case PutResult::Created: break;
    }
    count_upload("tag", "created");
    return created();
  }

  // The node a tree PUT may store: the owner's upload token, an existing repository and tag,
  // a node its parent directory (or the tag) expects and that is not stored yet, and the
  // Content-Type that entry names. Checked at header time and again by the handler.
  struct ExpectedNode {
    StoredTag tag;
    std::string path;
    Entry entry;
  };
  ExpectedNode expected_node(const net::Request& req, const Caller& caller, const Target& t, bool count) {
    auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Tags);
    need_publisher(t, tok);
    if (!store->get_repo(t.user, t.repo)) fail(404, "drawbridge.not_found", "Repository does not exist");
    auto tag = store->get_tag(t.user, t.repo, t.tag);
    if (!tag) fail(404, "drawbridge.not_found", "Tag does not exist");
    auto path = t.tree_path();
    auto node = store->get_node(tag->id, path);
    if (!node)
      fail(409, "drawbridge.tree.not_expected",
           "No uploaded parent directory of this tag references '" + path + "'");
    if (node->present) {
      if (count) count_upload("node", "exists");
      exists();
    }
    auto expected = parse_entry(node->entry_json);
    auto type = content_type(req);
    if (type != expected.meta.type)
      fail(400, "drawbridge.tree.type_mismatch", "Content-Type does not match the entry's type " + expected.meta.type);
    return {std::move(*tag), std::move(path), std::move(expected)};
  }

  // What a node body is hashed with: every algorithm the entry or the request names, and
  // SHA-256 (the blob key).
  static std::vector<DigestAlgorithm> node_algorithms(const Entry& expected, const ContentDigest& declared) {
    auto algs = algorithms(expected.meta.digest);
    for (auto a : algorithms(declared))
      if (!expected.meta.digest.get(a)) algs.push_back(a);
    if (std::find(algs.begin(), algs.end(), DigestAlgorithm::Sha256) == algs.end()) algs.push_back(DigestAlgorithm::Sha256);
    return algs;
  }

  static void check_node_digests(const ContentDigest& computed, const ContentDigest& declared, const Entry& expected) {
    for (const auto& [alg, value] : declared.values())
      if (computed.get(alg) != value) fail(400, "drawbridge.digest_mismatch", "Content digest mismatch");
    for (const auto& [alg, value] : expected.meta.digest.values())
      if (computed.get(alg) != value)
        fail(400, "drawbridge.tree.entry_mismatch", "Content does not match the digest its parent directory declares");
  }

  static void check_node_length(std::uint64_t got, const Entry& expected) {
    if (got != expected.meta.length)
      fail(400, "drawbridge.length_mismatch", "Content length mismatch, expected: " +
                                                  std::to_string(expected.meta.length) + ", got " +
                                                  std::to_string(got));
  }

  net::Response put_node(const net::Request& req, const Caller& caller, const Target& t) {
    auto [tag, path, expected] = expected_node(req, caller, t, true);
    const auto& type = expected.meta.type;
    auto declared = declared_digest(req, true);
    // The header check refused what was over quota then; the store checks again inside its
    // transaction, where uploads that passed together cannot all commit (docs "Quotas").
    NodePutOutcome outcome;
    // Recorded by the store in the transaction that completes the tag, if this node does.
    const auto publish = audit_event(caller.token ? &*caller.token : nullptr, "publish", t);
    if (auto* sink = dynamic_cast<SpoolSink*>(req.body_sink.get()); sink && type != kDirectoryType) {
      // Streamed to the spool at header time (check_put): never in memory.
      auto& spool = *sink->spool;
      auto computed = spool.finish();
      check_node_length(spool.size(), expected);
      check_node_digests(computed, *declared, expected);
      auto key = to_hex(*computed.get(DigestAlgorithm::Sha256));
      outcome = store->put_node_spooled(tag.id, path, key, spool, {}, &publish, quota());
    } else {
      std::string canonical_storage;
      const std::string* content = &req.body;
      std::vector<ChildExpectation> children;
      if (type == kDirectoryType) {
        json_limit(req);
        auto dir = parse_directory(req.body);
        if (dir.size() > opt.max_directory_entries)
          fail(413, "drawbridge.tree.too_large", "Directory has too many entries");
        if (!dir.empty() && t.path.size() + 1 >= kMaxPathDepth)
          fail(413, "drawbridge.tree.too_deep", "Tree is too deep");
        canonical_storage = directory_to_json(dir);
        content = &canonical_storage;
        for (const auto& [name, entry] : dir)
          children.push_back({path.empty() ? name : path + "/" + name, entry_to_json(entry)});
      }
      check_node_length(content->size(), expected);
      auto computed = ContentDigest::compute(as_bytes(*content), node_algorithms(expected, *declared));
      check_node_digests(computed, *declared, expected);
      auto key = to_hex(*computed.get(DigestAlgorithm::Sha256));
      outcome = store->put_node(tag.id, path, key, as_bytes(*content), children, &publish, quota());
    }
    switch (outcome.result) {
      case NodePutResult::Created:
        count_upload("node", "created");
        if (outcome.tag_completed) {
          cache.invalidate();  // the repository's tag list changed
          count_upload("tag_complete", "created");
          log::info("drawbridge.tag_complete", {{"user", t.user}, {"repo", t.repo}, {"tag", t.tag}});
        }
        return created();
      case NodePutResult::Exists: count_upload("node", "exists"); exists();
      case NodePutResult::NotExpected:
        fail(409, "drawbridge.tree.not_expected", "No uploaded parent directory of this tag references '" + path + "'");
      case NodePutResult::TagGone:
        fail(409, "drawbridge.tag_restarted", "The tag was re-uploaded while this node was being sent");
    }
    exists();
  }

  // A PUT, judged from its header alone before any byte of the body is read: who asks (token,
  // ownership), whether the target can take an upload (repository, tag, expected node) and
  // whether the announced length fits it (the node's own length from its parent directory;
  // JSON bodies at max_json_size). Whoever may not upload is answered here, so an anonymous
  // client cannot make the registry hold — or even read — a body. A file node's body is then
  // streamed to a spool file instead of memory. The handler checks everything again.
  net::HeaderDecision check_put(const net::Request& req, Kind kind) {
    const auto ip = admitted_ip(req);
    auto t = target_of(kind, req);
    auto caller = identify_token(req);
    const auto length = content_length(req);
    net::HeaderDecision decision;
    decision.max_body_size = opt.max_json_size;
    auto json_length = [&] {
      if (length && *length > opt.max_json_size) fail(413, "drawbridge.body_too_large", "Request body too large");
    };
    if (t.kind == Kind::TagYank || (req.method == net::Method::Delete && (t.kind == Kind::Repo || t.kind == Kind::Tag)))
      return check_ops(req, caller, t);
    switch (t.kind) {
      case Kind::User:
        need_token(caller, ScopeLevel::Write, ScopeContext::Users);
        json_length();
        if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
        return decision;
      case Kind::Repo:
      case Kind::RepoSteward: {
        auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Repositories);
        json_length();
        if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
        need_owner(t.user, tok);
        return decision;
      }
      case Kind::Tag: {
        auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Tags);
        json_length();
        need_publisher(t, tok);
        auto type = content_type(req);
        if (type != kEntryType && type != kJwsType)
          fail(415, "drawbridge.content_type", "A tag must be " + std::string(kEntryType) + " or " + std::string(kJwsType));
        declared_digest(req, true);
        if (!store->get_repo(t.user, t.repo)) fail(404, "drawbridge.not_found", "Repository does not exist");
        check_new_tag(t);
        return decision;
      }
      case Kind::Tree: {
        auto node = expected_node(req, caller, t, false);
        auto declared = declared_digest(req, true);
        check_byte_quota(t.user, node.entry.meta.length);
        if (node.entry.meta.type == kDirectoryType) {
          json_length();
          return decision;
        }
        // An announced length past max_blob_size meets the route's limit (413 http.body_too_large)
        // before a spool is made; an entry that large is refused whatever is announced.
        if (length && *length > opt.max_blob_size) {
          decision.max_body_size = opt.max_blob_size;
          return decision;
        }
        if (node.entry.meta.length > opt.max_blob_size) fail(413, "drawbridge.body_too_large", "Request body too large");
        if (length) check_node_length(*length, node.entry);
        decision.max_body_size = node.entry.meta.length;
        decision.sink = std::make_shared<SpoolSink>(store->spool(node_algorithms(node.entry, *declared)));
        return decision;
      }
      case Kind::Group:
      case Kind::GroupMember:
      case Kind::UserGrant:
      case Kind::GroupGrant: {
        // PUT and DELETE alike: only the owner's token gets further than the header. Only a
        // grant PUT has a body.
        need_manager(caller, ScopeLevel::Write, t);
        if (req.method == net::Method::Delete || t.kind == Kind::Group || t.kind == Kind::GroupMember) {
          decision.max_body_size = 0;
          return decision;
        }
        json_length();
        if (!is_json(content_type(req))) fail(415, "drawbridge.content_type", "Content-Type must be application/json");
        return decision;
      }
      default: fail(405, "http.method_not_allowed", "Method not allowed");
    }
  }

  // The I/O thread's answer to a read (RouteOptions::fast_path): a stored answer of a public
  // repository, after the same network, name and rate checks as dispatch(). Whatever it cannot
  // answer from memory alone (a miss, a bearer token to verify) goes to dispatch().
  std::optional<net::Response> answer_from_cache(net::Request& req, Kind kind) {
    if (!cache.enabled() || req.headers.has("Authorization")) return std::nullopt;
    const auto ip = admitted_ip(req);
    auto t = target_of(kind, req);
    std::string key = kind == Kind::Tag       ? ReadCache::tag_key(t.user, t.repo, t.tag)
                      : kind == Kind::TagList ? ReadCache::tag_list_key(t.user, t.repo)
                                              : ReadCache::node_key(t.user, t.repo, t.tag, t.tree_path());
    auto hit = cache.find(key);
    if (cache_lookups) cache_lookups->inc({hit ? "hit" : "miss"});
    // A miss is charged to the rate limit by dispatch(), not here as well.
    if (!hit) return std::nullopt;
    if (kind != Kind::Tree) {
      if (auto refused = take_lookup(ip)) return refused;
    }
    return hit;
  }

  // The client's address, when the network allow-list admits it (else 403).
  std::string admitted_ip(const net::Request& req) {
    auto ip = client_ip(req.remote_address);
    if (!allow.allows(ip)) fail(403, "drawbridge.forbidden_network", "Client network not allowed");
    return ip;
  }

  // A lookup from the client's token bucket; the 429 answer when it is empty.
  std::optional<net::Response> take_lookup(const std::string& ip) {
    double retry = 1;
    if (limiter.allow(client_prefix(ip), &retry)) return std::nullopt;
    return rate_limited(retry);
  }

  net::Response rate_limited(double retry) {
    if (limited) limited->inc();
    auto r = net::Response::error(429, "drawbridge.rate_limited", "Too many requests");
    r.headers.set("Retry-After", std::to_string(static_cast<long>(retry + 0.999)));
    return r;
  }

  net::Response dispatch(net::Request& req, Kind kind) {
    const auto ip = admitted_ip(req);
    auto t = target_of(kind, req);
    bool read = req.method == net::Method::Get || req.method == net::Method::Head;
    if (read && t.kind != Kind::Tree) {
      if (auto refused = take_lookup(ip)) return std::move(*refused);
    }
    if (read) return get(req, t);
    if (req.method == net::Method::Put) return put(req, t);
    if (req.method == net::Method::Delete) return del(req, t);
    fail(405, "http.method_not_allowed", "Method not allowed");
  }

  // ---- yank, delete, registry audit log, quotas (docs/drawbridge.md "Yank and delete",
  // "Registry audit log", "Quotas") ----

  // The event as the store records it: the token's issuer and subject are who (a user name
  // would not do: one token may own several, and the owner's record outlives none of this).
  AuditEvent audit_event(const TokenClaims* tok, std::string_view action, const Target& t, std::string detail = {}) {
    AuditEvent e;
    e.at = format_rfc3339(opt.clock->now());
    e.action = std::string(action);
    e.user = t.user;
    e.repo = t.repo;
    e.tag = t.tag;
    if (tok) {
      e.actor_issuer = tok->issuer;
      e.actor_subject = tok->subject;
    }
    e.detail = std::move(detail);
    return e;
  }

  static std::string sharing_detail(const Target& t, std::optional<Access> access) {
    std::string d;
    if (t.kind == Kind::Group) d = "group " + t.group;
    if (t.kind == Kind::GroupMember) d = "group " + t.group + " member " + t.grantee;
    if (t.kind == Kind::UserGrant) d = "user " + t.grantee;
    if (t.kind == Kind::GroupGrant) d = "group " + t.group;
    if (access) d += " " + std::string(to_string(*access));
    return d;
  }

  // A tag PUT that would create a tag (not resume or restart a pending one): refused from its
  // header for a deleted name, and past the owner's tag quota (the store's put_tag decides).
  void check_new_tag(const Target& t) {
    if (store->tag_tombstoned(t.user, t.repo, t.tag))
      throw Error(ErrorKind::kConflict, "drawbridge.tag.deleted",
                  "Tag " + t.tag + " was deleted; a deleted tag name is never published again");
    if (opt.max_tags_per_user == 0 || store->get_tag(t.user, t.repo, t.tag)) return;
    const auto used = store->usage(t.user).tags;
    if (used >= opt.max_tags_per_user) throw quota_tags_reached(t.user, used, opt.max_tags_per_user);
  }

  // A node of `length` bytes for `user`'s repository: refused when it would take the owner past
  // the byte quota (early, from the header; the store's check at commit is the one that holds).
  void check_byte_quota(const std::string& user, std::uint64_t length) {
    if (opt.max_bytes_per_user == 0) return;
    const auto used = store->usage(user).bytes;
    if (exceeds_byte_quota(used, length, opt.max_bytes_per_user))
      throw quota_bytes_exceeded(user, used, opt.max_bytes_per_user, length);
  }

  QuotaLimits quota() const { return {opt.max_bytes_per_user, opt.max_tags_per_user}; }

  // Who may do what (checked at header time and again by the handler):
  //   yank / un-yank   the owner or a writer (write:drawbridge_tags): reversible, and those who
  //                    may publish a release should be able to withdraw it;
  //   delete a tag     the owner (write:drawbridge_tags); delete a repository: the owner
  //                    (write:drawbridge_repositories). Deleting is final (the name is
  //                    tombstoned), so not delegated.
  // As for every write, a missing user is 404 and anyone else 401 not_owner whatever exists.
  const TokenClaims& authorize_ops(const Caller& caller, const Target& t) {
    if (t.kind == Kind::TagYank) {
      auto& tok = need_token(caller, ScopeLevel::Write, ScopeContext::Tags);
      need_publisher(t, tok);
      return tok;
    }
    auto& tok = need_token(caller, ScopeLevel::Write, t.kind == Kind::Repo ? ScopeContext::Repositories : ScopeContext::Tags);
    need_owner(t.user, tok);
    return tok;
  }

  net::HeaderDecision check_ops(const net::Request& req, const Caller& caller, const Target& t) {
    (void)req;
    authorize_ops(caller, t);
    net::HeaderDecision decision;
    decision.max_body_size = 0;  // none of these takes a body
    return decision;
  }

  net::Response change_yank(const net::Request& req, const Caller& caller, const Target& t, bool yank) {
    auto& tok = authorize_ops(caller, t);
    if (!req.body.empty()) fail(413, "drawbridge.body_too_large", "A yank takes no body");
    const auto result = store->set_yanked(t.user, t.repo, t.tag, yank, audit_event(&tok, yank ? "yank" : "unyank", t));
    if (result == YankResult::NotFound) not_found();
    if (result == YankResult::Changed) cache.invalidate();  // after the commit: the tag list changed
    if (result == YankResult::Changed)
      log::info(yank ? "drawbridge.tag_yanked" : "drawbridge.tag_unyanked",
                {{"tag", t.user + "/" + t.repo + ":" + t.tag}, {"request_id", req.request_id}});
    return net::Response::empty(204);
  }

  net::Response delete_ops(const net::Request& req, const Caller& caller, const Target& t) {
    auto& tok = authorize_ops(caller, t);
    const bool removed = t.kind == Kind::Repo ? store->delete_repo(t.user, t.repo, audit_event(&tok, "delete_repo", t))
                                              : store->delete_tag(t.user, t.repo, t.tag, audit_event(&tok, "delete_tag", t));
    if (!removed) not_found();
    cache.invalidate();  // after the commit: no cached answer of what is gone may be served
    log::info(t.kind == Kind::Repo ? "drawbridge.repo_deleted" : "drawbridge.tag_deleted",
              {{"user", t.user}, {"repo", t.repo}, {"tag", t.tag}, {"request_id", req.request_id}});
    return net::Response::empty(204);
  }

  static std::uint64_t query_number(const net::Request& req, std::string_view name, std::uint64_t fallback) {
    auto v = req.query_param(name);
    if (!v) return fallback;
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size() || v->empty())
      fail(400, "drawbridge.query.invalid", "Query parameter '" + std::string(name) + "' must be a number");
    return n;
  }

  static constexpr std::uint64_t kAuditPage = 100, kAuditMaxPage = 1000;

  net::Response get_ops(const net::Request& req, const Caller& caller, const Target& t) {
    if (t.kind == Kind::TagYank) {
      // Whoever may read the tag may see whether it is yanked.
      readable_repo(caller, t, false);
      auto tag = store->get_tag(t.user, t.repo, t.tag);
      if (!tag || !tag->complete) not_found();
      return listing(nlohmann::json{{"yanked", tag->yanked}}.dump());
    }
    // The owner's alone; anyone else is answered as for a user that does not exist.
    auto& tok = need_token(caller, ScopeLevel::Read, ScopeContext::Repositories);
    if (!is_owner(t.user, tok)) not_found();
    if (t.kind == Kind::Usage) {
      const auto used = store->usage(t.user);
      return listing(nlohmann::ordered_json{{"bytes", used.bytes},
                                            {"tags", used.tags},
                                            {"max_bytes", opt.max_bytes_per_user},
                                            {"max_tags", opt.max_tags_per_user}}
                         .dump());
    }
    const auto after = query_number(req, "after", 0);
    const auto limit = std::min(query_number(req, "limit", kAuditPage), kAuditMaxPage);
    if (limit == 0) fail(400, "drawbridge.query.invalid", "Query parameter 'limit' must be at least 1");
    if (after > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(400, "drawbridge.query.invalid", "Query parameter 'after' is out of range");
    const auto records = store->read_audit(t.user, static_cast<std::int64_t>(after), limit);
    nlohmann::ordered_json events = nlohmann::ordered_json::array();
    for (const auto& r : records) events.push_back(audit_record_json(r));
    nlohmann::ordered_json body;
    body["events"] = std::move(events);
    // A full page may have more behind it: `next` is the ?after= of the next page.
    body["next"] = records.size() == limit ? nlohmann::ordered_json(records.back().seq) : nlohmann::ordered_json(nullptr);
    return listing(body.dump());
  }
};

Registry::Registry(std::shared_ptr<Store> store, std::shared_ptr<TokenVerifier> tokens, RegistryOptions options)
    : impl_(std::make_unique<Impl>(std::move(store), std::move(tokens), std::move(options))) {
  // Other replicas' completions, yanks and deletes reach the read cache at once; ttl remains the
  // bound while the store cannot tell (docs/drawbridge.md "Read cache").
  if (impl_->cache.enabled())
    impl_->change_feed = impl_->store->watch_changes([impl = impl_.get()] { impl->cache.invalidate(); });
}

Registry::~Registry() = default;

namespace {

// What the registry and its store throw, answered by kind (HttpErrors pass as they are); the
// store's own failures get one public code each, their details only go to the log.
template <typename F>
auto map_errors(const net::Request& request, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const net::HttpError&) {
    throw;
  } catch (const Error& e) {
    const auto& code = e.code();
    // A full disk is the operator's to fix and the client's to retry later, not a bug: its own
    // status, so neither has to guess from a 500.
    if (e.kind() == ErrorKind::kResourceExhausted) {
      log::error("drawbridge.storage_full", {{"code", code}, {"error", e.what()}, {"request_id", request.request_id}});
      throw net::HttpError(507, "drawbridge.storage_full", "Insufficient storage");
    }
    if (e.kind() == ErrorKind::kInternal) {
      log::error("drawbridge.storage_failure", {{"code", code}, {"error", e.what()}, {"request_id", request.request_id}});
      throw net::HttpError(500, "drawbridge.storage", "Storage backend failure");
    }
    throw net::HttpError(net::http_status(e.kind()), code, e.what());
  }
}

}  // namespace

namespace {

struct RoutedKind {
  net::RoutePattern pattern;
  net::Method method;
  Kind kind;
};

// The route table as net's router sees it, for requests handed to Registry::handle directly.
const std::vector<RoutedKind>& routed_kinds() {
  static const std::vector<RoutedKind> table = [] {
    std::vector<RoutedKind> out;
    for (const auto& r : kApiRoutes) {
      out.push_back({net::RoutePattern(std::string(r.pattern)), net::Method::Get, r.kind});
      if (r.writable) out.push_back({net::RoutePattern(std::string(r.pattern)), net::Method::Put, r.kind});
      if (r.deletable) out.push_back({net::RoutePattern(std::string(r.pattern)), net::Method::Delete, r.kind});
    }
    return out;
  }();
  return table;
}

// Which resource a request names: the route the server matched, or — for a request that did
// not come through the server — its path matched the same way the server would.
Kind resolve(net::Request& request) {
  const auto& table = routed_kinds();
  if (!request.route.empty()) {
    for (const auto& r : table)
      if (r.pattern.text() == request.route) return r.kind;
  }
  std::vector<std::string> segments;
  if (net::split_path(request.path, segments) != net::PathError::None)
    fail(400, "http.bad_path", "malformed request path");
  auto match = net::find_route(table, request.method, segments);
  if (match.kind == net::RouteMatch::MethodNotAllowed) fail(405, "http.method_not_allowed", "Method not allowed");
  if (match.kind != net::RouteMatch::Found) fail(404, "http.not_found", "no such resource");
  request.params = std::move(match.params);
  request.route = table[match.index].pattern.text();
  return table[match.index].kind;
}

}  // namespace

net::Response Registry::handle(net::Request& request) {
  return map_errors(request, [&] { return impl_->dispatch(request, resolve(request)); });
}

net::HeaderDecision Registry::check_put(net::Request& request) {
  return map_errors(request, [&] { return impl_->check_put(request, resolve(request)); });
}

void Registry::install(net::HttpServer& server) {
  auto& m = server.metrics();
  impl_->uploads = &m.counter("drawbridge_uploads_total", "Drawbridge uploads by kind and result", {"kind", "result"});
  impl_->limited = &m.counter("drawbridge_rate_limited_total", "Lookups refused by the per-client rate limit");
  impl_->sharing = &m.counter("drawbridge_sharing_changes_total", "Grants, revocations and group changes by action",
                              {"action"});
  impl_->keeps_refused = &m.counter("drawbridge_keep_certificates_refused_total",
                                    "Verified keep certificates refused by the keep CRL, by state "
                                    "(revoked, no_crl, stale, other_issuer)",
                                    {"state"});
  const auto& opt = impl_->opt;
  // One metric family set per monitor: drawbridge_keep_crl_* for the first CRL URL,
  // drawbridge_keep2_crl_* for the second, ...
  for (std::size_t i = 0; i < opt.keep_crls.size(); ++i)
    opt.keep_crls[i]->attach_metrics(m, i == 0 ? std::string("drawbridge_keep") : "drawbridge_keep" + std::to_string(i + 1));
  impl_->cache_lookups = &m.counter("drawbridge_read_cache_lookups_total",
                                    "Reads of public tags looked up in the read cache, by result (hit, miss)",
                                    {"result"});
  for (const auto& route : kApiRoutes) {
    const Kind kind = route.kind;
    const std::string pattern(route.pattern);
    // Reads take no body. Tags, tag lists and tree nodes may be answered from the read cache.
    net::RouteOptions read_options{.max_body_size = 0};
    if (kind == Kind::Tag || kind == Kind::TagList || kind == Kind::Tree)
      read_options.fast_path = [this, kind](net::Request& r) {
        return map_errors(r, [&] { return impl_->answer_from_cache(r, kind); });
      };
    server.route(net::Method::Get, pattern,
                 [this, kind](net::Request& r) {
                   return map_errors(r, [&] { return impl_->dispatch(r, kind); });
                 },
                 std::move(read_options));
    const auto header_check = [this, kind](net::Request& r) {
      return map_errors(r, [&] { return impl_->check_put(r, kind); });
    };
    // Removals take no body; the owner's token is checked from the header.
    if (route.deletable)
      server.route(net::Method::Delete, pattern,
                   [this, kind](net::Request& r) {
                     return map_errors(r, [&] { return impl_->dispatch(r, kind); });
                   },
                   net::RouteOptions{.max_body_size = 0, .on_header = header_check});
    if (!route.writable) continue;
    // JSON documents everywhere but the tree, whose file nodes may be blobs (check_put narrows
    // each node to its declared length at header time).
    // Creating a group or adding a member takes no body.
    const std::uint64_t limit = kind == Kind::Tree                                  ? std::max(opt.max_blob_size, opt.max_json_size)
                                : kind == Kind::Group || kind == Kind::GroupMember ? 0
                                                                                    : opt.max_json_size;
    server.route(net::Method::Put, pattern,
                 [this, kind](net::Request& r) {
                   return map_errors(r, [&] { return impl_->dispatch(r, kind); });
                 },
                 net::RouteOptions{.max_body_size = limit, .on_header = header_check});
  }
  // Drawbridge's own liveness route (any method answered 200 with an empty body).
  server.route(net::Method::Get, "/health", [](net::Request&) { return net::Response::bytes(200, ""); });
}

// ---- web UI (docs/drawbridge.md "Web UI") ----
// The same checks, in the same order, as dispatch() applies to a read.
std::optional<net::Response> Registry::admit_lookup(const net::Request& request) {
  return impl_->take_lookup(impl_->admitted_ip(request));
}

}  // namespace enarx::drawbridge
