// The connection state machine: TLS handshake, request header parsing, routing, header-time
// checks, body reading (buffered or into a sink), handing the request to a worker, writing the
// response (in memory or streamed from a file), keep-alive, timeouts and the lingering close.
// The accept loop, caps and shutdown are in http_server.cc; their shared state in server_state.h.
//
// Style: completion callbacks (the Beast "advanced server" shape), not C++20 coroutines.
// Boost 1.74's awaitable support predates as_tuple/cancellation slots, so per-operation
// timeouts and "error is data" handling would need exceptions or extra plumbing, and GCC 12's
// coroutine frames interact poorly with ASan in some cases. Each connection is a small state
// machine whose handlers all run on the one I/O thread it was handed to, which keeps lifetimes explicit
// (shared_from_this) and easy to audit for the sanitizer build.
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <functional>
#include <thread>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/log.h"
#include "net/server_state.h"
#include "net/tls_context.h"
#include "net/tls_stream.h"

namespace enarx::net::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// Request ids only correlate log lines and answers, so they need to be unique, not secret: a
// per-thread generator seeded once from OpenSSL, instead of RAND_bytes (a lock and a getpid()
// system call) on every request.
std::string make_request_id() {
  struct Generator {
    std::uint64_t state = 0;
    Generator() {
      if (RAND_bytes(reinterpret_cast<unsigned char*>(&state), sizeof state) != 1)
        state = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
      state ^= std::hash<std::thread::id>{}(std::this_thread::get_id());
    }
    std::uint64_t next() {  // splitmix64
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    }
  };
  thread_local Generator generator;
  unsigned char b[16];
  const std::uint64_t hi = generator.next(), lo = generator.next();
  std::memcpy(b, &hi, 8);
  std::memcpy(b + 8, &lo, 8);
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


// Parses a request straight into a Request: the start line, at most `max_fields` header fields
// (Request::headers; Beast's own message would keep a second copy), and the body into
// Request::body — every byte charged to the server's buffer budget first — or into the route's
// RequestBodySink.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  RequestParser(Request& request, std::size_t max_fields, BufferBudget& budget, std::uint64_t& charge)
      : request_(request), max_fields_(max_fields), budget_(budget), charge_(charge) {}

  const std::string& method_string() const { return method_; }
  bool too_many_fields() const { return too_many_fields_; }
  bool over_budget() const { return over_budget_; }
  bool sink_failed() const { return sink_failed_; }
  void set_sink(std::shared_ptr<RequestBodySink> sink) { sink_ = std::move(sink); }

 private:
  void on_request_impl(bhttp::verb, beast::string_view method, beast::string_view target, int,
                       beast::error_code&) override {
    method_.assign(method.data(), method.size());
    request_.target.assign(target.data(), target.size());
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = bhttp::error::bad_version;  // never called for a request parser
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code& ec) override {
    if (++fields_ > max_fields_) {
      too_many_fields_ = true;
      ec = bhttp::error::header_limit;
      return;
    }
    request_.headers.add(std::string(name.data(), name.size()), std::string(value.data(), value.size()));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    // The connection charged the announced length before the body was read.
    if (!sink_ && length && *length <= charge_) request_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view data, beast::error_code& ec) override { return take(data, ec); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view data, beast::error_code& ec) override {
    return take(data, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  std::size_t take(beast::string_view data, beast::error_code& ec) {
    if (sink_) {
      try {
        sink_->write(data.data(), data.size());
      } catch (const std::exception& e) {
        log::error("http.body_sink_failed", {{"request_id", request_.request_id}, {"error", e.what()}});
        sink_failed_ = true;
        ec = asio::error::fault;
        return 0;
      }
      return data.size();
    }
    const std::uint64_t need = request_.body.size() + data.size();
    if (need > charge_) {
      // A chunked body: charged as it grows.
      if (!budget_.take(need - charge_)) {
        over_budget_ = true;
        ec = asio::error::no_buffer_space;
        return 0;
      }
      charge_ = need;
    }
    request_.body.append(data.data(), data.size());
    return data.size();
  }

  Request& request_;
  const std::size_t max_fields_;
  BufferBudget& budget_;
  std::uint64_t& charge_;
  std::shared_ptr<RequestBodySink> sink_;
  std::string method_;
  std::size_t fields_ = 0;
  bool too_many_fields_ = false;
  bool over_budget_ = false;
  bool sink_failed_ = false;
};

Response overloaded(std::string_view message) {
  Response r = Response::error(503, "http.overloaded", message);
  r.headers.set("Retry-After", "1");
  return r;
}

// Maps what a handler or header check threw to the response (HttpError as is, other enarx
// errors by their kind, anything else 500 without details).
template <typename F>
auto run_guarded(const std::string& request_id, const std::string& route,
                 F&& f, std::optional<Response>& failure) -> decltype(f()) {
  try {
    return f();
  } catch (const HttpError& e) {
    const int status = e.status() >= 400 && e.status() <= 599 ? e.status() : 500;
    failure = Response::error(status, e.code(), e.what());
  } catch (const Error& e) {
    const int status = http_status(e.kind());
    if (status >= 500) {
      log::error("http.handler_error", {{"request_id", request_id}, {"route", route},
                                        {"code", e.code()}, {"error", e.what()}});
      failure = Response::error(status, e.code(), "internal error");
    } else {
      failure = Response::error(status, e.code(), e.what());
    }
  } catch (const std::exception& e) {
    log::error("http.handler_exception", {{"request_id", request_id}, {"route", route}, {"error", e.what()}});
    failure = Response::error(500, "http.internal", "internal error");
  } catch (...) {
    log::error("http.handler_exception", {{"request_id", request_id}, {"route", route}});
    failure = Response::error(500, "http.internal", "internal error");
  }
  return {};
}

template <typename Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Connection(HttpServer::Impl& srv, tcp::socket&& socket, Clock::time_point handshake_deadline)
      : srv_(srv), stream_(make_stream(srv, std::move(socket))), handshake_deadline_(handshake_deadline) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                                     : ep.address().to_string() + ":" + std::to_string(ep.port());
    }
  }

  ~Connection() override {
    release_body_charge();
    srv_.unregister_conn(this);
  }

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
  enum class State { Handshake, Idle, ReadingHeader, Checking, ReadingBody, Handling, Writing, Closing, Closed };

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
      // The doorway waited for the ClientHello's first bytes; handshake_timeout counts from the
      // accept, so waiting there and handshaking here take it once, not twice.
      tcp_layer().expires_after(std::max(handshake_deadline_ - Clock::now(), Clock::duration::zero()));
      stream_.async_handshake([self = this->shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
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
    srv_.set_stage(this, Stage::Secured);
    wait_for_request(true);
  }

  // Waits for the first byte of the next request (idle_timeout between keep-alive requests,
  // header_timeout for a fresh connection), then reads the header under header_timeout.
  void wait_for_request(bool first) {
    if (srv_.stopping || stop_requested_) return close_now();
    if (buffer_.size() > 0) return read_header();
    state_ = State::Idle;
    // An idle connection keeps no read buffer (a large body's reads grew it to 64 KiB).
    buffer_.shrink_to_fit();
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
    request_ = std::make_unique<Request>();
    parser_.emplace(*request_, srv_.config.max_header_fields, *srv_.budget, body_charge_);
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
        if (parser_->too_many_fields()) {
          return send_error(431, "http.too_many_headers",
                            "more than " + std::to_string(srv_.config.max_header_fields) + " header fields", true);
        }
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
    srv_.set_stage(this, Stage::Established);
    Request& req = *request_;
    const auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.remote_address = remote_;
    req.request_id = request_id_;
    req.peer_chain_der = peer_chain_;
    method_name_ = parser_->method_string();
    path_for_log_ = req.path.size() > 512 ? req.path.substr(0, 512) : req.path;
    has_body_ = parser_->content_length().value_or(0) > 0 || parser_->chunked();

    const auto method = parse_method(method_name_);
    std::vector<std::string> segments;
    const PathError perr = split_path(req.path, segments);
    if (perr != PathError::None) {
      return send_error(400, perr == PathError::BadEncoding ? "http.bad_encoding" : "http.bad_path",
                        "malformed request path", has_body_);
    }
    RouteMatch m = find_route(srv_.routes, method, segments);
    if (!method) {
      return send_error(501, "http.not_implemented", "method not implemented", has_body_);
    }
    if (m.kind == RouteMatch::NotFound) {
      return send_error(404, "http.not_found", "no such resource", has_body_);
    }
    if (m.kind == RouteMatch::MethodNotAllowed) {
      std::string allow;
      for (const auto& a : m.allow) allow += (allow.empty() ? "" : ", ") + a;
      Response r = Response::error(405, "http.method_not_allowed",
                                   "method " + method_name_ + " not allowed here");
      r.headers.set("Allow", allow);
      return send(std::move(r), has_body_);
    }
    route_ = &srv_.routes[m.index];
    req.method = *method;
    req.params = std::move(m.params);
    req.route = route_->pattern.text();
    route_label_ = req.route;
    is_head_ = *method == Method::Head;

    // A route with a header check authenticates first: a caller it refuses learns nothing about
    // the route's limits. read_body_as applies the limit either way.
    if (route_->options.on_header) return check_header();
    read_body_as(HeaderDecision{});
  }

  // The route's header check, on the worker pool; the body waits (unread) for its decision.
  void check_header() {
    state_ = State::Checking;
    tcp_layer().expires_never();
    if (!srv_.enqueue()) return send(overloaded("too many requests waiting"), has_body_);
    asio::post(*srv_.workers, [self = this->shared_from_this()] {
      self->srv_.dequeue();
      std::optional<Response> failure;
      HeaderDecision decision = run_guarded(
          self->request_id_, self->route_label_,
          [&] { return self->route_->options.on_header(*self->request_); }, failure);
      if (failure) decision = HeaderDecision{std::move(failure)};
      asio::post(self->stream_.get_executor(), [self, d = std::move(decision)]() mutable {
        if (self->state_ == State::Closed) return self->finish_request(499, 0);
        if (d.response) return self->send(std::move(*d.response), self->has_body_);
        self->read_body_as(std::move(d));
      });
    });
  }

  void read_body_as(HeaderDecision decision) {
    std::uint64_t limit = route_->options.max_body_size.value_or(srv_.config.max_body_size);
    if (decision.max_body_size) limit = std::min(limit, *decision.max_body_size);
    const auto length = parser_->content_length();
    if (length && *length > limit) {
      return send_error(413, "http.body_too_large",
                        "request body exceeds " + std::to_string(limit) + " bytes", true);
    }
    parser_->body_limit(limit);  // enforced for chunked bodies while parsing
    if (decision.sink) {
      parser_->set_sink(decision.sink);
      request_->body_sink = std::move(decision.sink);
    } else if (length && *length > 0) {
      // Charged before a byte is read, so a body that cannot be held is refused unread.
      if (*length > srv_.budget->limit()) {
        return send_error(413, "http.body_too_large",
                          "request body exceeds the server's " + std::to_string(srv_.budget->limit()) +
                              " byte buffer",
                          true);
      }
      if (!srv_.budget->take(*length)) return send(overloaded("request buffers are full"), true);
      body_charge_ = *length;
    }
    if (parser_->is_done()) return dispatch();
    const auto expect = request_->header("Expect");
    if (expect && bhttp::token_list(*expect).exists("100-continue")) {
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
                        if (ec && self->parser_->over_budget()) {
                          return self->send(overloaded("request buffers are full"), true);
                        }
                        if (ec && self->parser_->sink_failed()) {
                          return self->send_error(500, "http.internal", "internal error", true);
                        }
                        if (ec) return self->close_now();
                        self->dispatch();
                      });
  }

  void start_request_bookkeeping() {
    request_start_ = Clock::now();
    request_id_ = make_request_id();
    if (request_) request_->request_id = request_id_;
    srv_.in_flight->inc();
    counted_in_flight_ = true;
    method_name_.clear();
    route_label_.clear();
    path_for_log_.clear();
    is_head_ = false;
    has_body_ = false;
    route_ = nullptr;
  }

  // Runs the handler on the worker pool and sends its response back on this strand.
  void dispatch() {
    state_ = State::Handling;
    tcp_layer().expires_never();
    keep_alive_ = parser_->keep_alive();
    parser_.reset();
    if (route_->options.fast_path && !has_body_) {
      std::optional<Response> failure;
      std::optional<Response> answer = run_guarded(
          request_id_, route_label_, [&] { return route_->options.fast_path(*request_); }, failure);
      if (failure) return send(std::move(*failure), false);
      if (answer) return send(std::move(*answer), false);
    }
    if (!srv_.enqueue()) return send(overloaded("too many requests waiting"), false);
    if (route_->async_handler) return dispatch_async();
    asio::post(*srv_.workers, [self = this->shared_from_this()] {
      self->srv_.dequeue();
      std::optional<Response> failure;
      Response response = run_guarded(
          self->request_id_, self->route_label_,
          [&] { return self->route_->handler(*self->request_); }, failure);
      if (failure) response = std::move(*failure);
      asio::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
        self->send(std::move(r), false);
      });
    });
  }

  // An asynchronous handler starts on the worker pool; its Responder sends the answer later.
  void dispatch_async() {
    asio::post(*srv_.workers, [self = this->shared_from_this()] {
      self->srv_.dequeue();
      const std::uint64_t id = self->srv_.async_gate->wait_for_answer(self);
      if (id == 0) return self->answer(Response::error(503, "http.stopping", "the server is stopping"));
      auto state = std::make_shared<Responder::State>(self->srv_.async_gate, id);
      std::optional<Response> failure;
      run_guarded(
          self->request_id_, self->route_label_,
          [&] {
            self->route_->async_handler(*self->request_, Responder(state));
            return true;
          },
          failure);
      if (failure) state->answer(std::move(*failure));
    });
  }

  void answer(Response response) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), r = std::move(response)]() mutable {
      self->send(std::move(r), false);
    });
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
    if (srv_.config.access_log && log::enabled(log::Level::Info)) {
      log::info("http.access",
                {{"method", method}, {"path", path_for_log_}, {"route", route}, {"status", status},
                 {"bytes", bytes},
                 {"duration_us",
                  std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()},
                 {"remote", remote_}, {"request_id", request_id_}});
    }
    parser_.reset();
    request_.reset();
    release_body_charge();
  }

  void release_body_charge() {
    if (body_charge_ > 0) srv_.budget->give(std::exchange(body_charge_, 0));
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
    const bool was_handling = state_ == State::Handling || state_ == State::Checking;
    state_ = State::Closed;
    ++write_generation_;
    write_timer_.cancel();
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer().close();
    // Its descriptor is free now: it no longer counts as open, though handlers still pending
    // for it (cancelled reads, timers) keep this object until they have run.
    srv_.unregister_conn(this);
    // A request being checked or handled finishes its bookkeeping when that returns (send()).
    if (!was_handling && counted_in_flight_) finish_request(response_status_ ? response_status_ : 499, 0);
  }

  HttpServer::Impl& srv_;
  Stream stream_;
  Clock::time_point handshake_deadline_;
  asio::steady_timer write_timer_{stream_.get_executor()};
  std::uint64_t write_generation_ = 0;
  // Bounded: a header is parsed within max_header_size, a body is consumed as it is read, so
  // only a never-ending chunk-size line or trailer could fill it — it then fails the request.
  beast::flat_buffer buffer_{srv_.config.max_header_size + 64 * 1024};
  std::unique_ptr<Request> request_;
  std::optional<RequestParser> parser_;  // refers to *request_ and body_charge_
  std::uint64_t body_charge_ = 0;        // taken from the buffer budget for this request
  const RouteEntry* route_ = nullptr;
  std::vector<Bytes> peer_chain_;
  std::string remote_;
  State state_ = State::Handshake;
  bool stop_requested_ = false;
  bool keep_alive_ = false;
  bool is_head_ = false;
  bool has_body_ = false;
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

std::shared_ptr<ConnectionBase> make_connection(HttpServer::Impl& server, tcp::socket socket,
                                                std::chrono::steady_clock::time_point handshake_deadline,
                                                std::function<void()>& start) {
  if (server.tls_ctx) {
    auto c = std::make_shared<Connection<TlsStream>>(server, std::move(socket), handshake_deadline);
    start = [c] { c->start(); };
    return c;
  }
  auto c = std::make_shared<Connection<beast::tcp_stream>>(server, std::move(socket), handshake_deadline);
  start = [c] { c->start(); };
  return c;
}

}  // namespace enarx::net::detail
