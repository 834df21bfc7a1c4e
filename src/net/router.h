// Route pattern compilation and matching for HttpServer (see http_server.h for the pattern
// syntax). A header of its own so it can be tested without sockets, and so a service can resolve
// a request it is handed in-process exactly as the server would (drawbridge's Registry::handle).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.h"

namespace enarx::net {

class RoutePattern {
 public:
  // Throws Error("http.bad_route") for malformed patterns.
  explicit RoutePattern(std::string pattern);
  const std::string& text() const { return text_; }

  // `segments` are already percent-decoded. On a match fills `params` and `rank` (lower rank =
  // more specific, compared lexicographically).
  bool match(const std::vector<std::string>& segments,
             std::map<std::string, std::string, std::less<>>& params,
             std::vector<int>& rank) const;
  // match() in two halves, so that a router trying every pattern builds the captures of the
  // winner only: whether `segments` match (and their rank), then the captures of a match.
  bool matches(const std::vector<std::string>& segments, std::vector<int>& rank) const;
  void capture(const std::vector<std::string>& segments,
               std::map<std::string, std::string, std::less<>>& params) const;

 private:
  struct Segment {
    enum Kind { Literal, Capture, Wildcard } kind = Literal;
    std::string literal;  // Literal
    std::string prefix, suffix, name;
  };
  std::string text_;
  std::vector<Segment> segments_;
};

enum class PathError { None, BadPath, BadEncoding };

// Splits a raw request path ("/a/b%20c/") into decoded segments. A trailing '/' is ignored;
// "." / ".." segments, empty inner segments, and segments that decode to contain '/' or NUL are
// rejected with BadPath; malformed escapes with BadEncoding.
PathError split_path(std::string_view raw_path, std::vector<std::string>& segments);

struct RouteMatch {
  enum Kind { Found, NotFound, MethodNotAllowed } kind = NotFound;
  std::size_t index = 0;  // Found: index into the route table
  bool head_via_get = false;
  std::map<std::string, std::string, std::less<>> params;
  std::vector<std::string> allow;  // MethodNotAllowed
};

template <typename Route>
RouteMatch find_route(const std::vector<Route>& routes, std::optional<Method> method,
                      const std::vector<std::string>& segments) {
  RouteMatch best;
  std::vector<int> best_rank, rank;
  bool have = false;
  bool best_is_exact = false;
  bool path_matched = false;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (!routes[i].pattern.matches(segments, rank)) continue;
    path_matched = true;
    if (!method) continue;
    const bool exact = routes[i].method == *method;
    const bool via_get = *method == Method::Head && routes[i].method == Method::Get;
    if (!exact && !via_get) continue;
    // More specific pattern wins; for equal specificity an exact HEAD route beats GET.
    if (!have || rank < best_rank || (rank == best_rank && exact && !best_is_exact)) {
      have = true;
      best_rank = rank;
      best_is_exact = exact;
      best.kind = RouteMatch::Found;
      best.index = i;
      best.head_via_get = !exact;
    }
  }
  if (have) {
    routes[best.index].pattern.capture(segments, best.params);
    return best;
  }
  RouteMatch out;
  if (!path_matched) return out;
  // The methods the path allows (only for 405 answers, so off the hot path).
  std::vector<std::string> allow;
  for (const auto& route : routes) {
    if (!route.pattern.matches(segments, rank)) continue;
    const std::string m(to_string(route.method));
    if (std::find(allow.begin(), allow.end(), m) == allow.end()) allow.push_back(m);
    if (route.method == Method::Get && std::find(allow.begin(), allow.end(), "HEAD") == allow.end())
      allow.push_back("HEAD");
  }
  out.kind = RouteMatch::MethodNotAllowed;
  std::sort(allow.begin(), allow.end());
  out.allow = std::move(allow);
  return out;
}

}  // namespace enarx::net
