// The value types a handler works with: Request helpers, Response, OpenFile (a file body the
// server streams).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"
#include "core/problem.h"
#include "net/http_server.h"

namespace enarx::net {

// ---------------------------------------------------------------------------------------------
// Request / Response / OpenFile

const std::string& Request::param(std::string_view name) const {
  auto it = params.find(name);
  if (it == params.end()) {
    throw HttpError(500, "http.internal", "route has no parameter '" + std::string(name) + "'");
  }
  return it->second;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view q(query);
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const auto eq = pair.find('=');
    const std::string_view k = pair.substr(0, eq);
    try {
      if (percent_decode(k, true) == name) {
        return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
      }
    } catch (const Error&) {
      throw HttpError(400, "http.bad_encoding", "malformed percent-escape in the query string");
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

OpenFile OpenFile::open(const std::filesystem::path& path) {
  OpenFile f;
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd_ < 0) throw Error(ErrorKind::kInternal, "io.read", "cannot open " + path.string());
  struct stat st {};
  if (::fstat(f.fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(ErrorKind::kInternal, "io.read", path.string() + " is not a regular file");
  }
  f.size_ = static_cast<std::uint64_t>(st.st_size);
  return f;
}

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

OpenFile::OpenFile(OpenFile&& other) noexcept : fd_(other.fd_), size_(other.size_) {
  other.fd_ = -1;
}

OpenFile& OpenFile::operator=(OpenFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

int OpenFile::release() { return std::exchange(fd_, -1); }

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.set("Content-Type", std::move(content_type));
  return r;
}

Response Response::json(int status, std::string json_text) {
  return text(status, std::move(json_text), "application/json");
}

Response Response::bytes(int status, std::string body, std::string content_type) {
  return text(status, std::move(body), std::move(content_type));
}

Response Response::from_file(OpenFile file, std::string content_type) {
  Response r;
  r.status = 200;
  r.file = std::make_shared<OpenFile>(std::move(file));
  r.headers.set("Content-Type", std::move(content_type));
  return r;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  return text(status, problem_body(status, code, message), std::string(kErrorContentType));
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  return r;
}

}  // namespace enarx::net
