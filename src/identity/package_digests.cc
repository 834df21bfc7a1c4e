#include "identity/package_digests.h"

#include <algorithm>

#include "core/crypto.h"
#include "core/error.h"
#include "identity/names.h"

namespace enarx::identity {
namespace {

[[noreturn]] void malformed(const std::string& why) {
  throw Error(ErrorKind::kInvalidInput, "identity.package.malformed", "package listing: " + why);
}

// The files sorted bytewise by path, checked to form a tree.
std::vector<const PackageFile*> sorted_checked(const std::vector<PackageFile>& files) {
  std::vector<const PackageFile*> sorted;
  sorted.reserve(files.size());
  for (const auto& f : files) {
    if (f.sha256.size() != 32) malformed("the digest of /" + f.path + " is not a SHA-256 value");
    if (!f.path.empty()) {
      std::vector<std::string> segments;
      try {
        segments = parse_tree_path(f.path);
      } catch (const Error& e) {
        malformed(e.what());
      }
      if (join_tree_path(segments) != f.path) malformed("path " + f.path + " is not written canonically");
    }
    sorted.push_back(&f);
  }
  std::sort(sorted.begin(), sorted.end(), [](const PackageFile* a, const PackageFile* b) { return a->path < b->path; });
  for (std::size_t i = 0; i + 1 < sorted.size(); ++i) {
    const std::string& here = sorted[i]->path;
    const std::string& next = sorted[i + 1]->path;
    if (here == next) malformed("/" + here + " is listed twice");
    if (here.empty()) malformed("a single-file package holds no other file");
    // "a" sorts before "a.txt" before "a/b", so a file that is also a directory is not always
    // next to its children: look for the directory form itself.
    const std::string as_dir = here + "/";
    const auto child = std::lower_bound(sorted.begin() + static_cast<std::ptrdiff_t>(i) + 1, sorted.end(), as_dir,
                                        [](const PackageFile* f, const std::string& p) { return f->path < p; });
    if (child != sorted.end() && (*child)->path.starts_with(as_dir)) malformed("/" + here + " is a file and a directory");
  }
  return sorted;
}

bool is_application(const PackageFile& f) { return f.path.empty() || f.path == kApplicationModule; }

}  // namespace

std::string configuration_listing(const std::vector<PackageFile>& files) {
  std::string listing;
  for (const PackageFile* f : sorted_checked(files)) {
    if (is_application(*f)) continue;
    listing += to_hex(f->sha256);
    listing += "  ";
    listing += f->path;
    listing += '\n';
  }
  return listing;
}

std::optional<PackageDigests> package_digests(const std::vector<PackageFile>& files) {
  const std::string listing = configuration_listing(files);  // validates
  const auto app = std::find_if(files.begin(), files.end(), is_application);
  if (app == files.end()) return std::nullopt;
  return PackageDigests{.application = "sha-256:" + to_hex(app->sha256),
                        .configuration = "sha-256:" + to_hex(sha256(as_bytes(listing)))};
}

}  // namespace enarx::identity
