#include "net/router.h"

namespace enarx::net {
namespace {

bool valid_capture_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

[[noreturn]] void bad(const std::string& pattern, std::string_view why) {
  throw Error(ErrorKind::kInternal, "http.bad_route", "route pattern '" + pattern + "': " + std::string(why));
}

}  // namespace

RoutePattern::RoutePattern(std::string pattern) : text_(std::move(pattern)) {
  if (text_.empty() || text_[0] != '/') bad(text_, "must start with '/'");
  std::string_view rest(text_);
  rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return;
  std::vector<std::string> names;
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) bad(text_, "empty segment");
    Segment s;
    const auto open = seg.find('{');
    if (open == std::string_view::npos) {
      if (seg.find('}') != std::string_view::npos) bad(text_, "unbalanced '}'");
      s.kind = Segment::Literal;
      s.literal = std::string(seg);
    } else {
      const auto close = seg.find('}', open);
      if (close == std::string_view::npos) bad(text_, "unbalanced '{'");
      if (seg.find('{', open + 1) != std::string_view::npos) bad(text_, "one capture per segment");
      std::string_view name = seg.substr(open + 1, close - open - 1);
      s.prefix = std::string(seg.substr(0, open));
      s.suffix = std::string(seg.substr(close + 1));
      if (s.suffix.find('}') != std::string::npos) bad(text_, "unbalanced '}'");
      if (!name.empty() && name.back() == '*') {
        name.remove_suffix(1);
        if (slash != std::string_view::npos) bad(text_, "wildcard must be the last segment");
        if (!s.prefix.empty() || !s.suffix.empty()) bad(text_, "wildcard must be a whole segment");
        s.kind = Segment::Wildcard;
      } else {
        s.kind = Segment::Capture;
      }
      if (!valid_capture_name(name)) bad(text_, "bad capture name");
      s.name = std::string(name);
      if (std::find(names.begin(), names.end(), s.name) != names.end()) {
        bad(text_, "duplicate capture name '" + s.name + "'");
      }
      names.push_back(s.name);
    }
    segments_.push_back(std::move(s));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
}

bool RoutePattern::match(const std::vector<std::string>& segments,
                         std::map<std::string, std::string, std::less<>>& params,
                         std::vector<int>& rank) const {
  params.clear();
  if (!matches(segments, rank)) return false;
  capture(segments, params);
  return true;
}

bool RoutePattern::matches(const std::vector<std::string>& segments, std::vector<int>& rank) const {
  rank.clear();
  std::size_t i = 0;
  for (const auto& s : segments_) {
    if (s.kind == Segment::Wildcard) {
      rank.push_back(3);
      return true;
    }
    if (i >= segments.size()) return false;
    const std::string& seg = segments[i];
    if (s.kind == Segment::Literal) {
      if (seg != s.literal) return false;
      rank.push_back(0);
    } else {
      if (seg.size() <= s.prefix.size() + s.suffix.size()) return false;
      if (!seg.starts_with(s.prefix) || !seg.ends_with(s.suffix)) return false;
      rank.push_back(s.prefix.empty() && s.suffix.empty() ? 2 : 1);
    }
    ++i;
  }
  return i == segments.size();
}

void RoutePattern::capture(const std::vector<std::string>& segments,
                           std::map<std::string, std::string, std::less<>>& params) const {
  params.clear();
  std::size_t i = 0;
  for (const auto& s : segments_) {
    if (s.kind == Segment::Wildcard) {
      std::string joined;
      for (std::size_t j = i; j < segments.size(); ++j) {
        if (j > i) joined += '/';
        joined += segments[j];
      }
      params[s.name] = std::move(joined);
      return;
    }
    if (i >= segments.size()) return;
    const std::string& seg = segments[i];
    if (s.kind == Segment::Capture)
      params[s.name] = seg.substr(s.prefix.size(), seg.size() - s.prefix.size() - s.suffix.size());
    ++i;
  }
}

PathError split_path(std::string_view raw, std::vector<std::string>& segments) {
  segments.clear();
  if (raw.empty() || raw[0] != '/') return PathError::BadPath;
  raw.remove_prefix(1);
  if (!raw.empty() && raw.back() == '/') raw.remove_suffix(1);
  if (raw.empty()) return PathError::None;
  while (true) {
    const auto slash = raw.find('/');
    const std::string_view seg = raw.substr(0, slash);
    if (seg.empty()) return PathError::BadPath;
    std::string decoded;
    try {
      decoded = percent_decode(seg);
    } catch (const Error&) {
      return PathError::BadEncoding;
    }
    if (decoded == "." || decoded == ".." || decoded.empty() ||
        decoded.find('/') != std::string::npos || decoded.find('\0') != std::string::npos) {
      return PathError::BadPath;
    }
    segments.push_back(std::move(decoded));
    if (slash == std::string_view::npos) break;
    raw.remove_prefix(slash + 1);
  }
  return PathError::None;
}

}  // namespace enarx::net
