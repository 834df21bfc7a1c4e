#include "verify/identity.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace enarx::verify {
namespace {

bool is_lower_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

template <typename T>
void set_once(std::optional<T>& slot, T value, const char* what) {
  if (slot && !(*slot == value))
    throw Error("identity.ambiguous", std::string("certificate names two different ") + what);
  slot = std::move(value);
}

}  // namespace

std::string format_digest_urn(std::string_view alg, std::string_view hex) {
  return std::string(kDigestUrnPrefix) + std::string(alg) + ":" + std::string(hex);
}

std::string format_signer_urn(std::string_view hex) {
  return std::string(kSignerUrnPrefix) + std::string(hex);
}

std::vector<std::string> WorkloadIdentity::to_uris() const {
  std::vector<std::string> uris;
  if (slug) uris.push_back(drawbridge::format_slug_uri(*slug));
  if (digest) {
    auto colon = digest->find(':');
    require(colon != std::string::npos, "identity.malformed", "digest must be <alg>:<hex>");
    uris.push_back(format_digest_urn(digest->substr(0, colon), digest->substr(colon + 1)));
  }
  if (signer) uris.push_back(format_signer_urn(*signer));
  return uris;
}

WorkloadIdentity WorkloadIdentity::from_uris(const std::vector<std::string>& uris) {
  WorkloadIdentity id;
  for (const auto& uri : uris) {
    if (auto slug = drawbridge::parse_slug_uri(uri)) {
      set_once(id.slug, *slug, "slugs");
    } else if (uri.starts_with(kDigestUrnPrefix)) {
      std::string rest = uri.substr(kDigestUrnPrefix.size());
      auto colon = rest.find(':');
      require(colon != std::string::npos && colon > 0, "identity.malformed",
              "workload digest URN must be " + std::string(kDigestUrnPrefix) + "<alg>:<hex>");
      std::string alg = rest.substr(0, colon);
      std::string hex = rest.substr(colon + 1);
      require(alg.rfind("sha-", 0) == 0 && is_lower_hex(hex), "identity.malformed",
              "workload digest URN is malformed: " + uri);
      set_once(id.digest, alg + ":" + hex, "workload digests");
    } else if (uri.starts_with(kSignerUrnPrefix)) {
      std::string hex = uri.substr(kSignerUrnPrefix.size());
      require(hex.size() == 64 && is_lower_hex(hex), "identity.malformed",
              "signer URN must carry 64 lower-case hex digits: " + uri);
      set_once(id.signer, hex, "signers");
    }
  }
  return id;
}

}  // namespace enarx::verify
