// The package's assets as a read-only in-memory file tree. The deployed tree never touches the
// host disk: WASI path_* calls resolve against this tree only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace enarx::runtime {

struct AssetNode {
  bool is_dir = false;
  std::uint64_t inode = 0;
  std::shared_ptr<const Bytes> data;  // files
  // Directories, sorted by name. std::less<> looks names up by string_view: resolving a guest
  // path copies nothing.
  std::map<std::string, std::unique_ptr<AssetNode>, std::less<>> children;
  const AssetNode* parent = nullptr;                       // nullptr for the root
};

class AssetTree {
 public:
  AssetTree();
  AssetTree(AssetTree&&) noexcept = default;
  AssetTree& operator=(AssetTree&&) noexcept = default;

  // Adds a file at a relative '/'-separated path, creating directories on the way. Components
  // "", ".", ".." and names containing NUL are rejected (Error "runtime.assets.bad_path"), as is
  // a path that collides with an existing file or directory.
  void add_file(std::string_view path, Bytes data);
  void add_directory(std::string_view path);
  // Loads a host directory recursively (regular files and directories; symlinks are skipped),
  // for `enarx run --assets DIR`. Throws Error("io.read"), or "runtime.assets.symlink_loop"
  // naming a symlink that loops (both kInvalidInput: exit 3).
  static AssetTree from_directory(const std::filesystem::path& dir,
                                  std::uint64_t max_total = 1ull << 30);

  const AssetNode& root() const { return *root_; }
  std::size_t file_count() const { return files_; }

 private:
  AssetNode* make_dirs(std::string_view path, bool last_is_dir, std::string* leaf);
  std::unique_ptr<AssetNode> root_;
  std::uint64_t next_inode_ = 2;
  std::size_t files_ = 0;
};

// The longest path a guest may pass (Linux's PATH_MAX) and the longest component (NAME_MAX).
// Longer ones are refused with ENAMETOOLONG before any work is done on them, so resolving a
// path costs the host at most kMaxPathBytes steps and no allocation whatever the guest passes.
constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::size_t kMaxNameBytes = 255;

// Resolves `path` relative to `dir` inside the tree, WASI style: absolute paths and any ".."
// that would leave the tree fail with ENOTCAPABLE (76); a missing component gives ENOENT (44);
// a file used as a directory gives ENOTDIR (54); a path over kMaxPathBytes or a component over
// kMaxNameBytes gives ENAMETOOLONG (37). Returns the node or the WASI errno.
struct Resolved {
  const AssetNode* node = nullptr;
  std::uint16_t error = 0;
};
Resolved resolve_path(const AssetNode& dir, std::string_view path);

}  // namespace enarx::runtime
