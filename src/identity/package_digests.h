// The application and configuration digests of a package (docs/oids.md "Application and
// configuration digests"): what lets a relying party accept "this application, any
// configuration" or "this application with this configuration", where the workload digest
// (the root tree entry) only says "exactly this tree".
//
//   application    SHA-256 of the one module the runtime executes: the root directory's
//                  `main.wasm`, or the root file of a single-file package. (`sha256sum main.wasm`)
//   configuration  SHA-256 of the listing of every other file of the tree — Enarx.toml and every
//                  asset the workload can read — one line `<sha-256 hex>  <path>\n` per file,
//                  sorted bytewise by path (the output of `sha256sum`, so coreutils reproduce it).
//
// Both are functions of the file paths and contents alone: not of upload order, media types,
// which digest algorithms a directory node lists, or empty directories (the workload sees none of
// them). They are computed from the digests the verified directory nodes list, so whoever can
// verify the tree can compute them without fetching a single file (client/package_digests.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace enarx::identity {

// The module the runtime executes in a directory package.
inline constexpr std::string_view kApplicationModule = "main.wasm";

// One file of a package tree (directories are not files).
struct PackageFile {
  std::string path;  // entry names joined by '/'; "" for the root of a single-file package
  Bytes sha256;      // SHA-256 of the file's content (32 bytes)
};

struct PackageDigests {
  std::string application;    // "sha-256:<64 lower-case hex>"
  std::string configuration;  // "sha-256:<64 lower-case hex>"
  bool operator==(const PackageDigests&) const = default;
};

// The canonical listing the configuration digest hashes: every file but the application, one
// `<hex>  <path>\n` line each, sorted bytewise by path. Validates like package_digests.
std::string configuration_listing(const std::vector<PackageFile>& files);

// Both digests, or nullopt when the tree holds no application module (a directory without a
// root `main.wasm`: such a package cannot run). Throws Error(kInvalidInput,
// "identity.package.malformed") for a path that is not a tree path (names.h entry grammar), a
// path listed twice, a single-file root ("") beside other files, or a digest that is not 32 bytes.
std::optional<PackageDigests> package_digests(const std::vector<PackageFile>& files);

}  // namespace enarx::identity
