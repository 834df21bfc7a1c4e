// The application and configuration digests (identity/package_digests.h) of the packages the
// client handles: a published tree read through its verified directory nodes (deploy, before the
// keep is attested; `enarx package info`), a tree built from a directory (publish, file://
// deploy) and a fetched package (to cross-check the two).
#pragma once

#include <optional>
#include <vector>

#include "client/registry_client.h"
#include "drawbridge/model.h"
#include "identity/package_digests.h"

namespace enarx::client {

// Every file of the tree under `root` with the SHA-256 its (verified) parent entry declares,
// reading only directory nodes: each is verified against the entry naming it, so the listing is
// as trustworthy as the root entry. Needs the same read access as the tag (public, or the owner's
// token), not the keep certificate. Bounded like fetch_package: a directory node over 16 MiB,
// directory nodes over options.max_total_size in all, or more than 1,000,000 files is
// client.package.too_large; an entry without a sha-256 digest is client.package.no_sha256.
std::vector<identity::PackageFile> list_package_files(RegistryClient& registry, const identity::Slug& slug,
                                                      const drawbridge::Entry& root, const FetchOptions& options = {});

// The same listing for a tree built locally (drawbridge::build_tree_from_path).
std::vector<identity::PackageFile> list_package_files(const drawbridge::Tree& tree);

// The same listing from file contents (a fetched or local package).
std::vector<identity::PackageFile> list_package_files(const Package& package);

}  // namespace enarx::client
