// HttpServer on Boost.Beast/Asio.
//
// Style: completion callbacks (the Beast "advanced server" shape), not C++20 coroutines.
// Boost 1.74's awaitable support predates as_tuple/cancellation slots, so per-operation
// timeouts and "error is data" handling would need exceptions or extra plumbing, and GCC 12's
// coroutine frames interact poorly with ASan in some cases. Each connection is a small state
// machine whose handlers all run on its own strand, which keeps lifetimes explicit
// (shared_from_this) and easy to audit for the sanitizer build.
//
// Threads: `io_threads` run the io_context (accept, TLS, parsing, writing); request handlers
// run on a separate thread pool and post their Response back to the connection's strand.
#include "net/http_server.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <limits>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/log.h"
#include "net/router.h"
#include "net/tls_context.h"
#include "net/tls_stream.h"

namespace enarx::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

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
  if (f.fd_ < 0) throw Error("io.read", "cannot open " + path.string());
  struct stat st {};
  if (::fstat(f.fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error("io.read", path.string() + " is not a regular file");
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
  return text(status, error_body(code, message), std::string(kErrorContentType));
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  return r;
}

int default_error_status(const Error& error) {
  const std::string& c = error.code();
  for (std::string_view p : {"io.", "db.", "storage.", "internal."}) {
    if (c.starts_with(p)) return 500;
  }
  return 400;
}

// ---------------------------------------------------------------------------------------------
// Server internals

namespace {

std::string make_request_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // Request ids only correlate logs; a weaker fallback is acceptable here.
    static std::atomic<std::uint64_t> counter{0};
    const auto n = counter.fetch_add(1) ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
    std::memcpy(b, &n, 8);
    std::memcpy(b + 8, &n, 8);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

struct RouteEntry {
  Method method;
  RoutePattern pattern;
  Handler handler;
  RouteOptions options;
};

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Called (on the connection's strand) when the server starts shutting down.
  virtual void on_server_stop() = 0;
  // Called (on the strand) when the grace period is over.
  virtual void force_close() = 0;
  virtual asio::any_io_executor executor() = 0;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerConfig c) : config(std::move(c)) {
    if (config.io_threads == 0) config.io_threads = 1;
    if (config.worker_threads == 0) config.worker_threads = 1;
    if (!config.metrics) config.metrics = std::make_shared<MetricsRegistry>();
    if (!config.error_status) config.error_status = default_error_status;
    auto& m = *config.metrics;
    requests_total = &m.counter("http_requests_total", "HTTP requests answered",
                                {"method", "route", "status"});
    request_duration = &m.histogram("http_request_duration_seconds",
                                    "Time from complete request header to response sent",
                                    {"method", "route"});
    in_flight = &m.gauge("http_requests_in_flight", "Requests being read, handled or answered");
    connections_active = &m.gauge("http_connections_active", "Open client connections");
    connections_rejected = &m.counter("http_connections_rejected_total",
                                      "Connections closed at once because of max_connections");
    tls_failures = &m.counter("http_tls_handshake_failures_total",
                              "TLS handshakes that failed or whose peer chain was rejected");
  }

  ServerConfig config;
  std::vector<RouteEntry> routes;
  Counter* requests_total = nullptr;
  Histogram* request_duration = nullptr;
  Gauge* in_flight = nullptr;
  Gauge* connections_active = nullptr;
  Counter* connections_rejected = nullptr;
  Counter* tls_failures = nullptr;

  std::shared_ptr<ssl::context> tls_ctx;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::mutex stop_mutex;  // serializes stop()
  std::atomic<std::uint16_t> bound_port{0};

  // Connections, for shutdown. Entries are removed by the connection's destructor.
  std::mutex conns_mutex;
  std::condition_variable conns_cv;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> conns;

  // run() / request_stop().
  std::mutex run_mutex;
  std::condition_variable run_cv;
  bool stop_requested = false;

  std::mutex io_exit_mutex;
  std::condition_variable io_exit_cv;
  unsigned io_running = 0;

  // Destroyed in reverse order: threads are joined and the acceptor/signal set are released in
  // stop() before the io_context goes away.
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::signal_set> signals;
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> io_threads;

  void register_conn(const std::shared_ptr<ConnectionBase>& c) {
    std::lock_guard lock(conns_mutex);
    conns.emplace(c.get(), c);
    connections_active->set({}, static_cast<double>(conns.size()));
  }
  void unregister_conn(ConnectionBase* c) {
    std::lock_guard lock(conns_mutex);
    conns.erase(c);
    connections_active->set({}, static_cast<double>(conns.size()));
    conns_cv.notify_all();
  }
  std::size_t conn_count() {
    std::lock_guard lock(conns_mutex);
    return conns.size();
  }
  std::vector<std::shared_ptr<ConnectionBase>> live_conns() {
    std::lock_guard lock(conns_mutex);
    std::vector<std::shared_ptr<ConnectionBase>> out;
    for (auto& [p, w] : conns) {
      if (auto s = w.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  bool wait_conns_empty(std::chrono::milliseconds timeout) {
    std::unique_lock lock(conns_mutex);
    return conns_cv.wait_for(lock, timeout, [&] { return conns.empty(); });
  }

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void stop();
};

namespace {

// Response body streamed from an open file in large chunks. Beast's file_body reads (and so
// writes) 4 KiB at a time: one TLS record and one async write per 4 KiB. This body reads up to
// kFileChunk bytes per step with pread into one buffer allocated once per response (sized to
// the file when smaller), so the TLS layer always gets full 16 KiB records and a 64 MiB blob
// takes 256 reads instead of 16384. The file is never loaded whole and never re-hashed.
struct LargeFileBody {
  static constexpr std::size_t kFileChunk = 256 * 1024;

  class value_type {
   public:
    value_type() = default;
    value_type(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
    ~value_type() { reset(); }
    value_type(value_type&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}
    value_type& operator=(value_type&& o) noexcept {
      if (this != &o) {
        reset();
        fd_ = std::exchange(o.fd_, -1);
        size_ = o.size_;
      }
      return *this;
    }
    value_type(const value_type&) = delete;
    value_type& operator=(const value_type&) = delete;
    int fd() const { return fd_; }
    std::uint64_t size() const { return size_; }

   private:
    void reset() {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
    }
    int fd_ = -1;
    std::uint64_t size_ = 0;
  };

  static std::uint64_t size(const value_type& v) { return v.size(); }

  class writer {
   public:
    using const_buffers_type = asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(beast::error_code& ec) {
      ec = {};
      const auto cap = static_cast<std::size_t>(std::min<std::uint64_t>(body_.size(), kFileChunk));
      if (cap > 0) {
        buf_ = std::make_unique_for_overwrite<char[]>(cap);
        cap_ = cap;
#ifdef POSIX_FADV_SEQUENTIAL
        ::posix_fadvise(body_.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
      }
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      const std::uint64_t remain = body_.size() - offset_;
      if (remain == 0) return boost::none;
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remain, cap_));
      std::size_t got = 0;
      while (got < want) {
        const auto n = ::pread(body_.fd(), buf_.get() + got, want - got, static_cast<off_t>(offset_ + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // Read error, or the file shrank under us: the promised Content-Length cannot be met.
          ec = n < 0 ? beast::error_code(errno, boost::system::system_category())
                     : beast::error_code(boost::system::errc::io_error, boost::system::generic_category());
          return boost::none;
        }
        got += static_cast<std::size_t>(n);
      }
      offset_ += got;
      return {{const_buffers_type(buf_.get(), got), offset_ < body_.size()}};
    }

   private:
    value_type& body_;
    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;
    std::uint64_t offset_ = 0;
  };
};

template <typename Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  using Parser = bhttp::request_parser<bhttp::string_body>;

  Connection(HttpServer::Impl& srv, tcp::socket&& socket)
      : srv_(srv), stream_(make_stream(srv, std::move(socket))) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                                     : ep.address().to_string() + ":" + std::to_string(ep.port());
    }
  }

  ~Connection() override { srv_.unregister_conn(this); }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void on_server_stop() override {
    stop_requested_ = true;
    if (state_ == State::Handshake || state_ == State::Idle) close_now();
  }

  void force_close() override { close_now(); }

 private:
  enum class State { Handshake, Idle, ReadingHeader, ReadingBody, Handling, Writing, Closing, Closed };

  static Stream make_stream(HttpServer::Impl& srv, tcp::socket&& socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *srv.tls_ctx);
    } else {
      return Stream(std::move(socket));
    }
  }

  auto& tcp_layer() { return beast::get_lowest_layer(stream_); }

  void begin() {
    if (srv_.stopping) return close_now();
    if constexpr (kTls) {
      state_ = State::Handshake;
      tcp_layer().expires_after(srv_.config.handshake_timeout);
      stream_.async_handshake([self = this->shared_from_this()](beast::error_code ec) {
        self->on_handshake(ec);
      });
    } else {
      wait_for_request(true);
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      srv_.tls_failures->inc();
      log::debug("http.tls_handshake_failed", {{"remote", remote_}, {"error", ec.message()}});
      return close_now();
    }
    if constexpr (kTls) {
      peer_chain_ = verified_peer_chain(stream_.native_handle());
      // A certificate whose verified chain is unknown (a resumed session; make_server_tls_context
      // disables resumption) must not pass as an anonymous client.
      if (peer_chain_.empty() && SSL_get0_peer_certificate(stream_.native_handle()) != nullptr) {
        srv_.tls_failures->inc();
        log::info("http.peer_rejected", {{"remote", remote_}, {"error", "no verified chain"}});
        return close_now();
      }
      if (srv_.config.peer_verifier && !peer_chain_.empty()) {
        bool ok = false;
        try {
          ok = srv_.config.peer_verifier(peer_chain_);
        } catch (const std::exception& e) {
          log::info("http.peer_rejected", {{"remote", remote_}, {"error", e.what()}});
        }
        if (!ok) {
          srv_.tls_failures->inc();
          log::info("http.peer_rejected", {{"remote", remote_}});
          return close_now();
        }
      }
    }
    wait_for_request(true);
  }

  // Waits for the first byte of the next request (idle_timeout between keep-alive requests,
  // header_timeout for a fresh connection), then reads the header under header_timeout.
  void wait_for_request(bool first) {
    if (srv_.stopping || stop_requested_) return close_now();
    if (buffer_.size() > 0) return read_header();
    state_ = State::Idle;
    tcp_layer().expires_after(first ? srv_.config.header_timeout : srv_.config.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](
                                                       beast::error_code ec, std::size_t n) {
      if (ec) return self->close_now();
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    state_ = State::ReadingHeader;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(srv_.config.max_header_size));
    // The real limit is applied per route once the header is known (on_header). Not
    // boost::none: Beast 1.74 compares Content-Length against the optional, and none loses.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    tcp_layer().expires_after(srv_.config.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (ec == bhttp::error::header_limit) {
        start_request_bookkeeping();
        return send_error(431, "http.header_too_large", "request header too large", true);
      }
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
        return close_now();
      }
      start_request_bookkeeping();
      log::debug("http.bad_request", {{"remote", remote_}, {"error", ec.message()}});
      return send_error(400, "http.bad_request", "malformed request", true);
    }
    start_request_bookkeeping();
    auto& h = parser_->get();
    request_ = std::make_unique<Request>();
    Request& req = *request_;
    req.target = std::string(h.target());
    const auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : h) {
      req.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    req.remote_address = remote_;
    req.request_id = request_id_;
    req.peer_chain_der = peer_chain_;
    method_name_ = std::string(h.method_string());
    path_for_log_ = req.path.size() > 512 ? req.path.substr(0, 512) : req.path;
    const bool has_body = parser_->content_length().value_or(0) > 0 || parser_->chunked();

    const auto method = parse_method(method_name_);
    std::vector<std::string> segments;
    const PathError perr = split_path(req.path, segments);
    if (perr != PathError::None) {
      return send_error(400, perr == PathError::BadEncoding ? "http.bad_encoding" : "http.bad_path",
                        "malformed request path", has_body);
    }
    RouteMatch m = find_route(srv_.routes, method, segments);
    if (!method) {
      return send_error(501, "http.not_implemented", "method not implemented", has_body);
    }
    if (m.kind == RouteMatch::NotFound) {
      return send_error(404, "http.not_found", "no such resource", has_body);
    }
    if (m.kind == RouteMatch::MethodNotAllowed) {
      std::string allow;
      for (const auto& a : m.allow) allow += (allow.empty() ? "" : ", ") + a;
      Response r = Response::error(405, "http.method_not_allowed",
                                   "method " + method_name_ + " not allowed here");
      r.headers.set("Allow", allow);
      return send(std::move(r), has_body);
    }
    route_ = &srv_.routes[m.index];
    req.method = *method;
    req.params = std::move(m.params);
    req.route = route_->pattern.text();
    route_label_ = req.route;
    is_head_ = *method == Method::Head;

    const std::uint64_t limit = route_->options.max_body_size.value_or(srv_.config.max_body_size);
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return send_error(413, "http.body_too_large",
                        "request body exceeds " + std::to_string(limit) + " bytes", true);
    }
    parser_->body_limit(limit);  // enforced for chunked bodies while parsing
    if (parser_->is_done()) return dispatch();
    if (bhttp::token_list(h[bhttp::field::expect]).exists("100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      tcp_layer().expires_after(srv_.config.write_timeout);
      bhttp::async_write(stream_, *cont, [self = this->shared_from_this(), cont](
                                             beast::error_code ec, std::size_t) {
        if (ec) return self->close_now();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    state_ = State::ReadingBody;
    tcp_layer().expires_after(srv_.config.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec == bhttp::error::body_limit) {
                          return self->send_error(413, "http.body_too_large",
                                                  "request body too large", true);
                        }
                        if (ec) return self->close_now();
                        self->dispatch();
                      });
  }

  void start_request_bookkeeping() {
    request_start_ = Clock::now();
    request_id_ = make_request_id();
    srv_.in_flight->inc();
    counted_in_flight_ = true;
    method_name_.clear();
    route_label_.clear();
    path_for_log_.clear();
    is_head_ = false;
    route_ = nullptr;
  }

  // Runs the handler on the worker pool and sends its response back on this strand.
  void dispatch() {
    state_ = State::Handling;
    tcp_layer().expires_never();
    request_->body = std::move(parser_->get().body());
    keep_alive_ = parser_->get().keep_alive();
    parser_.reset();
    asio::post(*srv_.workers, [self = this->shared_from_this()] {
      Response response = self->invoke_handler();
      asio::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
        self->send(std::move(r), false);
      });
    });
  }

  Response invoke_handler() {
    Request& req = *request_;
    try {
      return route_->handler(req);
    } catch (const HttpError& e) {
      const int status = e.status() >= 400 && e.status() <= 599 ? e.status() : 500;
      return Response::error(status, e.code(), e.what());
    } catch (const Error& e) {
      int status = srv_.config.error_status(e);
      if (status < 400 || status > 599) status = 500;
      if (status >= 500) {
        log::error("http.handler_error", {{"request_id", request_id_}, {"route", route_label_},
                                          {"code", e.code()}, {"error", e.what()}});
        return Response::error(status, e.code(), "internal error");
      }
      return Response::error(status, e.code(), e.what());
    } catch (const std::exception& e) {
      log::error("http.handler_exception",
                 {{"request_id", request_id_}, {"route", route_label_}, {"error", e.what()}});
      return Response::error(500, "http.internal", "internal error");
    } catch (...) {
      log::error("http.handler_exception", {{"request_id", request_id_}, {"route", route_label_}});
      return Response::error(500, "http.internal", "internal error");
    }
  }

  void send_error(int status, std::string_view code, std::string_view message, bool close) {
    send(Response::error(status, code, message), close);
  }

  template <typename Body>
  void fill_common(bhttp::response<Body>& msg, Response& r, bool keep_alive) {
    msg.version(11);
    for (auto& [k, v] : r.headers.items()) {
      // Framing headers are ours to set.
      if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding") ||
          iequals(k, "Connection")) {
        continue;
      }
      msg.insert(k, v);
    }
    if (!srv_.config.server_header.empty() && !r.headers.has("Server")) {
      msg.set(bhttp::field::server, srv_.config.server_header);
    }
    if (!request_id_.empty()) msg.set("X-Request-Id", request_id_);
    msg.keep_alive(keep_alive);
  }

  // Sends `r`; `force_close` when the rest of the request cannot be (or was not) read.
  void send(Response r, bool force_close) {
    if (state_ == State::Closed) return finish_request(r.status, 0);
    if (r.status < 100 || r.status > 599) r = Response::error(500, "http.internal", "internal error");
    state_ = State::Writing;
    response_status_ = r.status;
    const bool keep_alive = keep_alive_ && !force_close && !srv_.stopping && !stop_requested_;
    keep_alive_ = false;
    parser_.reset();
    const bool no_body = is_head_ || r.status == 204 || r.status == 304;
    arm_write_deadline();

    if (r.file && r.file->is_open() && !no_body) {
      auto msg = std::make_shared<bhttp::response<LargeFileBody>>();
      msg->result(static_cast<unsigned>(r.status));
      fill_common(*msg, r, keep_alive);
      const std::uint64_t size = r.file->size();
      msg->body() = LargeFileBody::value_type(r.file->release(), size);
      msg->content_length(size);
      response_bytes_ = size;
      write(msg, keep_alive);
      return;
    }
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    msg->result(static_cast<unsigned>(r.status));
    fill_common(*msg, r, keep_alive);
    const std::uint64_t length = r.file ? r.file->size() : r.body.size();
    if (!no_body) {
      msg->body() = std::move(r.body);
      msg->content_length(length);
    } else if (r.status != 204 && r.status != 304) {
      // HEAD: the GET representation's length, no body.
      msg->content_length(length);
    }
    response_bytes_ = no_body ? 0 : length;
    write(msg, keep_alive);
  }

  template <typename Msg>
  void write(std::shared_ptr<Msg> msg, bool keep_alive) {
    auto sr = std::make_shared<bhttp::response_serializer<typename Msg::body_type>>(*msg);
    if (is_head_ || msg->result_int() == 204 || msg->result_int() == 304) {
      // Serialize the header only.
      bhttp::async_write_header(stream_, *sr, [self = this->shared_from_this(), msg, sr,
                                               keep_alive](beast::error_code ec, std::size_t) {
        self->on_write(ec, keep_alive);
      });
      return;
    }
    bhttp::async_write(stream_, *sr, [self = this->shared_from_this(), msg, sr, keep_alive](
                                         beast::error_code ec, std::size_t) {
      self->on_write(ec, keep_alive);
    });
  }

  // write_timeout bounds the whole response. It runs on a timer of our own, armed once per
  // response: the stream's expiry would arm and cancel its timer (two completions and a
  // timerfd update) for every TLS record, i.e. every 16 KiB of a large file.
  void arm_write_deadline() {
    tcp_layer().expires_never();
    const auto generation = ++write_generation_;
    write_timer_.expires_after(srv_.config.write_timeout);
    write_timer_.async_wait([self = this->shared_from_this(), generation](beast::error_code ec) {
      if (ec || self->write_generation_ != generation || self->state_ != State::Writing) return;
      self->close_now();  // the pending write then fails and on_write finishes the request
    });
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    ++write_generation_;
    write_timer_.cancel();
    finish_request(response_status_, ec ? 0 : response_bytes_);
    if (ec) return close_now();
    if (keep_alive) return wait_for_request(false);
    lingering_close();
  }

  void finish_request(int status, std::uint64_t bytes) {
    if (!counted_in_flight_) return;
    counted_in_flight_ = false;
    srv_.in_flight->dec();
    const auto elapsed = Clock::now() - request_start_;
    const double seconds = std::chrono::duration<double>(elapsed).count();
    const std::string route = route_label_.empty() ? std::string("unmatched") : route_label_;
    const std::string method = method_name_.empty() ? std::string("UNKNOWN")
                               : parse_method(method_name_) ? method_name_
                                                            : std::string("OTHER");
    srv_.requests_total->inc({method, route, std::to_string(status)});
    srv_.request_duration->observe({method, route}, seconds);
    if (srv_.config.access_log) {
      log::info("http.access",
                {{"method", method}, {"path", path_for_log_}, {"route", route}, {"status", status},
                 {"bytes", bytes},
                 {"duration_us",
                  std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()},
                 {"remote", remote_}, {"request_id", request_id_}});
    }
    request_.reset();
  }

  // Half-closes and drains what the client is still sending (bounded) before closing, so a
  // final response (e.g. 413) is not destroyed by a TCP reset.
  void lingering_close() {
    state_ = State::Closing;
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    linger_deadline_ = Clock::now() + std::chrono::seconds(1);
    drain();
  }

  void drain() {
    const auto now = Clock::now();
    if (now >= linger_deadline_ || drained_ > (4u << 20)) return close_now();
    tcp_layer().expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(linger_deadline_ - now));
    tcp_layer().socket().async_read_some(
        asio::buffer(drain_buf_), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return self->close_now();
          self->drained_ += n;
          self->drain();
        });
  }

  void close_now() {
    if (state_ == State::Closed) return;
    const bool was_handling = state_ == State::Handling;
    state_ = State::Closed;
    ++write_generation_;
    write_timer_.cancel();
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer().close();
    // A request being handled finishes its bookkeeping when the handler returns (send()).
    if (!was_handling && counted_in_flight_) finish_request(response_status_ ? response_status_ : 499, 0);
  }

  HttpServer::Impl& srv_;
  Stream stream_;
  asio::steady_timer write_timer_{stream_.get_executor()};
  std::uint64_t write_generation_ = 0;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::unique_ptr<Request> request_;
  const RouteEntry* route_ = nullptr;
  std::vector<Bytes> peer_chain_;
  std::string remote_;
  State state_ = State::Handshake;
  bool stop_requested_ = false;
  bool keep_alive_ = false;
  bool is_head_ = false;
  bool counted_in_flight_ = false;
  int response_status_ = 0;
  std::uint64_t response_bytes_ = 0;
  Clock::time_point request_start_;
  std::string request_id_, method_name_, route_label_, path_for_log_;
  Clock::time_point linger_deadline_;
  std::size_t drained_ = 0;
  std::array<char, 4096> drain_buf_{};
};

}  // namespace

void HttpServer::Impl::do_accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  if (!ec) {
    if (stopping) {
      socket.close(ec);
    } else if (conn_count() >= config.max_connections) {
      connections_rejected->inc();
      socket.close(ec);
    } else {
      if (tls_ctx) {
        try {
          auto c = std::make_shared<Connection<TlsStream>>(*this, std::move(socket));
          register_conn(c);
          c->start();
        } catch (const std::exception& e) {
          // Out of memory in OpenSSL, say: drop this connection, keep accepting.
          log::warn("http.connection_failed", {{"error", e.what()}});
        }
      } else {
        auto c = std::make_shared<Connection<beast::tcp_stream>>(*this, std::move(socket));
        register_conn(c);
        c->start();
      }
    }
  } else {
    log::warn("http.accept_failed", {{"error", ec.message()}});
  }
  if (!stopping) do_accept();
}

void HttpServer::Impl::stop() {
  std::lock_guard stop_lock(stop_mutex);
  if (!started || stopped) return;
  stopping = true;
  // 1. Stop accepting (on the acceptor's strand).
  {
    std::promise<void> done;
    asio::post(acceptor->get_executor(), [&] {
      beast::error_code ec;
      acceptor->close(ec);
      done.set_value();
    });
    done.get_future().wait();
  }
  if (signals) {
    std::promise<void> done;
    asio::post(signals->get_executor(), [&] {
      beast::error_code ec;
      signals->cancel(ec);
      done.set_value();
    });
    done.get_future().wait();
  }
  // 2. Idle connections close now; busy ones finish their current request.
  for (auto& c : live_conns()) {
    asio::post(c->executor(), [c] { c->on_server_stop(); });
  }
  if (!wait_conns_empty(config.shutdown_grace)) {
    log::warn("http.shutdown_grace_expired", {{"connections", conn_count()}});
    for (auto& c : live_conns()) {
      asio::post(c->executor(), [c] { c->force_close(); });
    }
  }
  // 3. Handlers still running (after a forced close) complete; their posts find closed
  // connections.
  workers->join();
  wait_conns_empty(std::chrono::seconds(5));
  work.reset();
  {
    std::unique_lock lock(io_exit_mutex);
    if (!io_exit_cv.wait_for(lock, std::chrono::seconds(5), [&] { return io_running == 0; })) {
      ioc.stop();
    }
  }
  for (auto& t : io_threads) t.join();
  io_threads.clear();
  signals.reset();
  acceptor.reset();
  stopped = true;
  log::info("http.stopped", {{"port", bound_port.load()}});
}

// ---------------------------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

HttpServer::~HttpServer() {
  try {
    stop();
  } catch (...) {
  }
}

void HttpServer::route(Method method, std::string pattern, Handler handler, RouteOptions options) {
  if (impl_->started) throw Error("http.bad_route", "routes must be added before start()");
  RoutePattern compiled(std::move(pattern));
  for (const auto& r : impl_->routes) {
    if (r.method == method && r.pattern.text() == compiled.text()) {
      throw Error("http.bad_route", "duplicate route " + std::string(to_string(method)) + " " +
                                        compiled.text());
    }
  }
  impl_->routes.push_back(RouteEntry{method, std::move(compiled), std::move(handler), options});
}

void HttpServer::start() {
  auto& im = *impl_;
  if (im.started) return;
  if (!im.config.tls && !im.config.allow_plaintext) {
    throw Error("http.tls_required",
                "no TLS certificate configured (plain HTTP must be enabled explicitly)");
  }
  if (im.config.tls) im.tls_ctx = make_server_tls_context(*im.config.tls);

  auto has_route = [&](Method m, std::string_view p) {
    for (const auto& r : im.routes) {
      if (r.method == m && r.pattern.text() == p) return true;
    }
    return false;
  };
  if (im.config.enable_healthz && !has_route(Method::Get, "/healthz")) {
    route(Method::Get, "/healthz", [](Request&) { return Response::json(200, R"({"status":"ok"})"); });
  }
  if (im.config.enable_metrics && !has_route(Method::Get, "/metrics")) {
    auto registry = im.config.metrics;
    route(Method::Get, "/metrics", [registry](Request&) {
      return Response::text(200, registry->render(), std::string(kPrometheusContentType));
    });
  }

  beast::error_code ec;
  const auto address = asio::ip::make_address(im.config.address, ec);
  if (ec) throw Error("http.bind", "invalid listen address '" + im.config.address + "'");
  const tcp::endpoint endpoint(address, im.config.port);
  im.acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(im.ioc));
  auto fail = [&](std::string_view what) {
    im.acceptor.reset();
    throw Error("http.bind", std::string(what) + " " + im.config.address + ":" +
                                 std::to_string(im.config.port) + ": " + ec.message());
  };
  im.acceptor->open(endpoint.protocol(), ec);
  if (ec) fail("cannot open socket for");
  im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (address.is_v6()) im.acceptor->set_option(asio::ip::v6_only(false), ec);
  im.acceptor->bind(endpoint, ec);
  if (ec) fail("cannot bind");
  im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on");
  im.bound_port = im.acceptor->local_endpoint().port();

  im.workers = std::make_unique<asio::thread_pool>(im.config.worker_threads);
  im.work.emplace(im.ioc.get_executor());
  im.do_accept();
  im.io_running = im.config.io_threads;
  for (unsigned i = 0; i < im.config.io_threads; ++i) {
    im.io_threads.emplace_back([&im] {
      for (;;) {
        try {
          im.ioc.run();
          break;
        } catch (const std::exception& e) {
          log::error("http.io_thread_exception", {{"error", e.what()}});
        }
      }
      std::lock_guard lock(im.io_exit_mutex);
      --im.io_running;
      im.io_exit_cv.notify_all();
    });
  }
  im.started = true;
  log::info("http.listening", {{"address", im.config.address},
                               {"port", im.bound_port.load()},
                               {"tls", static_cast<bool>(im.tls_ctx)}});
}

std::uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::stop() { impl_->stop(); }

void HttpServer::run() {
  auto& im = *impl_;
  start();
  {
    std::promise<void> armed;
    im.signals = std::make_unique<asio::signal_set>(asio::make_strand(im.ioc), SIGINT, SIGTERM);
    asio::post(im.signals->get_executor(), [&] {
      im.signals->async_wait([this](beast::error_code ec, int signo) {
        if (ec) return;
        log::info("http.signal", {{"signal", signo}});
        request_stop();
      });
      armed.set_value();
    });
    armed.get_future().wait();
  }
  {
    std::unique_lock lock(im.run_mutex);
    im.run_cv.wait(lock, [&] { return im.stop_requested; });
  }
  stop();
}

void HttpServer::request_stop() {
  std::lock_guard lock(impl_->run_mutex);
  impl_->stop_requested = true;
  impl_->run_cv.notify_all();
}

MetricsRegistry& HttpServer::metrics() { return *impl_->config.metrics; }
const ServerConfig& HttpServer::config() const { return impl_->config; }

}  // namespace enarx::net
