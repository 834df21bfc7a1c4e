// Workload identity in keep certificates: the subjectAltName URIs that `enarx deploy` puts in
// its CSR and steward copies into the certificate. This is the contract between the keep, the
// registry (drawbridge authorizes private-repo reads by the slug) and relying parties.
//
//   slug://<host>/<user>/<repo>:<tag>               which package (drawbridge/slug.h)
//   urn:enarx:workload-digest:<alg>:<hex>           the tag's root tree entry digest
//                                                    (e.g. sha-256 of the root directory JSON)
//   urn:enarx:signer:sha-256:<hex>                  SHA-256 of the DER SubjectPublicKeyInfo of
//                                                    the publisher key that signed the tag
//                                                    (absent for unsigned tags)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/x509.h"
#include "drawbridge/slug.h"

namespace enarx::verify {

inline constexpr std::string_view kDigestUrnPrefix = "urn:enarx:workload-digest:";
inline constexpr std::string_view kSignerUrnPrefix = "urn:enarx:signer:sha-256:";

struct WorkloadIdentity {
  std::optional<drawbridge::Slug> slug;
  std::optional<std::string> digest;  // "<alg>:<hex>", e.g. "sha-256:2c26..."
  std::optional<std::string> signer;  // hex SHA-256 of the publisher SPKI

  // The URI SANs to put in a CSR.
  std::vector<std::string> to_uris() const;
  // Reads the identity back from SAN URIs. Other URIs are ignored; a second, different value
  // of the same kind throws Error("identity.ambiguous"); a malformed one Error("identity.malformed").
  static WorkloadIdentity from_uris(const std::vector<std::string>& uris);
};

std::string format_digest_urn(std::string_view alg, std::string_view hex);
std::string format_signer_urn(std::string_view hex);

}  // namespace enarx::verify
