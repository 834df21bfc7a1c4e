// Fuzzes the server's handling of untrusted request targets: path splitting/decoding, route
// matching (including wildcard and prefix captures) and query parameter decoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/http_server.h"
#include "net/router.h"

namespace {
struct Route {
  enarx::net::Method method;
  enarx::net::RoutePattern pattern;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace enarx::net;
  static const std::vector<Route> routes{
      {Method::Get, RoutePattern("/api/v{version}/{user}/{repo}/_tag/{tag}/tree/{path*}")},
      {Method::Put, RoutePattern("/{user}/{repo}/_tag/{tag}")},
      {Method::Get, RoutePattern("/{user}/{repo}")},
      {Method::Get, RoutePattern("/{name}.json")},
      {Method::Get, RoutePattern("/")},
  };
  const std::string target(reinterpret_cast<const char*>(data), size);
  const auto q = target.find('?');
  std::vector<std::string> segments;
  if (split_path(target.substr(0, q), segments) == PathError::None) {
    for (const auto& s : segments) {
      if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos) __builtin_trap();
    }
    (void)find_route(routes, Method::Get, segments);
    (void)find_route(routes, Method::Head, segments);
  }
  Request req;
  if (q != std::string::npos) req.query = target.substr(q + 1);
  try {
    (void)req.query_param("a");
  } catch (const enarx::Error&) {
  }
  return 0;
}
