// Workload identity in keep certificates: the subjectAltName URIs that `enarx deploy` puts in
// its CSR and steward copies into the certificate (only for a runtime its policy knows: docs/
// steward.md "Trust rules"). This is the contract between the keep, the registry (drawbridge
// authorizes private-repo reads by the slug) and relying parties.
//
//   slug://<host>/<user>/<repo>:<tag>               which package (identity/slug.h)
//   urn:enarx:workload-digest:<alg>:<hex>           the tag's root tree entry digest
//                                                    (alg sha-256 / sha-384 / sha-512)
//   urn:enarx:app-digest:sha-256:<hex>              the application digest and
//   urn:enarx:config-digest:sha-256:<hex>           the configuration digest of the package
//                                                    (identity/package_digests.h)
//   urn:enarx:signer:sha-256:<hex>                  SHA-256 of the DER SubjectPublicKeyInfo of
//                                                    the publisher key that signed the tag
//                                                    (absent for unsigned tags)
//   urn:enarx:keep:<platform>:<hex>                 steward's name for the attested keep (its
//                                                    keep identity); never asked for in a CSR
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "identity/slug.h"

namespace enarx::identity {

inline constexpr std::string_view kDigestUrnPrefix = "urn:enarx:workload-digest:";
inline constexpr std::string_view kAppDigestUrnPrefix = "urn:enarx:app-digest:";
inline constexpr std::string_view kConfigDigestUrnPrefix = "urn:enarx:config-digest:";
inline constexpr std::string_view kSignerUrnPrefix = "urn:enarx:signer:sha-256:";
inline constexpr std::string_view kKeepUrnPrefix = "urn:enarx:keep:";

struct WorkloadIdentity {
  std::optional<Slug> slug;
  std::optional<std::string> digest;  // "<alg>:<hex>", e.g. "sha-256:2c26..."
  std::optional<std::string> signer;  // hex SHA-256 of the publisher SPKI
  std::optional<std::string> app_digest;     // "sha-256:<hex>" (identity/package_digests.h)
  std::optional<std::string> config_digest;  // "sha-256:<hex>"

  // The URI SANs to put in a CSR.
  std::vector<std::string> to_uris() const;
  // Reads the identity back from SAN URIs. Other URIs are ignored; a second, different value
  // of the same kind throws Error("identity.ambiguous"); a malformed one Error("identity.malformed").
  static WorkloadIdentity from_uris(const std::vector<std::string>& uris);
};

std::string format_digest_urn(std::string_view alg, std::string_view hex);
std::string format_signer_urn(std::string_view hex);
// From the 64 hex digits of a SHA-256 value: "urn:enarx:app-digest:sha-256:<hex>".
std::string format_app_digest_urn(std::string_view hex);
std::string format_config_digest_urn(std::string_view hex);
std::string format_keep_urn(std::string_view platform, std::string_view keep_identity_hex);

// Which documented form a URI SAN has, checked strictly: a slug URI must be exactly what
// format_slug_uri writes for it (no digest pin), a digest URN must carry a known algorithm and
// the matching number of lower-case hex digits, a signer, application or configuration digest
// URN 64. Throws Error("identity.malformed") for a URI that has one of the prefixes but is
// malformed; Other for anything else.
enum class WorkloadUri { Slug, Digest, Signer, AppDigest, ConfigDigest, Keep, Other };
WorkloadUri classify_workload_uri(std::string_view uri);

}  // namespace enarx::identity
