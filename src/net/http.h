// Types shared by the HTTP server and client: methods, headers, HTTP errors.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/problem.h"

namespace enarx::net {

enum class Method { Get, Head, Post, Put, Delete, Patch, Options };
std::string_view to_string(Method method);  // "GET", ...
// Exact (case-sensitive, as RFC 9110) method token; std::nullopt for anything else.
std::optional<Method> parse_method(std::string_view text);

// Ordered header list with case-insensitive names. Values are kept verbatim.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> list) : items_(list) {}

  // First value of `name`, if present.
  std::optional<std::string> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Every value of `name`, in order.
  std::vector<std::string> get_all(std::string_view name) const;
  // Replaces every `name` header by one with `value`.
  void set(std::string name, std::string value);
  // Appends (repeated headers such as Set-Cookie, Link).
  void add(std::string name, std::string value);
  void remove(std::string_view name);

  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

bool iequals(std::string_view a, std::string_view b);

// The one mapping from an error's kind to the HTTP status a server answers with (and back, for
// handlers that state a status).
int http_status(ErrorKind kind);
ErrorKind error_kind_for_status(int status);

// Thrown by request handlers to answer with a specific status and stable error code:
//   throw HttpError(404, "drawbridge.tag_not_found", "no such tag");
// The server answers with problem details (core/problem.h) and that status. Status must be
// 400..599 (otherwise the server uses 500).
class HttpError : public Error {
 public:
  HttpError(int status, std::string code, const std::string& message)
      : Error(error_kind_for_status(status), std::move(code), message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// Error bodies are core/problem.h's problem details.
inline constexpr std::string_view kErrorContentType = kProblemContentType;

using enarx::reason_phrase;

// Percent-decodes a path segment or query component. `plus_is_space` for query strings.
// Throws Error("http.bad_encoding") on a malformed escape.
std::string percent_decode(std::string_view text, bool plus_is_space = false);
// Percent-encodes everything except RFC 3986 unreserved characters (and '/' if keep_slash).
std::string percent_encode(std::string_view text, bool keep_slash = false);

}  // namespace enarx::net
