#include "client/package_digests.h"

#include "core/crypto.h"
#include "core/error.h"

namespace enarx::client {
namespace {

constexpr std::uint64_t kMaxDirectoryNode = 16u << 20;  // as fetch_package
constexpr std::size_t kMaxListedFiles = 1'000'000;

Bytes entry_sha256(const std::string& path, const drawbridge::Entry& entry) {
  auto v = entry.meta.digest.get(DigestAlgorithm::Sha256);
  require(v.has_value(), ErrorKind::kInvalidInput, "client.package.no_sha256",
          "/" + path + ": the entry has no sha-256 digest");
  return *v;
}

bool is_directory(const drawbridge::Entry& entry) { return entry.meta.type == drawbridge::kDirectoryType; }

}  // namespace

std::vector<identity::PackageFile> list_package_files(RegistryClient& registry, const identity::Slug& slug,
                                                      const drawbridge::Entry& root, const FetchOptions& options) {
  require(slug.tag.has_value(), ErrorKind::kInvalidInput, "client.slug.no_tag", "listing a package needs a slug with a :tag");
  std::vector<identity::PackageFile> files;
  std::uint64_t directory_bytes = 0;
  std::vector<std::pair<std::string, drawbridge::Entry>> queue{{"", root}};
  while (!queue.empty()) {
    auto [path, entry] = std::move(queue.back());
    queue.pop_back();
    if (!is_directory(entry)) {
      require(files.size() < kMaxListedFiles, ErrorKind::kTooLarge, "client.package.too_large",
              "the package lists more than " + std::to_string(kMaxListedFiles) + " files");
      files.push_back({path, entry_sha256(path, entry)});
      continue;
    }
    require(entry.meta.length <= kMaxDirectoryNode, ErrorKind::kTooLarge, "client.package.too_large",
            "/" + path + " is a directory node of " + std::to_string(entry.meta.length) + " bytes");
    directory_bytes += entry.meta.length;
    require(directory_bytes <= options.max_total_size, ErrorKind::kTooLarge, "client.package.too_large",
            "the package's directory nodes exceed the total size limit");
    // get_node checks the node against the entry its verified parent declares.
    const Bytes node = registry.get_node(slug.user, slug.repo, *slug.tag, path, entry.meta);
    for (auto& [name, child] : drawbridge::parse_directory(as_string(node)))
      queue.emplace_back(path.empty() ? name : path + "/" + name, std::move(child));
  }
  return files;
}

std::vector<identity::PackageFile> list_package_files(const drawbridge::Tree& tree) {
  std::vector<identity::PackageFile> files;
  for (const auto& node : tree.nodes) {
    if (node.meta.type == drawbridge::kDirectoryType) continue;
    auto v = node.meta.digest.get(DigestAlgorithm::Sha256);
    require(v.has_value(), ErrorKind::kInvalidInput, "client.package.no_sha256", "/" + node.path + " has no sha-256 digest");
    files.push_back({node.path, *v});
  }
  return files;
}

std::vector<identity::PackageFile> list_package_files(const Package& package) {
  std::vector<identity::PackageFile> files;
  files.reserve(package.files.size());
  for (const auto& [path, content] : package.files) files.push_back({path, sha256(content)});
  return files;
}

}  // namespace enarx::client
