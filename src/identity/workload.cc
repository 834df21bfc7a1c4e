#include "identity/workload.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace enarx::identity {
namespace {

bool is_lower_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

template <typename T>
void set_once(std::optional<T>& slot, T value, const char* what) {
  if (slot && !(*slot == value))
    throw Error(ErrorKind::kInvalidInput, "identity.ambiguous", std::string("certificate names two different ") + what);
  slot = std::move(value);
}

// Hex digits of a digest algorithm's value, or 0 for an algorithm we do not know.
std::size_t hex_length(std::string_view alg) {
  if (alg == "sha-256") return 64;
  if (alg == "sha-384") return 96;
  if (alg == "sha-512") return 128;
  return 0;
}

constexpr std::string_view kSha256Prefix = "sha-256:";

bool is_sha256_hex(std::string_view hex) { return hex.size() == 64 && is_lower_hex(hex); }

// Whether `value` is "sha-256:<64 lower-case hex digits>": the only form an application or
// configuration digest has (in WorkloadIdentity and after the URN prefix).
bool is_sha256_digest(std::string_view value) {
  return value.starts_with(kSha256Prefix) && is_sha256_hex(value.substr(kSha256Prefix.size()));
}

// The hex of an application or configuration digest, for its URN.
std::string package_digest_hex(const std::string& digest, const char* what) {
  require(is_sha256_digest(digest), ErrorKind::kInvalidInput, "identity.malformed",
          std::string(what) + " must be sha-256:<64 lower-case hex digits>");
  return digest.substr(kSha256Prefix.size());
}

}  // namespace

std::string format_digest_urn(std::string_view alg, std::string_view hex) {
  return std::string(kDigestUrnPrefix) + std::string(alg) + ":" + std::string(hex);
}

std::string format_signer_urn(std::string_view hex) {
  return std::string(kSignerUrnPrefix) + std::string(hex);
}

std::string format_keep_urn(std::string_view platform, std::string_view keep_identity_hex) {
  return std::string(kKeepUrnPrefix) + std::string(platform) + ":" + std::string(keep_identity_hex);
}

std::string format_app_digest_urn(std::string_view hex) {
  return std::string(kAppDigestUrnPrefix) + std::string(kSha256Prefix) + std::string(hex);
}

std::string format_config_digest_urn(std::string_view hex) {
  return std::string(kConfigDigestUrnPrefix) + std::string(kSha256Prefix) + std::string(hex);
}

std::vector<std::string> WorkloadIdentity::to_uris() const {
  std::vector<std::string> uris;
  if (slug) uris.push_back(format_slug_uri(*slug));
  if (digest) {
    auto colon = digest->find(':');
    require(colon != std::string::npos, ErrorKind::kInvalidInput, "identity.malformed", "digest must be <alg>:<hex>");
    uris.push_back(format_digest_urn(digest->substr(0, colon), digest->substr(colon + 1)));
  }
  if (signer) uris.push_back(format_signer_urn(*signer));
  if (app_digest) uris.push_back(format_app_digest_urn(package_digest_hex(*app_digest, "the application digest")));
  if (config_digest)
    uris.push_back(format_config_digest_urn(package_digest_hex(*config_digest, "the configuration digest")));
  return uris;
}

WorkloadIdentity WorkloadIdentity::from_uris(const std::vector<std::string>& uris) {
  WorkloadIdentity id;
  for (const auto& uri : uris) {
    if (auto slug = parse_slug_uri(uri)) {
      set_once(id.slug, *slug, "slugs");
    } else if (uri.starts_with(kDigestUrnPrefix)) {
      std::string rest = uri.substr(kDigestUrnPrefix.size());
      auto colon = rest.find(':');
      require(colon != std::string::npos && colon > 0, ErrorKind::kInvalidInput, "identity.malformed",
              "workload digest URN must be " + std::string(kDigestUrnPrefix) + "<alg>:<hex>");
      std::string alg = rest.substr(0, colon);
      std::string hex = rest.substr(colon + 1);
      require(alg.rfind("sha-", 0) == 0 && is_lower_hex(hex), ErrorKind::kInvalidInput, "identity.malformed",
              "workload digest URN is malformed: " + uri);
      set_once(id.digest, alg + ":" + hex, "workload digests");
    } else if (uri.starts_with(kSignerUrnPrefix)) {
      std::string hex = uri.substr(kSignerUrnPrefix.size());
      require(hex.size() == 64 && is_lower_hex(hex), ErrorKind::kInvalidInput, "identity.malformed",
              "signer URN must carry 64 lower-case hex digits: " + uri);
      set_once(id.signer, hex, "signers");
    } else if (uri.starts_with(kAppDigestUrnPrefix)) {
      std::string value = uri.substr(kAppDigestUrnPrefix.size());
      require(is_sha256_digest(value), ErrorKind::kInvalidInput, "identity.malformed",
              "application digest URN must be " + std::string(kAppDigestUrnPrefix) + "sha-256:<64 lower-case hex>: " + uri);
      set_once(id.app_digest, std::move(value), "application digests");
    } else if (uri.starts_with(kConfigDigestUrnPrefix)) {
      std::string value = uri.substr(kConfigDigestUrnPrefix.size());
      require(is_sha256_digest(value), ErrorKind::kInvalidInput, "identity.malformed",
              "configuration digest URN must be " + std::string(kConfigDigestUrnPrefix) +
                  "sha-256:<64 lower-case hex>: " + uri);
      set_once(id.config_digest, std::move(value), "configuration digests");
    }
  }
  return id;
}

WorkloadUri classify_workload_uri(std::string_view uri) {
  if (auto slug = parse_slug_uri(uri)) {
    require(!slug->digest_alg && !slug->digest_hex, ErrorKind::kInvalidInput, "identity.malformed",
            "a slug name carries no digest pin (the digest has its own URN)");
    require(format_slug_uri(*slug) == uri, ErrorKind::kInvalidInput, "identity.malformed",
            "a slug name must be written exactly as " + format_slug_uri(*slug));
    return WorkloadUri::Slug;
  }
  if (uri.starts_with(kDigestUrnPrefix)) {
    const std::string_view rest = uri.substr(kDigestUrnPrefix.size());
    const auto colon = rest.find(':');
    const std::string_view alg = rest.substr(0, colon);
    const std::string_view hex = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    require(hex_length(alg) != 0 && hex.size() == hex_length(alg) && is_lower_hex(hex), ErrorKind::kInvalidInput,
            "identity.malformed",
            "a workload digest is urn:enarx:workload-digest:<sha-256|sha-384|sha-512>:<lower-case hex>");
    return WorkloadUri::Digest;
  }
  if (uri.starts_with(kSignerUrnPrefix)) {
    const std::string_view hex = uri.substr(kSignerUrnPrefix.size());
    require(hex.size() == 64 && is_lower_hex(hex), ErrorKind::kInvalidInput, "identity.malformed",
            "a signer is urn:enarx:signer:sha-256:<64 lower-case hex digits>");
    return WorkloadUri::Signer;
  }
  if (uri.starts_with(kAppDigestUrnPrefix)) {
    require(is_sha256_digest(uri.substr(kAppDigestUrnPrefix.size())), ErrorKind::kInvalidInput, "identity.malformed",
            "an application digest is urn:enarx:app-digest:sha-256:<64 lower-case hex digits>");
    return WorkloadUri::AppDigest;
  }
  if (uri.starts_with(kConfigDigestUrnPrefix)) {
    require(is_sha256_digest(uri.substr(kConfigDigestUrnPrefix.size())), ErrorKind::kInvalidInput, "identity.malformed",
            "a configuration digest is urn:enarx:config-digest:sha-256:<64 lower-case hex digits>");
    return WorkloadUri::ConfigDigest;
  }
  if (uri.starts_with(kKeepUrnPrefix)) return WorkloadUri::Keep;
  return WorkloadUri::Other;
}

}  // namespace enarx::identity
