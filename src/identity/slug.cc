#include "identity/slug.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "identity/names.h"

namespace enarx::identity {
namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  std::string shown(text.substr(0, 200));
  for (auto& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  throw Error(ErrorKind::kInvalidInput, "drawbridge.slug.invalid", "invalid slug '" + shown + "': " + std::string(why));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool valid_host(std::string_view host) {
  if (host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '/' || c == '[' || c == ']' || c == '_';
  });
}

}  // namespace

Slug parse_slug(std::string_view text, bool require_tag) {
  if (text.empty()) fail(text, "empty");
  if (text.size() > 1024) fail(text, "too long");
  Slug s;
  std::string_view rest = text;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto pin = rest.substr(at + 1);
    rest = rest.substr(0, at);
    auto colon = pin.find(':');
    if (colon == std::string_view::npos) fail(text, "digest pin must be <alg>:<hex>");
    auto alg = lower(pin.substr(0, colon));
    auto hex = lower(pin.substr(colon + 1));
    std::size_t want = alg == "sha-224" ? 56 : alg == "sha-256" ? 64 : alg == "sha-384" ? 96
                     : alg == "sha-512" ? 128 : 0;
    if (want == 0) fail(text, "unknown digest algorithm in pin");
    if (hex.size() != want || !std::all_of(hex.begin(), hex.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c));
        }))
      fail(text, "digest pin has the wrong length or is not hex");
    s.digest_alg = alg;
    s.digest_hex = hex;
  }
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) fail(text, "expected <user>/<repo>");
  // The tag separator is the last ':' after the last '/', so a host's ":port" is never a tag.
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && colon > slash) {
    std::string tag(rest.substr(colon + 1));
    try {
      validate_tag_name(tag);
    } catch (const Error& e) {
      fail(text, e.what());
    }
    s.tag = tag;
    rest = rest.substr(0, colon);
  }
  if (require_tag && !s.tag) fail(text, "a tag (:<version>) is required");
  s.repo = std::string(rest.substr(slash + 1));
  rest = rest.substr(0, slash);
  auto uslash = rest.rfind('/');
  if (uslash == std::string_view::npos) {
    s.user = std::string(rest);
  } else {
    s.user = std::string(rest.substr(uslash + 1));
    s.host = std::string(rest.substr(0, uslash));
    if (s.host.empty()) fail(text, "empty host");
    if (!valid_host(s.host)) fail(text, "invalid host");
  }
  try {
    validate_user_name(s.user);
    validate_repo_name(s.repo);
  } catch (const Error& e) {
    fail(text, e.what());
  }
  return s;
}

std::string format_slug(const Slug& s) {
  std::string out;
  if (!s.host.empty()) out += s.host + "/";
  out += s.user + "/" + s.repo;
  if (s.tag) out += ":" + *s.tag;
  if (s.digest_alg && s.digest_hex) out += "@" + *s.digest_alg + ":" + *s.digest_hex;
  return out;
}

std::string format_slug_uri(const Slug& slug) {
  return std::string(kSlugUriScheme) + format_slug(slug);
}

std::optional<Slug> parse_slug_uri(std::string_view uri) {
  if (uri.size() < kSlugUriScheme.size() ||
      lower(uri.substr(0, kSlugUriScheme.size())) != kSlugUriScheme)
    return std::nullopt;
  return parse_slug(uri.substr(kSlugUriScheme.size()));
}

std::string slug_url(const Slug& slug, std::string_view default_host) {
  std::string host = slug.host.empty() ? std::string(default_host) : slug.host;
  std::string url = "https://" + host + "/api/v0.1.0/" + slug.user + "/" + slug.repo;
  if (slug.tag) url += "/_tag/" + *slug.tag;
  return url;
}

bool slug_grants(const Slug& granted, std::string_view user, std::string_view repo,
                 const std::optional<std::string>& tag, std::string_view server_host) {
  if (granted.user != user || granted.repo != repo) return false;
  if (!granted.host.empty() && !server_host.empty() &&
      lower(granted.host) != lower(server_host))
    return false;
  if (granted.tag) return tag.has_value() && *tag == *granted.tag;
  return true;
}

}  // namespace enarx::identity
