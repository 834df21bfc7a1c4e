#include "identity/names.h"

#include <algorithm>
#include <optional>

#include "core/error.h"

namespace enarx::identity {
namespace {

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  return out;
}

template <typename Pred>
bool all_of(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), pred);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// A SemVer numeric identifier: digits, no leading zero (except "0"), fits in 64 bits.
std::optional<std::uint64_t> parse_numeric(std::string_view s) {
  if (s.empty() || !all_of(s, is_digit)) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  if (s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return v;
}

bool is_ident_char(char c) { return is_alnum(c) || c == '-'; }

}  // namespace

void validate_user_name(std::string_view name) {
  require(!name.empty() && name.size() <= kMaxUserName && all_of(name, is_alnum), ErrorKind::kInvalidInput,
          "drawbridge.name.user", "invalid user name '" + printable(name) + "'");
}

void validate_repo_name(std::string_view name) {
  require(!name.empty() && name.size() <= kMaxRepoName &&
              all_of(name, [](char c) { return is_alnum(c) || c == '-'; }), ErrorKind::kInvalidInput,
          "drawbridge.name.repository", "invalid repository name '" + printable(name) + "'");
}

bool is_valid_entry_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxEntryName || name == "." || name == "..") return false;
  return all_of(name, [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

void validate_entry_name(std::string_view name) {
  require(is_valid_entry_name(name), ErrorKind::kInvalidInput, "drawbridge.name.entry",
          "invalid tree entry name '" + printable(name) + "'");
}

SemVer SemVer::parse(std::string_view text) {
  auto fail = [&]() -> Error {
    return Error(ErrorKind::kInvalidInput, "drawbridge.name.tag", "invalid tag '" + printable(text) +
                                            "': a tag is a full semantic version like 1.2.3");
  };
  if (text.empty() || text.size() > kMaxTagName) throw fail();
  SemVer v;
  std::string_view rest = text;
  if (auto plus = rest.find('+'); plus != std::string_view::npos) {
    v.build = std::string(rest.substr(plus + 1));
    rest = rest.substr(0, plus);
    for (auto id : split(v.build, '.'))
      if (id.empty() || !all_of(id, is_ident_char)) throw fail();
  }
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    auto pre = rest.substr(dash + 1);
    rest = rest.substr(0, dash);
    for (auto id : split(pre, '.')) {
      if (id.empty() || !all_of(id, is_ident_char)) throw fail();
      if (all_of(id, is_digit) && !parse_numeric(id)) throw fail();
      v.pre.emplace_back(id);
    }
  }
  auto core = split(rest, '.');
  if (core.size() != 3) throw fail();
  auto ma = parse_numeric(core[0]), mi = parse_numeric(core[1]), pa = parse_numeric(core[2]);
  if (!ma || !mi || !pa) throw fail();
  v.major = *ma;
  v.minor = *mi;
  v.patch = *pa;
  return v;
}

std::string SemVer::to_string() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t i = 0; i < pre.size(); ++i) s += (i == 0 ? "-" : ".") + pre[i];
  if (!build.empty()) s += "+" + build;
  return s;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  auto cmp = [](auto x, auto y) { return x < y ? -1 : (x > y ? 1 : 0); };
  if (int c = cmp(a.major, b.major)) return c;
  if (int c = cmp(a.minor, b.minor)) return c;
  if (int c = cmp(a.patch, b.patch)) return c;
  // A version without pre-release identifiers has higher precedence.
  if (a.pre.empty() != b.pre.empty()) return a.pre.empty() ? 1 : -1;
  for (std::size_t i = 0; i < std::min(a.pre.size(), b.pre.size()); ++i) {
    const auto& x = a.pre[i];
    const auto& y = b.pre[i];
    bool xn = all_of(x, is_digit), yn = all_of(y, is_digit);
    if (xn && yn) {
      if (int c = cmp(x.size(), y.size())) return c;  // no leading zeros: longer is larger
      if (int c = cmp(x, y)) return c;
    } else if (xn != yn) {
      return xn ? -1 : 1;
    } else if (int c = cmp(x, y)) {
      return c;
    }
  }
  if (int c = cmp(a.pre.size(), b.pre.size())) return c;
  return cmp(a.build, b.build);
}

void validate_tag_name(std::string_view name) { (void)SemVer::parse(name); }

void sort_tags(std::vector<std::string>& tags) {
  std::stable_sort(tags.begin(), tags.end(), [](const std::string& a, const std::string& b) {
    std::optional<SemVer> va, vb;
    try { va = SemVer::parse(a); } catch (const Error&) {}
    try { vb = SemVer::parse(b); } catch (const Error&) {}
    if (va && vb) return compare_semver(*va, *vb) < 0;
    if (va.has_value() != vb.has_value()) return va.has_value();
    return a < b;
  });
}

std::vector<std::string> parse_tree_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> out;
  if (path.empty()) return out;
  for (auto seg : split(path, '/')) {
    require(is_valid_entry_name(seg), ErrorKind::kInvalidInput, "drawbridge.name.path",
            "invalid tree path segment '" + printable(seg) + "'");
    out.emplace_back(seg);
  }
  require(out.size() <= kMaxPathDepth, ErrorKind::kInvalidInput, "drawbridge.name.path", "tree path too deep");
  return out;
}

std::string join_tree_path(const std::vector<std::string>& segments) {
  std::string out;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i) out += '/';
    out += segments[i];
  }
  return out;
}

}  // namespace enarx::identity
