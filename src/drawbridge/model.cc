#include "drawbridge/model.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "core/error.h"
#include "core/file.h"
#include "identity/names.h"

namespace enarx::drawbridge {

// The registry's name grammars and slugs live in the identity library.
using namespace enarx::identity;
namespace {

[[noreturn]] void invalid(std::string_view why) {
  throw Error(ErrorKind::kInvalidInput, "drawbridge.json.invalid", "invalid JSON document: " + std::string(why));
}

// nlohmann's parser recurses per nesting level; refuse absurd nesting before parsing.
void check_depth(std::string_view text, int max_depth = 64) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth) invalid("nested too deeply");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

nlohmann::json parse_json(std::string_view text) {
  check_depth(text);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    invalid(e.what());
  }
}

std::string quote(std::string_view s) {
  try {
    return nlohmann::json(std::string(s)).dump();
  } catch (const nlohmann::json::exception&) {
    invalid("string is not valid UTF-8");
  }
}

std::string dump(const nlohmann::json& j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::exception&) {
    invalid("string is not valid UTF-8");
  }
}

std::uint64_t parse_length(const nlohmann::json& j) {
  if (!j.is_number_unsigned()) {
    if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return j.get<std::uint64_t>();
    invalid("\"length\" must be a non-negative integer");
  }
  return j.get<std::uint64_t>();
}

}  // namespace

Meta Meta::of(ByteView content, std::string type) {
  return Meta{ContentDigest::compute(content), content.size(), std::move(type)};
}

void validate_media_type(std::string_view type) {
  auto is_token = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
  };
  auto semi = type.find(';');
  auto base = type.substr(0, semi);
  auto slash = base.find('/');
  bool ok = !type.empty() && type.size() <= kMaxMediaType && slash != std::string_view::npos &&
            slash > 0 && slash + 1 < base.size() &&
            std::all_of(base.begin(), base.begin() + static_cast<long>(slash), is_token) &&
            std::all_of(base.begin() + static_cast<long>(slash) + 1, base.end(), is_token);
  if (ok && semi != std::string_view::npos) {
    for (char c : type.substr(semi))
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) ok = false;
  }
  require(ok, ErrorKind::kInvalidInput, "drawbridge.media_type", "invalid media type '" + std::string(type.substr(0, 80)) + "'");
}

std::string digest_to_json(const ContentDigest& digest) {
  std::string out = "{";
  bool first = true;
  for (const auto& [alg, value] : digest.values()) {
    if (!first) out += ',';
    first = false;
    out += quote(digest_name(alg)) + ":" + quote(to_base64(value));
  }
  return out + "}";
}

std::string meta_to_json(const Meta& meta) {
  return "{\"digest\":" + digest_to_json(meta.digest) + ",\"length\":" + std::to_string(meta.length) +
         ",\"type\":" + quote(meta.type) + "}";
}

std::string entry_to_json(const Entry& entry) {
  std::string out = meta_to_json(entry.meta);
  out.pop_back();
  for (const auto& [key, value] : entry.custom) out += "," + quote(key) + ":" + dump(value);
  return out + "}";
}

ContentDigest digest_from_json(const nlohmann::json& j) {
  if (!j.is_object()) invalid("\"digest\" must be an object");
  ContentDigest d;
  for (const auto& [name, value] : j.items()) {
    auto alg = digest_from_name(name);
    if (!alg) invalid("unknown digest algorithm '" + name.substr(0, 40) + "'");
    if (!value.is_string()) invalid("digest values must be base64 strings");
    Bytes raw;
    try {
      raw = from_base64(value.get<std::string>());
    } catch (const Error&) {
      invalid("digest value is not padded standard base64");
    }
    if (raw.size() != digest_size(*alg)) invalid("digest value has the wrong length");
    if (d.get(*alg)) invalid("repeated digest algorithm");
    d.set(*alg, std::move(raw));
  }
  if (d.empty()) invalid("\"digest\" must name at least one algorithm");
  return d;
}

Entry entry_from_json(const nlohmann::json& j) {
  if (!j.is_object()) invalid("an entry must be an object");
  Entry e;
  bool has_digest = false, has_length = false, has_type = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "digest") {
      e.meta.digest = digest_from_json(value);
      has_digest = true;
    } else if (key == "length") {
      e.meta.length = parse_length(value);
      has_length = true;
    } else if (key == "type") {
      if (!value.is_string()) invalid("\"type\" must be a string");
      e.meta.type = value.get<std::string>();
      validate_media_type(e.meta.type);
      has_type = true;
    } else {
      if (key.size() > 255) invalid("custom field name too long");
      e.custom.emplace(key, value);
    }
  }
  if (!has_digest || !has_length || !has_type) invalid("an entry needs digest, length and type");
  return e;
}

Entry parse_entry(std::string_view text) { return entry_from_json(parse_json(text)); }

Meta parse_meta(std::string_view text) {
  auto e = parse_entry(text);
  if (!e.custom.empty()) invalid("unexpected field in metadata");
  return e.meta;
}

std::string directory_to_json(const Directory& dir) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, entry] : dir) {
    if (!first) out += ',';
    first = false;
    out += quote(name) + ":" + entry_to_json(entry);
  }
  return out + "}";
}

Directory parse_directory(std::string_view text) {
  auto j = parse_json(text);
  if (!j.is_object()) invalid("a directory must be an object");
  if (j.size() > kMaxDirectoryEntries) invalid("too many directory entries");
  Directory dir;
  for (const auto& [name, value] : j.items()) {
    validate_entry_name(name);
    dir.emplace(name, entry_from_json(value));
  }
  return dir;
}

std::string user_to_json(const UserRecord& u) { return "{\"subject\":" + quote(u.subject) + "}"; }

UserRecord parse_user(std::string_view text) {
  auto j = parse_json(text);
  if (!j.is_object()) invalid("a user record must be an object");
  UserRecord u;
  bool has = false;
  for (const auto& [key, value] : j.items()) {
    if (key != "subject") invalid("unknown field '" + key.substr(0, 40) + "' in user record");
    if (!value.is_string() || value.get<std::string>().empty() || value.get<std::string>().size() > 255)
      invalid("\"subject\" must be a non-empty string");
    u.subject = value.get<std::string>();
    has = true;
  }
  if (!has) invalid("user record needs \"subject\"");
  return u;
}

static KeepRequirement parse_keep_requirement(const nlohmann::json& value) {
  if (!value.is_object()) invalid("\"keeps\" must be an object");
  KeepRequirement k;
  for (const auto& [key, list] : value.items()) {
    if (key != "platforms" && key != "measurements")
      invalid("unknown field '" + key.substr(0, 40) + "' in \"keeps\"");
    if (!list.is_array() || list.size() > 256) invalid("\"keeps." + key + "\" must be an array of at most 256 strings");
    for (const auto& item : list) {
      if (!item.is_string()) invalid("\"keeps." + key + "\" must be an array of strings");
      std::string v = item.get<std::string>();
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
      if (key == "platforms") {
        if (v != "snp" && v != "sgx" && v != "tdx" && v != "kvm")
          invalid("\"keeps.platforms\": unknown platform '" + v.substr(0, 20) + "'");
        if (std::find(k.platforms.begin(), k.platforms.end(), v) == k.platforms.end()) k.platforms.push_back(v);
      } else {
        const bool hex = !v.empty() && v.size() <= 128 && std::all_of(v.begin(), v.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        });
        if (!hex) invalid("\"keeps.measurements\": '" + v.substr(0, 20) + "' is not a hex measurement");
        if (std::find(k.measurements.begin(), k.measurements.end(), v) == k.measurements.end())
          k.measurements.push_back(v);
      }
    }
  }
  std::sort(k.platforms.begin(), k.platforms.end());
  std::sort(k.measurements.begin(), k.measurements.end());
  return k;
}

std::string repo_to_json(const RepoConfig& r) {
  nlohmann::ordered_json j;
  if (r.keeps) j["keeps"] = {{"measurements", r.keeps->measurements}, {"platforms", r.keeps->platforms}};
  j["public"] = r.is_public;
  if (r.steward) j["steward"] = *r.steward;
  return j.dump();  // keys in sorted order: the canonical form
}

void validate_steward_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    throw Error(ErrorKind::kInvalidInput, "drawbridge.steward.invalid", "invalid steward URL: " + std::string(why));
  };
  constexpr std::string_view kScheme = "https://";
  if (url.size() > kMaxStewardUrl) bad("longer than " + std::to_string(kMaxStewardUrl) + " bytes");
  if (url.substr(0, kScheme.size()) != kScheme) bad("it must start with https://");
  for (char c : url)
    if (c <= ' ' || c > '~') bad("it must be printable ASCII without spaces");
  auto rest = url.substr(kScheme.size());
  auto authority = rest.substr(0, rest.find('/'));
  if (authority.empty() || authority.front() == ':') bad("it names no host");
  if (url.find_first_of("@?#") != std::string_view::npos) bad("user info, query and fragment are not allowed");
}

std::optional<std::string> parse_steward_setting(std::string_view text) {
  auto j = parse_json(text);
  if (!j.is_object() || j.size() != 1 || !j.contains("steward"))
    invalid("expected {\"steward\": \"https://…\"} or {\"steward\": null}");
  const auto& v = j["steward"];
  if (v.is_null()) return std::nullopt;
  if (!v.is_string()) invalid("\"steward\" must be a string or null");
  validate_steward_url(v.get<std::string>());
  return v.get<std::string>();
}

std::optional<std::string> tag_steward(const Entry& root) {
  auto it = root.custom.find(std::string(kTagStewardMember));
  if (it == root.custom.end()) return std::nullopt;
  if (!it->second.is_string())
    throw Error(ErrorKind::kInvalidInput, "drawbridge.steward.invalid", "the tag's \"steward\" is not a string");
  auto url = it->second.get<std::string>();
  validate_steward_url(url);
  return url;
}

RepoConfig parse_repo(std::string_view text) {
  auto j = parse_json(text);
  if (!j.is_object()) invalid("a repository config must be an object");
  RepoConfig r;
  bool has = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "keeps") {
      r.keeps = parse_keep_requirement(value);
      continue;
    }
    if (key == "steward") {
      if (value.is_null()) continue;
      if (!value.is_string()) invalid("\"steward\" must be a string");
      validate_steward_url(value.get<std::string>());
      r.steward = value.get<std::string>();
      continue;
    }
    if (key != "public") invalid("unknown field '" + key.substr(0, 40) + "' in repository config");
    if (!value.is_boolean()) invalid("\"public\" must be a boolean");
    r.is_public = value.get<bool>();
    has = true;
  }
  if (!has) invalid("repository config needs \"public\"");
  return r;
}

JwsInfo parse_jws(std::string_view text) {
  nlohmann::json j;
  try {
    j = parse_json(text);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "drawbridge.jws.invalid", e.what());
  }
  auto bad = [](std::string_view why) {
    return Error(ErrorKind::kInvalidInput, "drawbridge.jws.invalid", "invalid JWS: " + std::string(why));
  };
  if (!j.is_object()) throw bad("not a JSON object");
  auto b64url_field = [&](const nlohmann::json& obj, const char* name, bool required) -> Bytes {
    auto it = obj.find(name);
    if (it == obj.end()) {
      if (required) throw bad(std::string("missing \"") + name + "\"");
      return {};
    }
    if (!it->is_string()) throw bad(std::string("\"") + name + "\" must be a string");
    try {
      return from_base64url(it->get<std::string>());
    } catch (const Error&) {
      throw bad(std::string("\"") + name + "\" is not base64url");
    }
  };
  auto check_signature = [&](const nlohmann::json& sig) {
    if (!sig.is_object()) throw bad("signature must be an object");
    auto prot = b64url_field(sig, "protected", false);
    bool has_header = sig.contains("header");
    if (has_header && !sig["header"].is_object()) throw bad("\"header\" must be an object");
    if (prot.empty() && !has_header) throw bad("signature without a header");
    if (!prot.empty()) {
      nlohmann::json h;
      try {
        h = parse_json(as_string(prot));
      } catch (const Error&) {
        throw bad("protected header is not JSON");
      }
      if (!h.is_object()) throw bad("protected header is not an object");
    }
    if (b64url_field(sig, "signature", true).empty()) throw bad("empty signature");
  };
  JwsInfo info;
  info.payload = b64url_field(j, "payload", true);
  if (j.contains("signatures")) {
    if (!j["signatures"].is_array() || j["signatures"].empty()) throw bad("\"signatures\" must be a non-empty array");
    if (j.contains("signature")) throw bad("both general and flattened forms");
    for (const auto& sig : j["signatures"]) check_signature(sig);
    info.signatures = j["signatures"].size();
  } else {
    check_signature(j);
    info.signatures = 1;
  }
  return info;
}

Entry tag_root_entry(std::string_view type, std::string_view content) {
  try {
    if (type == kEntryType) return parse_entry(content);
    if (type == kJwsType) return parse_entry(as_string(parse_jws(content).payload));
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "drawbridge.tag.invalid", std::string("invalid tag: ") + e.what());
  }
  throw Error(ErrorKind::kInvalidInput, "drawbridge.tag.invalid", "a tag must be " + std::string(kEntryType) + " or " +
                                            std::string(kJwsType));
}

std::string media_type_for(const std::filesystem::path& file) {
  auto ext = file.extension().string();
  if (ext == ".wasm") return "application/wasm";
  if (ext == ".toml") return "application/toml";
  return "application/octet-stream";
}

Entry Tree::root() const {
  require(!nodes.empty(), ErrorKind::kInvalidInput, "drawbridge.tree.empty", "empty tree");
  return Entry{nodes.front().meta, {}};
}

namespace {

struct DirNode {
  std::map<std::string, DirNode> dirs;
  std::map<std::string, std::pair<Bytes, std::string>> files;
};

// Post-order: computes each directory's JSON from its children, then emits nodes.
Meta emit(const DirNode& dir, const std::string& path, std::vector<TreeNode>& out) {
  Directory listing;
  std::vector<TreeNode> children;
  for (const auto& [name, sub] : dir.dirs) {
    std::vector<TreeNode> subnodes;
    auto meta = emit(sub, path.empty() ? name : path + "/" + name, subnodes);
    listing[name] = Entry{meta, {}};
    for (auto& n : subnodes) children.push_back(std::move(n));
  }
  for (const auto& [name, file] : dir.files) {
    require(!listing.count(name), ErrorKind::kInvalidInput, "drawbridge.tree.conflict", "both a file and a directory: " + name);
    auto meta = Meta::of(file.first, file.second);
    listing[name] = Entry{meta, {}};
    children.push_back(TreeNode{path.empty() ? name : path + "/" + name, meta, file.first});
  }
  auto json = directory_to_json(listing);
  auto meta = Meta::of(as_bytes(json), std::string(kDirectoryType));
  out.push_back(TreeNode{path, meta, to_bytes(json)});
  for (auto& c : children) out.push_back(std::move(c));
  return meta;
}

Tree finish(std::vector<TreeNode> nodes) {
  // Root stays first; the rest in path order (a parent's path is a prefix, so it sorts first).
  std::stable_sort(nodes.begin() + 1, nodes.end(),
                   [](const TreeNode& a, const TreeNode& b) { return a.path < b.path; });
  return Tree{std::move(nodes)};
}

}  // namespace

Tree build_tree_from_files(const std::map<std::string, std::pair<Bytes, std::string>>& files) {
  DirNode root;
  for (const auto& [path, file] : files) {
    auto segs = parse_tree_path(path);
    require(!segs.empty(), ErrorKind::kInvalidInput, "drawbridge.tree.conflict", "a file cannot be the root of a multi-file tree");
    DirNode* d = &root;
    for (std::size_t i = 0; i + 1 < segs.size(); ++i) d = &d->dirs[segs[i]];
    validate_media_type(file.second);
    d->files[segs.back()] = file;
  }
  std::vector<TreeNode> nodes;
  emit(root, "", nodes);
  return finish(std::move(nodes));
}

Tree build_tree_from_path(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  auto st = fs::symlink_status(root);
  if (fs::is_regular_file(st)) {
    auto content = read_file(root);
    auto meta = Meta::of(content, media_type_for(root));
    return Tree{{TreeNode{"", meta, std::move(content)}}};
  }
  require(fs::is_directory(st), ErrorKind::kInvalidInput, "drawbridge.tree.unsupported_file",
          "not a regular file or directory: " + root.string());
  std::function<void(const fs::path&, DirNode&)> walk = [&](const fs::path& dir, DirNode& node) {
    for (const auto& ent : fs::directory_iterator(dir)) {
      auto name = ent.path().filename().string();
      validate_entry_name(name);
      auto s = ent.symlink_status();
      if (fs::is_directory(s)) {
        walk(ent.path(), node.dirs[name]);
      } else if (fs::is_regular_file(s)) {
        node.files[name] = {read_file(ent.path()), media_type_for(ent.path())};
      } else {
        throw Error(ErrorKind::kInvalidInput, "drawbridge.tree.unsupported_file", "not a regular file or directory: " + ent.path().string());
      }
    }
  };
  DirNode tree;
  walk(root, tree);
  std::vector<TreeNode> nodes;
  emit(tree, "", nodes);
  return finish(std::move(nodes));
}

}  // namespace enarx::drawbridge
