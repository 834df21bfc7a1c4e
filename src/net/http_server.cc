// HttpServer on Boost.Asio: the accept loop with its connection caps, start-up and graceful
// shutdown. Each accepted socket waits in a Doorway until it sends its first bytes, then becomes
// a connection (http_connection.cc); the state both share is server_state.h.
//
// Threads: `io_threads` each run an io_context of their own. The first accepts, and holds the
// sockets that have sent nothing yet (the ones a cap evicts first, so that it can close them at
// once); a socket that speaks is handed to the I/O threads round robin and stays there for TLS,
// parsing and writing. Request handlers run on a separate thread pool and post their Response
// back to the connection's thread.
#include "net/http_server.h"

#include <sys/resource.h>

#include <csignal>
#include <future>

#include "core/log.h"
#include "net/server_state.h"
#include "net/tls_context.h"

namespace enarx::net {

using detail::client_key;
using error_code = boost::system::error_code;

namespace {

// An accepted socket that has not sent a byte yet. It lives on the acceptor's thread, so that
// admit() can close it at once when a cap needs room: under a flood of silent sockets (tens of
// thousands of evictions a second) closes posted to other I/O threads fell behind and the
// sockets waiting for them piled up far past the caps.
class Doorway : public detail::ConnectionBase, public std::enable_shared_from_this<Doorway> {
 public:
  Doorway(HttpServer::Impl& srv, tcp::socket socket)
      : srv_(srv),
        socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        handshake_deadline_(std::chrono::steady_clock::now() + srv.config.handshake_timeout) {}
  ~Doorway() override { srv_.unregister_conn(this); }

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  void on_server_stop() override { close(); }
  void force_close() override { close(); }

  void start() {
    // A TLS client speaks first (ClientHello) within the handshake timeout, a plain one within
    // the header timeout.
    deadline_.expires_at(srv_.tls_ctx ? handshake_deadline_ : std::chrono::steady_clock::now() + srv_.config.header_timeout);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->closed_) return;
      if (self->srv_.tls_ctx) self->srv_.tls_failures->inc();
      log::debug("http.silent_client", {{"error", "nothing received before the deadline"}});
      self->close();
    });
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      if (self->closed_) return;
      if (ec) return self->close();
      self->closed_ = true;
      self->deadline_.cancel();
      self->srv_.hand_over(self.get(), std::move(self->socket_), self->handshake_deadline_);
    });
  }

 private:
  void close() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    error_code ec;
    socket_.close(ec);
    srv_.unregister_conn(this);
  }

  HttpServer::Impl& srv_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  std::chrono::steady_clock::time_point handshake_deadline_;
  bool closed_ = false;
};

}  // namespace

void HttpServer::Impl::do_accept() {
  acceptor->async_accept(ioc, [this](error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::Impl::hand_over(ConnectionBase* doorway, tcp::socket socket,
                                 std::chrono::steady_clock::time_point handshake_deadline) {
  asio::io_context& target = context_for_next_connection();
  if (&target != &ioc) {
    // A socket cannot change event loops: its descriptor moves to a socket of the target's.
    error_code ec;
    const auto protocol = socket.local_endpoint(ec).protocol();
    const int fd = ec ? -1 : socket.release(ec);
    if (ec || fd < 0) {
      log::warn("http.hand_over_failed", {{"error", ec.message()}});
      unregister_conn(doorway);
      return;
    }
    socket = tcp::socket(target, protocol, fd);
  }
  std::shared_ptr<ConnectionBase> conn;
  std::function<void()> start_conn;
  try {
    conn = detail::make_connection(*this, std::move(socket), handshake_deadline, start_conn);
  } catch (const std::exception& e) {
    // Out of memory in OpenSSL, say: drop this connection (its socket closed with it).
    log::warn("http.connection_failed", {{"error", e.what()}});
    unregister_conn(doorway);
    return;
  }
  if (replace_conn(doorway, conn)) start_conn();
}

void HttpServer::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) {
    log::warn("http.accept_failed", {{"error", ec.message()}});
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory) {
      // The connection stays in the backlog: accepting again at once would fail again at once
      // (a busy loop). Pause; closing connections frees descriptors meanwhile.
      accept_pause->expires_after(std::chrono::milliseconds(100));
      accept_pause->async_wait([this](error_code wait_ec) {
        if (!wait_ec && !stopping) do_accept();
      });
      return;
    }
    if (!stopping) do_accept();
    return;
  }
  if (stopping) {
    socket.close(ec);
    return;
  }
  std::string key;
  {
    error_code ep_ec;
    const auto ep = socket.remote_endpoint(ep_ec);
    key = ep_ec ? std::string("?") : client_key(ep.address());
  }
  const int fd = socket.native_handle();
  auto doorway = std::make_shared<Doorway>(*this, std::move(socket));
  if (admit(doorway, key, fd)) {
    doorway->start();
  } else {
    connections_rejected->inc();  // the doorway's destructor closes the socket
  }
  do_accept();
}

void HttpServer::Impl::stop() {
  std::lock_guard stop_lock(stop_mutex);
  if (!started || stopped) return;
  stopping = true;
  // 1. Stop accepting (on the acceptor's strand).
  {
    std::promise<void> done;
    asio::post(acceptor->get_executor(), [&] {
      error_code ec;
      acceptor->close(ec);
      accept_pause->cancel();
      done.set_value();
    });
    done.get_future().wait();
  }
  if (signals) {
    std::promise<void> done;
    asio::post(signals->get_executor(), [&] {
      error_code ec;
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
  // Asynchronous handlers' answers still to come: none once every connection finished within
  // the grace; after it, their connections are closed and the answers have nowhere to go. Those
  // connections are released here, while the server still exists.
  async_gate->close();
  wait_conns_empty(std::chrono::seconds(5));
  work.clear();
  {
    std::unique_lock lock(io_exit_mutex);
    if (!io_exit_cv.wait_for(lock, std::chrono::seconds(5), [&] { return io_running == 0; })) {
      ioc.stop();
      for (auto& c : more_iocs) c->stop();
    }
  }
  for (auto& t : io_threads) t.join();
  io_threads.clear();
  signals.reset();
  accept_pause.reset();
  acceptor.reset();
  stopped = true;
  log::info("http.stopped", {{"port", bound_port.load()}});
}

namespace {

// Each connection is a descriptor (and may have a file open while a body streams to disk or a
// response streams from it): a soft limit of 1024 would fail accept() well before
// max_connections. Raised as far as the hard limit allows; below what is wanted it is logged.
void raise_descriptor_limit(std::size_t max_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = static_cast<rlim_t>(max_connections) * 2 + 256;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    log::warn("http.descriptor_limit", {{"limit", static_cast<std::uint64_t>(rl.rlim_cur)},
                                        {"wanted", static_cast<std::uint64_t>(want)}});
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

HttpServer::~HttpServer() {
  try {
    stop();
  } catch (...) {
  }
}

namespace {

void add_route(HttpServer::Impl& im, detail::RouteEntry entry) {
  if (im.started) throw Error(ErrorKind::kInternal, "http.bad_route", "routes must be added before start()");
  for (const auto& r : im.routes) {
    if (r.method == entry.method && r.pattern.text() == entry.pattern.text()) {
      throw Error(ErrorKind::kInternal, "http.bad_route",
                  "duplicate route " + std::string(to_string(entry.method)) + " " + entry.pattern.text());
    }
  }
  im.routes.push_back(std::move(entry));
}

}  // namespace

void HttpServer::route(Method method, std::string pattern, Handler handler, RouteOptions options) {
  add_route(*impl_, detail::RouteEntry{method, RoutePattern(std::move(pattern)), std::move(handler), options});
}

void HttpServer::route_async(Method method, std::string pattern, AsyncHandler handler, RouteOptions options) {
  add_route(*impl_, detail::RouteEntry{method, RoutePattern(std::move(pattern)), {}, options, std::move(handler)});
}

void Responder::operator()(Response response) const {
  if (state_) state_->answer(std::move(response));
}

void HttpServer::start() {
  auto& im = *impl_;
  if (im.started) return;
  if (!im.config.tls && !im.config.allow_plaintext) {
    throw Error(ErrorKind::kInvalidInput, "http.tls_required",
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

  error_code ec;
  const auto address = asio::ip::make_address(im.config.address, ec);
  if (ec) throw Error(ErrorKind::kInternal, "http.bind", "invalid listen address '" + im.config.address + "'");
  const tcp::endpoint endpoint(address, im.config.port);
  im.acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(im.ioc));
  auto fail = [&](std::string_view what) {
    im.acceptor.reset();
    throw Error(ErrorKind::kInternal, "http.bind", std::string(what) + " " + im.config.address + ":" +
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
  im.accept_pause = std::make_unique<asio::steady_timer>(im.acceptor->get_executor());
  raise_descriptor_limit(im.config.max_connections);

  im.workers = std::make_unique<asio::thread_pool>(im.config.worker_threads);
  const unsigned threads = std::max(1u, im.config.io_threads);
  im.more_iocs.clear();
  for (unsigned i = 1; i < threads; ++i) im.more_iocs.push_back(std::make_unique<asio::io_context>(1));
  im.work.clear();
  im.work.push_back(asio::make_work_guard(im.ioc));
  for (auto& c : im.more_iocs) im.work.push_back(asio::make_work_guard(*c));
  im.do_accept();
  im.io_running = threads;
  for (unsigned i = 0; i < threads; ++i) {
    asio::io_context& context = i == 0 ? im.ioc : *im.more_iocs[i - 1];
    im.io_threads.emplace_back([&im, &context] {
      for (;;) {
        try {
          context.run();
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
      im.signals->async_wait([this](error_code ec, int signo) {
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
