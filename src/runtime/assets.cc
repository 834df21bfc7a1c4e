#include "runtime/assets.h"

#include <vector>

#include "core/error.h"
#include "core/file.h"

namespace enarx::runtime {
namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

constexpr std::uint16_t kNametoolong = 37, kNoent = 44, kNotdir = 54, kNotcapable = 76;

}  // namespace

AssetTree::AssetTree() : root_(std::make_unique<AssetNode>()) {
  root_->is_dir = true;
  root_->inode = 1;
}

AssetNode* AssetTree::make_dirs(std::string_view path, bool last_is_dir, std::string* leaf) {
  auto parts = split(path);
  AssetNode* cur = root_.get();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.empty() || p == "." || p == ".." || p.find('\0') != std::string_view::npos)
      throw Error(ErrorKind::kInvalidInput, "runtime.assets.bad_path", "invalid asset path '" + std::string(path) + "'");
    bool last = i + 1 == parts.size();
    if (last && !last_is_dir) {
      *leaf = std::string(p);
      return cur;
    }
    auto it = cur->children.find(p);
    if (it == cur->children.end()) {
      auto n = std::make_unique<AssetNode>();
      n->is_dir = true;
      n->inode = next_inode_++;
      n->parent = cur;
      it = cur->children.emplace(std::string(p), std::move(n)).first;
    } else if (!it->second->is_dir) {
      throw Error(ErrorKind::kInvalidInput, "runtime.assets.bad_path",
                  "asset path '" + std::string(path) + "' runs through a file");
    }
    cur = it->second.get();
  }
  return cur;
}

void AssetTree::add_directory(std::string_view path) { make_dirs(path, true, nullptr); }

void AssetTree::add_file(std::string_view path, Bytes data) {
  std::string leaf;
  AssetNode* dir = make_dirs(path, false, &leaf);
  if (dir->children.count(leaf))
    throw Error(ErrorKind::kInvalidInput, "runtime.assets.bad_path", "duplicate asset path '" + std::string(path) + "'");
  auto n = std::make_unique<AssetNode>();
  n->inode = next_inode_++;
  n->parent = dir;
  n->data = std::make_shared<const Bytes>(std::move(data));
  dir->children.emplace(std::move(leaf), std::move(n));
  ++files_;
}

AssetTree AssetTree::from_directory(const std::filesystem::path& dir, std::uint64_t max_total) {
  namespace fs = std::filesystem;
  AssetTree tree;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::kInvalidInput, "io.read",
                dir.string() + " is not a directory" + (ec ? " (" + ec.message() + ")" : ""));
  std::uint64_t total = 0;
  try {
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      // Lexically: fs::relative() resolves symlinks, and would throw on a loop.
      std::string rel = it->path().lexically_relative(dir).generic_string();
      if (it->is_symlink()) {
        // Symlinks are not part of the package tree (they are skipped), but one that loops is
        // a broken input the publisher should hear about, by name.
        std::error_code lec;
        (void)fs::status(it->path(), lec);
        if (lec == std::errc::too_many_symbolic_link_levels)
          throw Error(ErrorKind::kInvalidInput, "runtime.assets.symlink_loop",
                      "symlink loop in the assets: " + it->path().string());
        continue;
      }
      if (it->is_directory()) {
        tree.add_directory(rel);
      } else if (it->is_regular_file()) {
        Bytes data = read_file(it->path());
        total += data.size();
        if (total > max_total) throw Error(ErrorKind::kInvalidInput, "io.read", "assets exceed the size limit");
        tree.add_file(rel, std::move(data));
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorKind::kInvalidInput, "io.read",
                "cannot read the assets at " + e.path1().string() + ": " + e.code().message());
  }
  if (ec) throw Error(ErrorKind::kInvalidInput, "io.read", "cannot list " + dir.string() + ": " + ec.message());
  return tree;
}

Resolved resolve_path(const AssetNode& dir, std::string_view path) {
  if (path.size() > kMaxPathBytes) return {nullptr, kNametoolong};
  if (!path.empty() && path.front() == '/') return {nullptr, kNotcapable};
  if (path.empty()) return {nullptr, kNoent};
  const AssetNode* cur = &dir;
  // Depth below `dir`: ".." may climb back up only as far as `dir` itself (a preopen's
  // capability does not extend to its parents). The tree has no links, so climbing is the
  // parent pointer and the walk needs no memory of its own.
  std::size_t depth = 0;
  for (std::size_t pos = 0; pos <= path.size();) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view p = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (p.size() > kMaxNameBytes) return {nullptr, kNametoolong};
    if (p.empty() || p == ".") {
      if (!cur->is_dir) return {nullptr, kNotdir};
      continue;
    }
    if (!cur->is_dir) return {nullptr, kNotdir};
    if (p == "..") {
      if (depth == 0) return {nullptr, kNotcapable};
      cur = cur->parent;
      --depth;
      continue;
    }
    auto it = cur->children.find(p);
    if (it == cur->children.end()) return {nullptr, kNoent};
    ++depth;
    cur = it->second.get();
  }
  return {cur, 0};
}

}  // namespace enarx::runtime
