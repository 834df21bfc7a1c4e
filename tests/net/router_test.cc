#include "net/router.h"

#include <gtest/gtest.h>

#include "net/http.h"

namespace enarx::net {
namespace {

struct R {
  Method method;
  RoutePattern pattern;
};

std::vector<std::string> segs(std::string_view path) {
  std::vector<std::string> s;
  EXPECT_EQ(split_path(path, s), PathError::None) << path;
  return s;
}

TEST(Router, CapturesPrefixAndWildcard) {
  std::vector<R> routes{
      {Method::Get, RoutePattern("/api/v{version}/{user}/{repo}/_tag/{tag}/tree/{path*}")},
      {Method::Put, RoutePattern("/api/v{version}/{user}/{repo}/_tag/{tag}")},
  };
  auto m = find_route(routes, Method::Get, segs("/api/v0.2.0/alice/app/_tag/1.0/tree/a/b%20c/d.wasm"));
  ASSERT_EQ(m.kind, RouteMatch::Found);
  EXPECT_EQ(m.index, 0u);
  EXPECT_EQ(m.params["version"], "0.2.0");
  EXPECT_EQ(m.params["user"], "alice");
  EXPECT_EQ(m.params["tag"], "1.0");
  EXPECT_EQ(m.params["path"], "a/b c/d.wasm");
  // Wildcard matches zero segments (tree root), with or without the trailing slash.
  m = find_route(routes, Method::Get, segs("/api/v0.2.0/alice/app/_tag/1.0/tree/"));
  ASSERT_EQ(m.kind, RouteMatch::Found);
  EXPECT_EQ(m.params["path"], "");
  // Prefix must be present and the capture non-empty.
  EXPECT_EQ(find_route(routes, Method::Put, segs("/api/0.2.0/alice/app/_tag/1.0")).kind,
            RouteMatch::NotFound);
  EXPECT_EQ(find_route(routes, Method::Put, segs("/api/v/alice/app/_tag/1.0")).kind,
            RouteMatch::NotFound);
}

TEST(Router, MethodNotAllowedListsMethodsAndHeadViaGet) {
  std::vector<R> routes{{Method::Get, RoutePattern("/{user}/{repo}")},
                        {Method::Put, RoutePattern("/{user}/{repo}")}};
  auto m = find_route(routes, Method::Post, segs("/a/b"));
  ASSERT_EQ(m.kind, RouteMatch::MethodNotAllowed);
  EXPECT_EQ(m.allow, (std::vector<std::string>{"GET", "HEAD", "PUT"}));
  m = find_route(routes, Method::Head, segs("/a/b"));
  ASSERT_EQ(m.kind, RouteMatch::Found);
  EXPECT_TRUE(m.head_via_get);
  EXPECT_EQ(find_route(routes, Method::Get, segs("/a")).kind, RouteMatch::NotFound);
}

TEST(Router, MostSpecificWins) {
  std::vector<R> routes{{Method::Get, RoutePattern("/{user}/{repo*}")},
                        {Method::Get, RoutePattern("/{user}/{repo}")},
                        {Method::Get, RoutePattern("/{user}/_tag")},
                        {Method::Get, RoutePattern("/{user}/v{n}")}};
  EXPECT_EQ(find_route(routes, Method::Get, segs("/a/_tag")).index, 2u);
  EXPECT_EQ(find_route(routes, Method::Get, segs("/a/v1")).index, 3u);
  EXPECT_EQ(find_route(routes, Method::Get, segs("/a/b")).index, 1u);
  EXPECT_EQ(find_route(routes, Method::Get, segs("/a/b/c")).index, 0u);
  std::vector<R> root{{Method::Get, RoutePattern("/")}};
  EXPECT_EQ(find_route(root, Method::Get, segs("/")).kind, RouteMatch::Found);
}

TEST(Router, BadPathsRejected) {
  std::vector<std::string> s;
  EXPECT_EQ(split_path("/a/../b", s), PathError::BadPath);
  EXPECT_EQ(split_path("/a/./b", s), PathError::BadPath);
  EXPECT_EQ(split_path("/a/%2e%2E/b", s), PathError::BadPath);
  EXPECT_EQ(split_path("/a//b", s), PathError::BadPath);
  EXPECT_EQ(split_path("/a/b%2Fc", s), PathError::BadPath);
  EXPECT_EQ(split_path("/a/%00", s), PathError::BadPath);
  EXPECT_EQ(split_path("a/b", s), PathError::BadPath);
  EXPECT_EQ(split_path("/a/%zz", s), PathError::BadEncoding);
  EXPECT_EQ(split_path("/a/%4", s), PathError::BadEncoding);
}

TEST(Router, BadPatterns) {
  for (const char* p : {"", "nope", "/a//b", "/{x", "/x}", "/{a*}/b", "/p{a*}", "/{a}/{a}",
                        "/{a}{b}", "/{}", "/{a-b}"}) {
    try {
      RoutePattern rp{std::string(p)};
      ADD_FAILURE() << "accepted " << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), "http.bad_route") << p;
    }
  }
}

TEST(HttpHelpers, HeadersPercentAndErrors) {
  Headers h{{"Content-Type", "a"}};
  h.add("X-A", "1");
  h.add("x-a", "2");
  EXPECT_EQ(h.get("content-type"), "a");
  EXPECT_EQ(h.get_all("X-A"), (std::vector<std::string>{"1", "2"}));
  h.set("X-a", "3");
  EXPECT_EQ(h.get_all("x-A"), (std::vector<std::string>{"3"}));
  h.remove("CONTENT-TYPE");
  EXPECT_FALSE(h.has("content-type"));
  EXPECT_EQ(percent_decode("a%20b+c"), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_encode("a b/c~"), "a%20b%2Fc~");
  EXPECT_EQ(percent_encode("a b/c", true), "a%20b/c");
  EXPECT_THROW(percent_decode("%"), Error);
  EXPECT_EQ(problem_body(404, "http.not_found", "no \"x\""),
            R"({"status":404,"title":"Not Found","code":"http.not_found","detail":"no \"x\""})");
  EXPECT_EQ(parse_method("GET"), Method::Get);
  EXPECT_EQ(parse_method("get"), std::nullopt);
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
}

}  // namespace
}  // namespace enarx::net
