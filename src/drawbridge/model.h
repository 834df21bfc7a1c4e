// Drawbridge data model and its canonical JSON (wire-compatible with enarx/drawbridge).
//
// Canonical serialization is what gets hashed: compact (no whitespace), directory keys sorted
// bytewise, entry keys in the order digest, length, type, then custom keys (sorted), digest
// keys in algorithm order (sha-224, sha-256, sha-384, sha-512), strings escaped as serde_json
// does (only '"', '\\' and control characters).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/content_digest.h"

namespace enarx::drawbridge {

inline constexpr std::string_view kDirectoryType = "application/vnd.drawbridge.directory.v1+json";
inline constexpr std::string_view kEntryType = "application/vnd.drawbridge.entry.v1+json";
inline constexpr std::string_view kJwsType = "application/jose+json";
inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::size_t kMaxMediaType = 255;

// Metadata of every stored object.
struct Meta {
  ContentDigest digest;
  std::uint64_t length = 0;
  std::string type;

  // All four algorithms over `content`.
  static Meta of(ByteView content, std::string type);
  // Same digest set, length and type (Drawbridge's client-side Meta equality).
  bool operator==(const Meta& other) const {
    return digest == other.digest && length == other.length && type == other.type;
  }
};

// Throws Error("drawbridge.media_type") unless `type` looks like `type/subtype[;params]`.
void validate_media_type(std::string_view type);

// A tree entry: Meta plus optional custom members flattened into the same object.
struct Entry {
  Meta meta;
  std::map<std::string, nlohmann::json> custom;

  bool operator==(const Entry& other) const { return meta == other.meta && custom == other.custom; }
};

// Canonical compact JSON.
std::string digest_to_json(const ContentDigest& digest);
std::string meta_to_json(const Meta& meta);  // {"digest":…,"length":…,"type":…}
std::string entry_to_json(const Entry& entry);
// Parsers of untrusted JSON; throw Error("drawbridge.json.invalid") with the reason.
ContentDigest digest_from_json(const nlohmann::json& j);
Entry entry_from_json(const nlohmann::json& j);
Entry parse_entry(std::string_view text);
Meta parse_meta(std::string_view text);

// A directory node: entry name -> entry, sorted bytewise.
using Directory = std::map<std::string, Entry>;
inline constexpr std::size_t kMaxDirectoryEntries = 100000;
std::string directory_to_json(const Directory& dir);
// Validates every name (names.h entry grammar) and entry; throws Error("drawbridge.json.invalid")
// or Error("drawbridge.name.entry").
Directory parse_directory(std::string_view text);

// User record {"subject": "..."} and repository config {"public": bool}; unknown fields rejected.
struct UserRecord {
  std::string subject;
};
// Which attested keeps may read a private repository besides holding a slug for it (our
// extension, stated by the owner): the keep certificate's platform and launch measurement must
// be in these lists (an empty list does not restrict).
struct KeepRequirement {
  std::vector<std::string> platforms;     // "snp" | "sgx" | "tdx" | "kvm"
  std::vector<std::string> measurements;  // lower-case hex
  bool operator==(const KeepRequirement&) const = default;
};
struct RepoConfig {
  bool is_public = false;
  std::optional<KeepRequirement> keeps{};
  // The steward this repository's keeps should attest to (our extension, set by the owner):
  // what the registry answers for the repository's names when the tag names none (see
  // docs/drawbridge.md "Which steward").
  std::optional<std::string> steward{};
};
std::string user_to_json(const UserRecord& u);
UserRecord parse_user(std::string_view text);
std::string repo_to_json(const RepoConfig& r);
RepoConfig parse_repo(std::string_view text);

// A steward URL as the registry stores and serves it: https://host[:port][/path], at most
// kMaxStewardUrl bytes of printable ASCII, no user info, query or fragment. Throws
// Error("drawbridge.steward.invalid") otherwise. (An http:// steward would let anyone on the
// path swap the keep's certificate; a keep may still be pointed at one with --steward.)
inline constexpr std::size_t kMaxStewardUrl = 2048;
void validate_steward_url(std::string_view url);

// The owner's setting of a repository's steward (PUT …/_steward): exactly {"steward": url} or
// {"steward": null} (nullopt). Throws Error("drawbridge.json.invalid") for any other document,
// Error("drawbridge.steward.invalid") for a URL validate_steward_url refuses.
std::optional<std::string> parse_steward_setting(std::string_view text);

// The steward a publisher states in a tag: the root entry's custom member "steward" (inside the
// JWS payload of a signed tag, so the registry cannot swap it). nullopt when absent; throws
// Error("drawbridge.steward.invalid") when present but not a valid steward URL.
inline constexpr std::string_view kTagStewardMember = "steward";
std::optional<std::string> tag_steward(const Entry& root);

// A JWS in JSON serialization (General or Flattened). The registry stores it byte-exact and
// never verifies it (it does not know publishers' keys); it only checks the structure and reads
// the payload, which by our convention is the canonical JSON of the root entry.
struct JwsInfo {
  Bytes payload;
  std::size_t signatures = 0;
};
// Throws Error("drawbridge.jws.invalid").
JwsInfo parse_jws(std::string_view text);

// What a tag points at: the root entry, from either tag form.
// `type` is kEntryType or kJwsType; throws Error("drawbridge.tag.invalid") otherwise.
Entry tag_root_entry(std::string_view type, std::string_view content);

// Drawbridge's media types by file extension.
std::string media_type_for(const std::filesystem::path& file);

// A whole tree ready to upload: nodes in upload order (root first, then sorted paths, parents
// before children). Building from a directory follows Drawbridge's client: regular files and
// directories only (symlinks and others rejected: Error("drawbridge.tree.unsupported_file")).
struct TreeNode {
  std::string path;  // "" for the root
  Meta meta;
  Bytes content;
};
struct Tree {
  std::vector<TreeNode> nodes;
  Entry root() const;
};
Tree build_tree_from_path(const std::filesystem::path& root);
// From path -> (content, media type); intermediate directories are implied.
Tree build_tree_from_files(const std::map<std::string, std::pair<Bytes, std::string>>& files);

}  // namespace enarx::drawbridge
