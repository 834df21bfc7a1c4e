// Workload slugs: `[<host>/]<user>/<repo>[:<tag>][@<alg>:<hex>]`.
//
// Parsed right to left like Enarx (src/drawbridge.rs): an optional `@<alg>:<hex>` digest pin
// (our extension: the root entry's digest, e.g. `@sha-256:2c26b4...`), then the tag after the
// last ':', the repository after the last '/', the user after the previous '/'; whatever is left
// is the host (may carry ":port" and extra path segments). Shared by drawbridge (client
// certificate authorization), steward (which writes the slug into keep certificates) and the
// enarx CLI (deploy).
//
// Certificate contract: a keep certificate names its workload with a URI subjectAltName
// `slug://<slug>`, e.g. `slug://store.example.com/alice/app:1.0.0` or `slug://alice/app`
// (no host, any tag). See docs/drawbridge.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace enarx::identity {

inline constexpr std::string_view kDefaultHost = "store.profian.com";
inline constexpr std::string_view kSlugUriScheme = "slug://";

struct Slug {
  std::string host;  // empty = unspecified
  std::string user;
  std::string repo;
  std::optional<std::string> tag;
  // Digest pin: algorithm name ("sha-256", lower case) and lower-case hex value.
  std::optional<std::string> digest_alg;
  std::optional<std::string> digest_hex;

  bool operator==(const Slug&) const = default;
};

// Throws Error("drawbridge.slug.invalid") with the reason. `require_tag` for deploy-style
// slugs that must name a version.
Slug parse_slug(std::string_view text, bool require_tag = false);
std::string format_slug(const Slug& slug);

// "slug://<slug>". parse_slug_uri returns nullopt for URIs of other schemes and throws
// Error("drawbridge.slug.invalid") for a malformed slug URI.
std::string format_slug_uri(const Slug& slug);
std::optional<Slug> parse_slug_uri(std::string_view uri);

// `https://<host or default>/api/v0.1.0/<user>/<repo>[/_tag/<tag>]`.
std::string slug_url(const Slug& slug, std::string_view default_host = kDefaultHost);

// Does a certificate slug authorize reading `user/repo` (and `tag`, when given)? The host must
// match `server_host` when both are non-empty (case-insensitive); a slug without a tag covers
// every tag; a slug with a tag covers only that tag (and never the tag listing).
bool slug_grants(const Slug& granted, std::string_view user, std::string_view repo,
                 const std::optional<std::string>& tag, std::string_view server_host = {});

}  // namespace enarx::identity
