// HTTP/1.1 server (Boost.Beast + Asio underneath; none of it leaks into this header).
//
//   net::ServerConfig cfg;
//   cfg.address = "0.0.0.0"; cfg.port = 8443;
//   cfg.tls = net::TlsServerConfig::from_files("server.pem", "server.key");
//   net::HttpServer server(cfg);
//   server.route(net::Method::Get, "/api/v{version}/{user}/{repo}/_tag/{tag}/tree/{path*}",
//                [](net::Request& req) {
//                  return net::Response::text(200, req.param("path"));
//                });
//   server.run();   // blocks until SIGTERM/SIGINT, then drains and returns
//
// Model
//   * TLS by default: start() throws Error("http.tls_required") when neither `tls` is set nor
//     `allow_plaintext` is true. TLS 1.2 minimum, 1.3 preferred; client certificates per
//     TlsServerConfig::client_auth, verified by OpenSSL during the handshake against
//     client_ca_pem only. The verified chain reaches handlers as Request::peer_chain_der.
//   * Threads: `io_threads` run all network I/O, each with an event loop of its own (the first
//     accepts; a connection is handed to a thread, round robin, once it has sent its first bytes,
//     and stays there); handlers run on a separate pool of
//     `worker_threads`, so a CPU-bound (steward verification) or disk-bound (drawbridge) handler
//     never stalls other connections' I/O. A handler may block; the connection simply waits.
//     A route's fast_path (RouteOptions) may answer a complete body-less request from memory on
//     the I/O thread instead (a cache hit); whatever it declines goes to the worker pool.
//   * Request bodies are buffered in memory (Request::body) up to the route's limit
//     (RouteOptions::max_body_size, else ServerConfig::max_body_size). A larger Content-Length
//     or a chunked body that grows past it is answered 413 http.body_too_large and the
//     connection is closed. Headers over max_header_size: 431 http.header_too_large, closed;
//     more than max_header_fields fields: 431 http.too_many_headers, closed.
//   * Every buffered body byte is charged to one budget shared by all connections
//     (max_buffered_bytes): a body that does not fit is answered 503 http.overloaded with
//     Retry-After, before it is read when its Content-Length is known.
//   * A route may decide at header time (RouteOptions::on_header, run on the worker pool after
//     the header is parsed and the client chain is known, before any body byte is read):
//     answer at once (the connection is then closed if a body was announced, so it is never
//     read), narrow the body limit, or stream the body to a RequestBodySink instead of memory.
//     The check runs before the route's body limit is applied, so a caller it refuses gets its
//     answer (say 401) whatever length it announced.
//   * Connections: at most max_connections, at most max_connections_per_ip per client address
//     (IPv6: per /64). When a cap is reached, the oldest connection that has not yet proved
//     itself (no byte, no finished TLS handshake, no complete request header — in that order)
//     is closed to make room; only when every connection in the way has sent a request is the
//     newcomer refused. handshake_timeout covers the wait for the ClientHello and the handshake.
//   * At most max_queued_requests requests wait for a worker; more: 503 http.overloaded.
//   * A route registered with route_async has an AsyncHandler: the worker starts the work and
//     returns; the response is sent when the handler's Responder is called, from any thread.
//     Shutdown waits for such answers like any request being handled.
//   * Responses carry an in-memory body or a file streamed from disk (Response::file), with
//     Content-Length. HEAD requests get GET's headers without a body; a GET route answers HEAD
//     unless a HEAD route exists for the same pattern.
//   * Errors are problem details (core/problem.h) with Content-Type application/problem+json:
//     {"status":404,"title":"Not Found","code":"http.not_found","detail":"..."}. From handlers:
//     HttpError(status, code, message) is sent as is; another enarx::Error with
//     http_status(error.kind()) (net/http.h), a 5xx one with detail "internal error" (the
//     details go to the log only); any other exception as 500 http.internal, the same way.
//   * Built-ins (unless disabled): GET /healthz -> 200 {"status":"ok"}; GET /metrics ->
//     Prometheus text (see docs/net.md for the metric names).
//   * Timeouts: handshake_timeout for the TLS handshake; header_timeout from the first byte of a
//     request until its header is complete (slowloris); body_timeout for the body; idle_timeout
//     between requests on a keep-alive connection; write_timeout per response. Expiry closes the
//     connection (no response).
//   * A socket that cannot be admitted (every connection in the way is established) is closed at
//     once (http_connections_rejected_total); evictions count in http_connections_evicted_total.
//   * Shutdown (stop(), or SIGTERM/SIGINT under run()): stop accepting, close idle connections,
//     let requests already being read or handled finish and send their responses (with
//     Connection: close) for up to shutdown_grace, then close whatever remains and return.
//   * One access log line per request (log message "http.access"; fields method, path, route,
//     status, bytes, duration_us, remote, request_id; never the query string or body).
//
// Route patterns: '/'-separated segments. A segment is a literal ("_tag"), a capture with
// optional literal prefix/suffix ("{tag}", "v{version}", "{name}.json"), or — last segment only —
// a wildcard "{path*}" matching zero or more remaining segments (captured joined by '/', without
// a leading '/'). Captures are percent-decoded; a capture never matches an empty segment. The
// most specific match wins (at the first differing segment: literal > capture > wildcard).
// Requests whose path has "." or ".." segments or empty segments (other than a trailing '/')
// are 400 http.bad_path. No match: 404 http.not_found; path matches but method does not: 405
// http.method_not_allowed with an Allow header.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "net/http.h"
#include "net/metrics.h"
#include "net/tls.h"

namespace enarx {
class Certificate;
}

namespace enarx::net {

class RequestBodySink;

struct Request {
  Method method = Method::Get;
  std::string target{};  // raw request-target, e.g. "/a/b%20c?x=1"
  std::string path{};    // target without the query, still percent-encoded
  std::string query;   // after '?', raw ("" if none)
  Headers headers{};
  std::string body{};    // whole body, at most the route's body limit
  std::map<std::string, std::string, std::less<>> params{};  // route captures, decoded
  std::string route{};   // the matched pattern (also the metrics label)
  std::string remote_address{};  // "ip:port"
  std::string request_id{};      // UUIDv4, also sent back as X-Request-Id
  // Client certificate chain as verified at the handshake: DER, leaf first, ending with the
  // trust anchor from client_ca_pem. Empty for plain HTTP or when no certificate was presented.
  std::vector<Bytes> peer_chain_der{};
  // The route's RequestBodySink, when its header check chose to stream the body (body is then empty).
  std::shared_ptr<RequestBodySink> body_sink{};

  // Capture by name; throws HttpError(500, "http.internal") if the route has no such capture (a
  // programming error).
  const std::string& param(std::string_view name) const;
  // First query parameter `name`, decoded ("+" is a space); std::nullopt if absent.
  std::optional<std::string> query_param(std::string_view name) const;
  std::optional<std::string> header(std::string_view name) const { return headers.get(name); }
  // peer_chain_der parsed (needs the core X.509 implementation). Empty when no client cert.
  std::vector<Certificate> peer_certificates() const;
};

// An open, read-only file to stream as a response body. Opening in the handler (rather than
// naming a path) pins the content the handler chose even if the path is replaced later.
class OpenFile {
 public:
  OpenFile() = default;
  // Throws Error("io.read") naming the path when it cannot be opened or is not a regular file.
  static OpenFile open(const std::filesystem::path& path);
  ~OpenFile();
  OpenFile(OpenFile&& other) noexcept;
  OpenFile& operator=(OpenFile&& other) noexcept;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  std::uint64_t size() const { return size_; }
  bool is_open() const { return fd_ >= 0; }
  // Gives up ownership of the descriptor (the server uses this).
  int release();

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

struct Response {
  int status = 200;
  Headers headers{};
  std::string body{};                // used unless `file` is set
  std::shared_ptr<OpenFile> file{};  // streamed with Content-Length = file size

  static Response text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  // `json_text` must already be serialized JSON.
  static Response json(int status, std::string json_text);
  static Response bytes(int status, std::string body,
                        std::string content_type = "application/octet-stream");
  static Response from_file(OpenFile file, std::string content_type = "application/octet-stream");
  // The standard error body.
  static Response error(int status, std::string_view code, std::string_view message);
  static Response empty(int status = 204);
};

using Handler = std::function<Response(Request& request)>;

// How an asynchronous handler answers: from any thread, later (once the work it started has
// finished). The first call sends the response; later calls do nothing. When every copy is
// dropped without an answer, the request is answered 500 http.internal. Once the server has
// stopped, an answer is dropped (its connection is closed).
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void operator()(Response response) const;

 private:
  std::shared_ptr<State> state_;
};

// Runs on the worker pool like a Handler, but returns without a response: it hands `respond`
// to whatever finishes the work (a commit queue, say), so the worker is free meanwhile. The
// request (and its body) stays valid until the answer. Throwing before answering answers as a
// Handler's exception does.
using AsyncHandler = std::function<void(Request& request, Responder respond)>;

// Takes a request body piece by piece instead of Request::body (an upload streamed to disk).
// Called on the connection's I/O thread, in order, with at most one read's worth of bytes: keep
// it short (a buffered write, a digest update). It should not throw: record a failure and
// report it from the handler (which sees the sink as Request::body_sink); an exception closes
// the connection with 500 http.internal.
class RequestBodySink {
 public:
  virtual ~RequestBodySink() = default;
  virtual void write(const char* data, std::size_t size) = 0;
};

// What a route's header check decides, before any byte of the body is read.
struct HeaderDecision {
  // Answer with this instead of reading the body and running the handler. When the request
  // announced a body the connection is closed after the answer: the body is never read.
  std::optional<Response> response{};
  // A tighter body limit for this request (413 http.body_too_large above it).
  std::optional<std::uint64_t> max_body_size{};
  // Stream the body here instead of buffering it (not charged to max_buffered_bytes).
  std::shared_ptr<RequestBodySink> sink{};
};

// Runs on the worker pool with the request's header, captures, remote address and client
// chain; Request::body is still empty. Exceptions become responses as a handler's do.
using HeaderCheck = std::function<HeaderDecision(Request& request)>;

// See RouteOptions::fast_path.
using FastPath = std::function<std::optional<Response>(Request& request)>;

struct RouteOptions {
  // Overrides ServerConfig::max_body_size for this route (e.g. drawbridge blob uploads).
  std::optional<std::uint64_t> max_body_size{};
  // Authentication and authorization before the body (see HeaderDecision).
  HeaderCheck on_header{};
  // Answers from memory on the I/O thread that read the request, skipping the hop to the worker
  // pool and back (two thread wake-ups per request, the largest cost of a small GET). Runs once
  // the request is complete (GET/HEAD and other requests without a body only); nullopt sends the
  // request to the handler as usual. It must never block (no disk, no database, no lock held for
  // long): it stalls every connection of its I/O thread while it runs. Exceptions are answered
  // as a handler's are.
  FastPath fast_path{};
};

struct ServerConfig {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal ("::" = all, dual stack)
  std::uint16_t port = 0;             // 0 = ephemeral; see HttpServer::port()
  std::optional<TlsServerConfig> tls{};
  bool allow_plaintext = false;       // required to run without `tls`
  PeerVerifier peer_verifier{};         // optional server-level client-chain check

  std::size_t max_header_size = 16 * 1024;
  std::size_t max_header_fields = 100;
  std::uint64_t max_body_size = 1024 * 1024;
  // Request body bytes held in memory across all connections (RequestBodySink bytes excluded).
  std::uint64_t max_buffered_bytes = 64ull << 20;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_ip = 64;  // IPv6: per /64; 0 = no per-address cap
  // Requests (and header checks) waiting for a worker thread.
  std::size_t max_queued_requests = 256;

  // From accept to the end of the TLS handshake, the wait for the ClientHello included.
  std::chrono::milliseconds handshake_timeout{5'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};
  std::chrono::milliseconds shutdown_grace{10'000};

  unsigned io_threads = 1;
  unsigned worker_threads = 4;

  bool enable_healthz = true;
  bool enable_metrics = true;
  bool access_log = true;
  std::string server_header = "enarx";  // "" = no Server header

  // Shared registry (so components can add their own metrics); null = the server makes one.
  std::shared_ptr<MetricsRegistry> metrics{};
};

class HttpServer {
 public:
  explicit HttpServer(ServerConfig config);
  ~HttpServer();  // stop()s if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a route. Must be called before start(). Throws Error("http.bad_route") for a
  // malformed pattern or a duplicate (method, pattern).
  void route(Method method, std::string pattern, Handler handler, RouteOptions options = {});
  void get(std::string pattern, Handler h, RouteOptions o = {}) { route(Method::Get, std::move(pattern), std::move(h), o); }
  void post(std::string pattern, Handler h, RouteOptions o = {}) { route(Method::Post, std::move(pattern), std::move(h), o); }
  void put(std::string pattern, Handler h, RouteOptions o = {}) { route(Method::Put, std::move(pattern), std::move(h), o); }
  void head(std::string pattern, Handler h, RouteOptions o = {}) { route(Method::Head, std::move(pattern), std::move(h), o); }
  void del(std::string pattern, Handler h, RouteOptions o = {}) { route(Method::Delete, std::move(pattern), std::move(h), o); }
  // The same with an asynchronous handler.
  void route_async(Method method, std::string pattern, AsyncHandler handler, RouteOptions options = {});

  // Binds, listens and starts the I/O and worker threads; returns immediately. Throws
  // Error("http.bind") if the address cannot be bound, "http.tls_required", or "tls.*" for a
  // bad certificate/key/CA.
  void start();
  // The bound port (after start()).
  std::uint16_t port() const;
  // Graceful stop as described above; blocks until done. Idempotent, thread-safe.
  void stop();
  // start() (if not started), then blocks until SIGTERM/SIGINT or request_stop(), then stop().
  void run();
  // Makes run() return (after a graceful stop). Safe from any thread.
  void request_stop();

  MetricsRegistry& metrics();
  const ServerConfig& config() const;

  struct Impl;  // implementation detail (public only so http_server.cc's helpers can name it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace enarx::net
