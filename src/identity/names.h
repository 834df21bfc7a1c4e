// Drawbridge name grammars (wire-compatible with enarx/drawbridge crates/type/src/*/name.rs),
// tightened where Drawbridge was silent (length bounds, control characters).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace enarx::identity {

// Upper bounds keep keys, paths and logs small; Drawbridge itself had none.
inline constexpr std::size_t kMaxUserName = 64;
inline constexpr std::size_t kMaxRepoName = 128;
inline constexpr std::size_t kMaxTagName = 128;
inline constexpr std::size_t kMaxEntryName = 255;
inline constexpr std::size_t kMaxPathDepth = 64;

// user `[0-9A-Za-z]+`. Throws Error("drawbridge.name.user").
void validate_user_name(std::string_view name);
// repository `[0-9A-Za-z-]+`. Throws Error("drawbridge.name.repository").
void validate_repo_name(std::string_view name);
// tree entry name `[0-9A-Za-z._:-]+`, not "." or "..". Throws Error("drawbridge.name.entry").
void validate_entry_name(std::string_view name);
bool is_valid_entry_name(std::string_view name);

// A full SemVer 2.0.0 version (no leading "v"). Throws Error("drawbridge.name.tag").
struct SemVer {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> pre;    // dot-separated pre-release identifiers
  std::string build;               // ignored for precedence
  static SemVer parse(std::string_view text);
  std::string to_string() const;
};
// SemVer precedence (§11); build metadata is a final tie-breaker so the order is total.
int compare_semver(const SemVer& a, const SemVer& b);
void validate_tag_name(std::string_view name);
// Sorts tag names by SemVer precedence (invalid names last, bytewise).
void sort_tags(std::vector<std::string>& tags);

// Tree path: entry names joined by '/', leading and trailing '/' ignored, empty = root.
// Throws Error("drawbridge.name.path") for empty segments ("a//b") or invalid names.
std::vector<std::string> parse_tree_path(std::string_view path);
std::string join_tree_path(const std::vector<std::string>& segments);  // "" for root

}  // namespace enarx::identity
