// Client of the drawbridge registry API (/api/v0.1.0), used by `enarx user/repo/package` and
// `enarx deploy`. Every download is size-limited and digest-verified while it streams.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/jws.h"
#include "core/bytes.h"
#include "drawbridge/model.h"
#include "identity/slug.h"
#include "net/http_client.h"

namespace enarx::client {

// Error codes: registry.not_found (404), registry.unauthorized (401/403),
// registry.conflict (409), registry.bad_request (400), registry.error (other statuses),
// registry.unreachable (transport), registry.digest_mismatch, registry.bad_response.
class RegistryClient {
 public:
  // `base_url` like "https://host:port/api/v0.1.0". `token` is an OIDC bearer token ("" = none).
  RegistryClient(std::string base_url, net::ClientOptions http, std::string token = {});
  // "https://<host or default>/api/v0.1.0" for a slug (http:// with `plain_http`, tests only).
  static std::string base_url_for(const identity::Slug& slug, bool plain_http = false);

  // true = created, false = already existed.
  bool put_user(const std::string& user, const std::string& subject);
  drawbridge::UserRecord get_user(const std::string& user);
  bool put_repo(const std::string& user, const std::string& repo, bool is_public,
                const std::optional<std::string>& steward = std::nullopt);
  drawbridge::RepoConfig get_repo(const std::string& user, const std::string& repo);
  // The owner sets (or, with nullopt, clears) the repository's steward.
  void set_repo_steward(const std::string& user, const std::string& repo, const std::optional<std::string>& steward);

  // Which steward the registry names for a repository or one of its tags (the _steward route,
  // anyone may ask). `source`: "tag" (the stored tag's signed payload says so — a keep believes
  // only its own verification of that tag), "repository", "registry" (the registry's default;
  // also the answer for every name the caller may not read) or "none" (url empty).
  struct StewardAnswer {
    std::optional<std::string> url;
    std::string source;
  };
  StewardAnswer discover_steward(const std::string& user, const std::string& repo,
                                 const std::optional<std::string>& tag);
  std::vector<std::string> list_tags(const std::string& user, const std::string& repo);

  struct Tag {
    std::string type;     // entry or JWS media type
    std::string content;  // exactly as stored
    drawbridge::Entry root;
    drawbridge::Meta meta;  // of the tag content itself (from the response headers)
  };
  Tag get_tag(const std::string& user, const std::string& repo, const std::string& tag);
  // Created (201: a new or restarted pending tag, no nodes stored), Resumed (200: the tag was
  // pending with the same root entry; the nodes stored so far are kept), Exists (409: the tag is
  // complete, immutable).
  enum class TagPut { Created, Resumed, Exists };
  TagPut put_tag(const std::string& user, const std::string& repo, const std::string& tag,
                 const std::string& content, const std::string& type);

  // Is the node at `path` ("" = root) stored under the (possibly pending) tag? For a pending
  // tag the registry answers only its owner with a write:drawbridge_tags token.
  bool has_node(const std::string& user, const std::string& repo, const std::string& tag,
                const std::string& path);
  bool put_node(const std::string& user, const std::string& repo, const std::string& tag,
                const std::string& path, const drawbridge::Meta& meta, ByteView content,
                const net::ProgressCallback& progress = {});
  // Streams the node, failing as soon as it exceeds `expected.length` and at the end unless its
  // digests equal `expected`'s (registry.digest_mismatch).
  Bytes get_node(const std::string& user, const std::string& repo, const std::string& tag,
                 const std::string& path, const drawbridge::Meta& expected,
                 const net::ProgressCallback& progress = {});

  // ---- sharing (docs/drawbridge.md "Sharing"); the owner's token ----
  enum class Grantee { User, Group };
  // Grants a user, or one of `user`'s groups, "read" or "write" access to user/repo. true =
  // created, false = an existing grant's access replaced.
  bool put_grant(const std::string& user, const std::string& repo, Grantee kind, const std::string& name,
                 const std::string& access);
  // registry.not_found when there was no such grant.
  void delete_grant(const std::string& user, const std::string& repo, Grantee kind, const std::string& name);
  struct Grants {
    std::map<std::string, std::string> users, groups;  // name -> "read" | "write"
  };
  Grants get_grants(const std::string& user, const std::string& repo);
  // true = created, false = existed already.
  bool create_group(const std::string& user, const std::string& group);
  void delete_group(const std::string& user, const std::string& group);
  std::vector<std::string> list_groups(const std::string& user);
  std::vector<std::string> group_members(const std::string& user, const std::string& group);
  // true = added, false = already a member.
  bool add_member(const std::string& user, const std::string& group, const std::string& member);
  void remove_member(const std::string& user, const std::string& group, const std::string& member);

  const std::string& base_url() const { return base_url_; }

 private:
  net::ClientResponse send(net::ClientRequest req, std::initializer_list<int> ok_statuses);
  std::string url(const std::string& user, const std::string& repo = {},
                  const std::optional<std::string>& tag = {},
                  const std::optional<std::string>& tree_path = {}) const;
  std::string base_url_;
  net::ClientOptions options_;
  std::string token_;
  net::HttpClient http_;
};

// ---- publishing ---------------------------------------------------------------------------

struct PublishOptions {
  const PrivateKey* signing_key = nullptr;  // sign the tag (JWS) when set
  // The steward keeps deploying this tag should use, stated inside the signed root entry
  // (member "steward"); needs signing_key, since keeps ignore it in an unsigned tag.
  std::optional<std::string> steward;
  // Called per node: (path, index, count, uploaded?) — for progress output.
  std::function<void(const std::string& path, std::size_t index, std::size_t count, bool uploaded)>
      on_node;
  net::ProgressCallback on_bytes;  // bytes of the current upload
};

struct PublishResult {
  drawbridge::Entry root;
  std::string root_digest;  // "sha-256:<hex>" of the root entry's content
  std::size_t uploaded = 0, skipped = 0;
  bool already_published = false;  // the tag was complete before we started
  std::optional<std::string> signer;  // key fingerprint when signed
};

// Publishes the tree built from `dir` (Enarx.toml + wasm module(s) + assets) as `slug`'s tag.
// Upload order (drawbridge's "no dangling trees" protocol): PUT the tag (root entry, or a JWS
// over the root entry's canonical JSON), then every node root-first. Re-running after a failure
// resumes: the registry keeps the pending tag's nodes when the root entry is the same (tag PUT
// answers 200), the client HEADs each node and uploads only the missing ones (`uploaded`,
// `skipped`). A different tree for the same pending tag restarts it. The package must contain
// main.wasm (client.package.no_main_wasm).
PublishResult publish_package(RegistryClient& registry, const identity::Slug& slug,
                              const std::string& dir, const PublishOptions& options);

// The workload digest used in identities and pins: "sha-256:<hex>" of the root node's content.
std::string root_digest(const drawbridge::Entry& root);

// ---- fetching -----------------------------------------------------------------------------

struct FetchOptions {
  std::optional<std::string> expected_digest;  // "<alg>:<hex>": pin from slug@digest
  const PublicKey* expected_signer = nullptr;  // require a tag signature by this key
  std::optional<std::string> expected_signer_fingerprint;  // or by this fingerprint
  std::uint64_t max_file_size = 100ull << 20;
  std::uint64_t max_total_size = 512ull << 20;
  net::ProgressCallback on_bytes;
  std::function<void(const std::string& path)> on_file;
};

struct TagMetadata {
  drawbridge::Entry root;
  std::string root_digest;
  std::optional<jws::Verified> signature;  // present for signed tags (already verified)
};

// Which of the tag's checks refused it (a deploy reports each as its own step).
enum class TagCheck { DigestPin, Signature };
class TagCheckError : public Error {
 public:
  TagCheckError(TagCheck check, const Error& cause) : Error(cause), check_(check) {}
  TagCheck check() const { return check_; }

 private:
  TagCheck check_;
};

// Step "metadata": fetch the tag, check the digest pin and the signature (when present, always
// verified; required when an expected signer is given). Errors: TagCheckError for the pin
// (deploy.digest_mismatch) and the signature (deploy.unsigned: signer required, tag unsigned;
// jws.*: bad or wrong signature); anything else from fetching the tag.
TagMetadata fetch_tag_metadata(RegistryClient& registry, const identity::Slug& slug,
                               const FetchOptions& options);

struct Package {
  TagMetadata metadata;
  std::map<std::string, Bytes> files;  // path -> content, every digest verified; memory only
};

// Step "fetch": downloads the whole tree under the tag, verifying every node against the entry
// its (already verified) parent names, so the root digest vouches for every byte.
Package fetch_package(RegistryClient& registry, const identity::Slug& slug, TagMetadata metadata,
                      const FetchOptions& options);

}  // namespace enarx::client
