#include "client/registry_client.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/content_digest.h"
#include "core/error.h"

namespace enarx::client {
namespace {

using nlohmann::json;

[[noreturn]] void throw_for_status(const net::ClientResponse& res) {
  std::string what = std::string(net::to_string(res.method)) + " " + res.url + ": " +
                     std::to_string(res.status);
  std::string detail;
  try {
    auto body = json::parse(res.body);
    if (body.is_object() && body.contains("detail")) detail = body.value("detail", "");
    if (body.is_object() && body.contains("code")) what += " " + body.value("code", "");
  } catch (const json::exception&) {
    detail = res.body.size() > 200 ? res.body.substr(0, 200) : res.body;
  }
  if (!detail.empty()) what += ": " + detail;
  switch (res.status) {
    case 404: throw Error(ErrorKind::kNotFound, "registry.not_found", what);
    case 401:
    case 403: throw Error(ErrorKind::kUnauthenticated, "registry.unauthorized", what);
    case 409: throw Error(ErrorKind::kConflict, "registry.conflict", what);
    case 400:
    case 413:
    case 422: throw Error(ErrorKind::kInvalidInput, "registry.bad_request", what);
    default: throw Error(ErrorKind::kUnavailable, "registry.error", what);
  }
}

drawbridge::Meta meta_from_headers(const net::ClientResponse& res) {
  drawbridge::Meta meta;
  auto digest = res.headers.get("Content-Digest");
  auto type = res.headers.get("Content-Type");
  require(digest.has_value() && type.has_value(), ErrorKind::kUnavailable, "registry.bad_response",
          res.url + ": response lacks Content-Digest or Content-Type");
  meta.digest = ContentDigest::parse_header(*digest);
  meta.type = *type;
  meta.length = res.body.size();
  return meta;
}

std::string to_body(ByteView b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

}  // namespace

RegistryClient::RegistryClient(std::string base_url, net::ClientOptions http, std::string token)
    : base_url_(std::move(base_url)), options_(http), token_(std::move(token)), http_(http) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

std::string RegistryClient::base_url_for(const identity::Slug& slug, bool plain_http) {
  std::string host = slug.host.empty() ? std::string(identity::kDefaultHost) : slug.host;
  return std::string(plain_http ? "http://" : "https://") + host + "/api/v0.1.0";
}

std::string RegistryClient::url(const std::string& user, const std::string& repo,
                                const std::optional<std::string>& tag,
                                const std::optional<std::string>& tree_path) const {
  std::string u = base_url_ + "/" + user;
  if (!repo.empty()) u += "/" + repo;
  if (tag) {
    u += "/_tag";
    if (!tag->empty()) u += "/" + *tag;
  }
  if (tree_path) {
    u += "/tree";
    if (!tree_path->empty()) u += "/" + net::percent_encode(*tree_path, true);
  }
  return u;
}

net::ClientResponse RegistryClient::send(net::ClientRequest req, std::initializer_list<int> ok) {
  if (!token_.empty()) req.headers.set("Authorization", "Bearer " + token_);
  net::ClientResponse res;
  try {
    res = http_.send(req);
  } catch (const Error& e) {
    throw Error(ErrorKind::kUnavailable, "registry.unreachable", "registry at " + base_url_ + ": " + e.describe());
  }
  for (int s : ok)
    if (res.status == s) return res;
  throw_for_status(res);
}

namespace {

std::string grant_url(const std::string& repo_url, RegistryClient::Grantee kind, const std::string& name) {
  return repo_url + (kind == RegistryClient::Grantee::Group ? "/_grants/groups/" : "/_grants/users/") + name;
}

// A JSON answer of the sharing routes, as `T`.
template <typename T>
T parse_answer(const net::ClientResponse& res, const char* what) {
  try {
    return json::parse(res.body).get<T>();
  } catch (const json::exception&) {
    throw Error(ErrorKind::kUnavailable, "registry.bad_response", std::string(what) + " is not what the registry sends");
  }
}

}  // namespace

bool RegistryClient::put_grant(const std::string& user, const std::string& repo, Grantee kind,
                               const std::string& name, const std::string& access) {
  require(access == "read" || access == "write", ErrorKind::kInvalidInput, "client.share.access",
          "access must be read or write, not '" + access + "'");
  std::string body = json{{"access", access}}.dump();
  net::ClientRequest req{net::Method::Put, grant_url(url(user, repo), kind, name), {}, body, true, {}};
  req.headers.set("Content-Type", "application/json");
  return send(req, {200, 201}).status == 201;
}

void RegistryClient::delete_grant(const std::string& user, const std::string& repo, Grantee kind,
                                  const std::string& name) {
  send({net::Method::Delete, grant_url(url(user, repo), kind, name), {}, {}, {}, {}}, {204});
}

RegistryClient::Grants RegistryClient::get_grants(const std::string& user, const std::string& repo) {
  auto res = send({net::Method::Get, url(user, repo) + "/_grants", {}, {}, {}, {}}, {200});
  auto j = parse_answer<json>(res, "grant list");
  Grants g;
  try {
    g.users = j.at("users").get<std::map<std::string, std::string>>();
    g.groups = j.at("groups").get<std::map<std::string, std::string>>();
  } catch (const json::exception&) {
    throw Error(ErrorKind::kUnavailable, "registry.bad_response", "grant list is not what the registry sends");
  }
  return g;
}

bool RegistryClient::create_group(const std::string& user, const std::string& group) {
  return send({net::Method::Put, url(user) + "/_groups/" + group, {}, {}, true, {}}, {201, 409}).status == 201;
}

void RegistryClient::delete_group(const std::string& user, const std::string& group) {
  send({net::Method::Delete, url(user) + "/_groups/" + group, {}, {}, {}, {}}, {204});
}

std::vector<std::string> RegistryClient::list_groups(const std::string& user) {
  return parse_answer<std::vector<std::string>>(
      send({net::Method::Get, url(user) + "/_groups", {}, {}, {}, {}}, {200}), "group list");
}

std::vector<std::string> RegistryClient::group_members(const std::string& user, const std::string& group) {
  auto j = parse_answer<json>(send({net::Method::Get, url(user) + "/_groups/" + group, {}, {}, {}, {}}, {200}),
                              "group");
  try {
    return j.at("members").get<std::vector<std::string>>();
  } catch (const json::exception&) {
    throw Error(ErrorKind::kUnavailable, "registry.bad_response", "group is not what the registry sends");
  }
}

bool RegistryClient::add_member(const std::string& user, const std::string& group, const std::string& member) {
  return send({net::Method::Put, url(user) + "/_groups/" + group + "/members/" + member, {}, {}, true, {}}, {200, 201})
             .status == 201;
}

void RegistryClient::remove_member(const std::string& user, const std::string& group, const std::string& member) {
  send({net::Method::Delete, url(user) + "/_groups/" + group + "/members/" + member, {}, {}, {}, {}}, {204});
}

bool RegistryClient::put_user(const std::string& user, const std::string& subject) {
  std::string body = drawbridge::user_to_json({subject});
  net::ClientRequest req{net::Method::Put, url(user), {}, body, true, {}};
  req.headers.set("Content-Type", "application/json");
  req.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
  return send(req, {200, 201, 409}).status != 409;
}

drawbridge::UserRecord RegistryClient::get_user(const std::string& user) {
  return drawbridge::parse_user(send({net::Method::Get, url(user), {}, {}, {}, {}}, {200}).body);
}

bool RegistryClient::put_repo(const std::string& user, const std::string& repo, bool is_public,
                              const std::optional<std::string>& steward) {
  drawbridge::RepoConfig config;
  config.is_public = is_public;
  config.steward = steward;
  std::string body = drawbridge::repo_to_json(config);
  net::ClientRequest req{net::Method::Put, url(user, repo), {}, body, true, {}};
  req.headers.set("Content-Type", "application/json");
  req.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
  return send(req, {200, 201, 409}).status != 409;
}

drawbridge::RepoConfig RegistryClient::get_repo(const std::string& user, const std::string& repo) {
  return drawbridge::parse_repo(send({net::Method::Get, url(user, repo), {}, {}, {}, {}}, {200}).body);
}

void RegistryClient::set_repo_steward(const std::string& user, const std::string& repo,
                                      const std::optional<std::string>& steward) {
  json j = {{"steward", steward ? json(*steward) : json(nullptr)}};
  net::ClientRequest req{net::Method::Put, url(user, repo) + "/_steward", {}, j.dump(), true, {}};
  req.headers.set("Content-Type", "application/json");
  send(req, {200, 204});
}

RegistryClient::StewardAnswer RegistryClient::discover_steward(const std::string& user, const std::string& repo,
                                                               const std::optional<std::string>& tag) {
  auto res = send({net::Method::Get, (tag ? url(user, repo, *tag) : url(user, repo)) + "/_steward", {}, {}, {}, {}},
                  {200});
  auto bad = [&](std::string_view why) {
    return Error(ErrorKind::kUnavailable, "registry.bad_response", "steward answer: " + std::string(why));
  };
  json j;
  try {
    j = json::parse(res.body);
  } catch (const json::exception&) {
    throw bad("not JSON");
  }
  if (!j.is_object() || !j.contains("source") || !j["source"].is_string()) throw bad("no \"source\"");
  StewardAnswer a;
  a.source = j["source"].get<std::string>();
  if (auto it = j.find("steward"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw bad("\"steward\" is not a string");
    try {
      drawbridge::validate_steward_url(it->get<std::string>());
    } catch (const Error& e) {
      throw bad(e.what());
    }
    a.url = it->get<std::string>();
  }
  if (a.source != "tag" && a.source != "repository" && a.source != "registry" && a.source != "none")
    throw bad("unknown source");
  if ((a.source == "none") != !a.url) throw bad("source and URL disagree");
  return a;
}

std::vector<std::string> RegistryClient::list_tags(const std::string& user, const std::string& repo) {
  auto res = send({net::Method::Get, url(user, repo, std::string()), {}, {}, {}, {}}, {200});
  try {
    return json::parse(res.body).get<std::vector<std::string>>();
  } catch (const json::exception&) {
    throw Error(ErrorKind::kUnavailable, "registry.bad_response", "tag list is not a JSON array of strings");
  }
}

RegistryClient::Tag RegistryClient::get_tag(const std::string& user, const std::string& repo,
                                            const std::string& tag) {
  auto res = send({net::Method::Get, url(user, repo, tag), {}, {}, {}, {}}, {200});
  Tag t;
  t.meta = meta_from_headers(res);
  // The registry vouches for its own bytes: check them against its headers.
  require(t.meta.digest.matches(ContentDigest::compute(as_bytes(res.body))), ErrorKind::kUntrusted, "registry.digest_mismatch",
          "tag content does not match its Content-Digest");
  t.type = t.meta.type;
  t.content = res.body;
  t.root = drawbridge::tag_root_entry(t.type, t.content);
  return t;
}

RegistryClient::TagPut RegistryClient::put_tag(const std::string& user, const std::string& repo,
                                               const std::string& tag, const std::string& content,
                                               const std::string& type) {
  net::ClientRequest req{net::Method::Put, url(user, repo, tag), {}, content, true, {}};
  req.headers.set("Content-Type", type);
  req.headers.set("Content-Digest", ContentDigest::compute(as_bytes(content)).to_header());
  switch (send(req, {200, 201, 409}).status) {
    case 409: return TagPut::Exists;
    case 200: return TagPut::Resumed;
    default: return TagPut::Created;
  }
}

bool RegistryClient::has_node(const std::string& user, const std::string& repo, const std::string& tag,
                              const std::string& path) {
  auto res = send({net::Method::Head, url(user, repo, tag, path), {}, {}, {}, {}}, {200, 404});
  return res.status == 200;
}

bool RegistryClient::put_node(const std::string& user, const std::string& repo, const std::string& tag,
                              const std::string& path, const drawbridge::Meta& meta, ByteView content,
                              const net::ProgressCallback& progress) {
  net::ClientRequest req{net::Method::Put, url(user, repo, tag, path), {}, to_body(content), true, {}};
  req.headers.set("Content-Type", meta.type);
  req.headers.set("Content-Digest", meta.digest.to_header());
  auto res = send(req, {200, 201, 409});
  if (progress) progress(content.size(), content.size());
  return res.status != 409;
}

Bytes RegistryClient::get_node(const std::string& user, const std::string& repo, const std::string& tag,
                               const std::string& path, const drawbridge::Meta& expected,
                               const net::ProgressCallback& progress) {
  DigestVerifier verifier(expected.digest);
  Bytes out;
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(expected.length, 64u << 20)));
  net::ClientRequest req{net::Method::Get, url(user, repo, tag, path), {}, {}, {}, {}};
  if (!token_.empty()) req.headers.set("Authorization", "Bearer " + token_);
  net::ClientResponse res;
  try {
    res = http_.download(
        req,
        [&](std::string_view chunk) {
          if (out.size() + chunk.size() > expected.length)
            throw Error(ErrorKind::kUntrusted, "registry.digest_mismatch",
                        "/" + path + " is longer than the " + std::to_string(expected.length) +
                            " bytes its entry declares");
          verifier.update(as_bytes(chunk));
          out.insert(out.end(), chunk.begin(), chunk.end());
        },
        progress);
  } catch (const Error& e) {
    if (e.code() == "registry.digest_mismatch") throw;
    throw Error(ErrorKind::kUnavailable, "registry.unreachable", "registry at " + base_url_ + ": " + e.describe());
  }
  if (res.status < 200 || res.status > 299) throw_for_status(res);
  if (out.size() != expected.length)
    throw Error(ErrorKind::kUntrusted, "registry.digest_mismatch", "/" + path + " has " + std::to_string(out.size()) +
                                                " bytes, its entry declares " + std::to_string(expected.length));
  try {
    verifier.verify();
  } catch (const Error&) {
    throw Error(ErrorKind::kUntrusted, "registry.digest_mismatch", "/" + path + " does not match the digest its entry declares");
  }
  if (auto type = res.headers.get("Content-Type"); type && *type != expected.type)
    throw Error(ErrorKind::kUntrusted, "registry.digest_mismatch", "/" + path + " is served as " + *type + ", its entry says " +
                                                expected.type);
  return out;
}

// ---- publishing -------------------------------------------------------------------------------

std::string root_digest(const drawbridge::Entry& root) {
  auto v = root.meta.digest.get(DigestAlgorithm::Sha256);
  require(v.has_value(), ErrorKind::kInvalidInput, "client.package.no_sha256", "root entry has no sha-256 digest");
  return "sha-256:" + to_hex(*v);
}

PublishResult publish_package(RegistryClient& registry, const identity::Slug& slug,
                              const std::string& dir, const PublishOptions& options) {
  require(slug.tag.has_value(), ErrorKind::kInvalidInput, "client.slug.no_tag", "publishing needs a slug with a :tag");
  require(std::filesystem::is_regular_file(std::filesystem::path(dir) / "main.wasm"), ErrorKind::kInvalidInput,
          "client.package.no_main_wasm", dir + " has no main.wasm");
  drawbridge::Tree tree = drawbridge::build_tree_from_path(dir);
  PublishResult result;
  result.root = tree.root();
  result.root_digest = root_digest(result.root);
  if (options.steward) {
    require(options.signing_key != nullptr, ErrorKind::kInvalidInput, "client.publish.steward_unsigned",
            "a tag's steward is only believed from a signed tag: give a signing key too");
    drawbridge::validate_steward_url(*options.steward);
    result.root.custom[std::string(drawbridge::kTagStewardMember)] = *options.steward;
  }

  std::string entry_json = drawbridge::entry_to_json(result.root);
  std::string tag_content = entry_json;
  std::string tag_type(drawbridge::kEntryType);
  if (options.signing_key) {
    tag_content = jws::sign(as_bytes(entry_json), *options.signing_key, drawbridge::kEntryType);
    tag_type = std::string(jws::kMediaType);
    result.signer = jws::key_fingerprint(options.signing_key->public_key());
  }

  auto put = registry.put_tag(slug.user, slug.repo, *slug.tag, tag_content, tag_type);
  if (put == RegistryClient::TagPut::Exists) {
    // 409: the tag is complete (immutable). Same content is a no-op; different is an error.
    auto existing = registry.get_tag(slug.user, slug.repo, *slug.tag);
    if (!(existing.root == result.root))
      throw Error(ErrorKind::kConflict, "registry.conflict", format_slug(slug) + " already exists with different content");
    result.already_published = true;
    result.skipped = tree.nodes.size();
    return result;
  }
  for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
    const auto& node = tree.nodes[i];
    bool uploaded = false;
    // A freshly created (or restarted) pending tag holds no nodes: no need to ask.
    bool stored = put == RegistryClient::TagPut::Resumed &&
                  registry.has_node(slug.user, slug.repo, *slug.tag, node.path);
    if (!stored) {
      uploaded = registry.put_node(slug.user, slug.repo, *slug.tag, node.path, node.meta, node.content,
                                   options.on_bytes);
    }
    uploaded ? ++result.uploaded : ++result.skipped;
    if (options.on_node) options.on_node(node.path, i, tree.nodes.size(), uploaded);
  }
  return result;
}

// ---- fetching ---------------------------------------------------------------------------------

TagMetadata fetch_tag_metadata(RegistryClient& registry, const identity::Slug& slug,
                               const FetchOptions& options) {
  require(slug.tag.has_value(), ErrorKind::kInvalidInput, "client.slug.no_tag", "deploying needs a slug with a :tag");
  auto tag = registry.get_tag(slug.user, slug.repo, *slug.tag);
  TagMetadata md;
  md.root = tag.root;
  md.root_digest = root_digest(tag.root);

  const auto checking = [](TagCheck check, auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      throw TagCheckError(check, e);
    }
  };
  if (options.expected_digest) checking(TagCheck::DigestPin, [&] {
    std::string want = *options.expected_digest;
    auto colon = want.find(':');
    require(colon != std::string::npos, ErrorKind::kInvalidInput, "deploy.digest_mismatch", "digest pin must be <alg>:<hex>");
    auto alg = digest_from_name(want.substr(0, colon));
    require(alg.has_value(), ErrorKind::kInvalidInput, "deploy.digest_mismatch", "unknown digest algorithm in pin: " + want);
    auto have = tag.root.meta.digest.get(*alg);
    if (!have || to_hex(*have) != want.substr(colon + 1))
      throw Error(ErrorKind::kUntrusted, "deploy.digest_mismatch", "tag " + format_slug(slug) + " has digest " + md.root_digest +
                                                ", pinned " + want);
  });

  const bool need_signature = options.expected_signer || options.expected_signer_fingerprint;
  checking(TagCheck::Signature, [&] {
  if (tag.type == jws::kMediaType) {
    auto verified = jws::verify(tag.content, options.expected_signer);
    if (options.expected_signer_fingerprint && verified.signer_fingerprint != *options.expected_signer_fingerprint)
      throw Error(ErrorKind::kUntrusted, "jws.wrong_signer", "tag is signed by " + verified.signer_fingerprint + ", expected " +
                                          *options.expected_signer_fingerprint);
    // The signature must cover exactly the root entry the tag names.
    if (!(drawbridge::parse_entry(as_string(verified.payload)) == tag.root))
      throw Error(ErrorKind::kUntrusted, "jws.bad_signature", "the signed payload is not the tag's root entry");
    md.signature = std::move(verified);
  } else if (need_signature) {
    throw Error(ErrorKind::kUntrusted, "deploy.unsigned", "tag " + format_slug(slug) + " is not signed, but a signer is required");
  }
  });
  return md;
}

Package fetch_package(RegistryClient& registry, const identity::Slug& slug, TagMetadata metadata,
                      const FetchOptions& options) {
  Package pkg;
  std::uint64_t total = 0;
  // (path, entry) to fetch; directories expand into their children after verification.
  std::vector<std::pair<std::string, drawbridge::Entry>> queue{{"", metadata.root}};
  while (!queue.empty()) {
    auto [path, entry] = std::move(queue.back());
    queue.pop_back();
    bool is_dir = entry.meta.type == drawbridge::kDirectoryType;
    std::uint64_t limit = is_dir ? (16u << 20) : options.max_file_size;
    require(entry.meta.length <= limit, ErrorKind::kTooLarge, "client.package.too_large",
            "/" + path + " is " + std::to_string(entry.meta.length) + " bytes (limit " +
                std::to_string(limit) + ")");
    total += entry.meta.length;
    require(total <= options.max_total_size, ErrorKind::kTooLarge, "client.package.too_large", "package exceeds the total size limit");
    if (options.on_file && !is_dir) options.on_file(path);
    Bytes content = registry.get_node(slug.user, slug.repo, *slug.tag, path, entry.meta, options.on_bytes);
    if (is_dir) {
      auto dir = drawbridge::parse_directory(as_string(content));
      for (auto& [name, child] : dir) queue.emplace_back(path.empty() ? name : path + "/" + name, child);
    } else {
      pkg.files.emplace(path, std::move(content));
    }
  }
  pkg.metadata = std::move(metadata);
  return pkg;
}

}  // namespace enarx::client
