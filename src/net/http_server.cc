// HttpServer on Boost.Asio: the accept loop with its connection caps, start-up and graceful
// shutdown. Each accepted socket becomes a connection (http_connection.cc); the state both
// share is server_state.h.
//
// Threads: `io_threads` run the io_context (accept, TLS, parsing, writing); request handlers
// run on a separate thread pool and post their Response back to the connection's strand.
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

void HttpServer::Impl::do_accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
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
  std::shared_ptr<ConnectionBase> conn;
  std::function<void()> start_conn;
  try {
    conn = detail::make_connection(*this, std::move(socket), start_conn);
  } catch (const std::exception& e) {
    // Out of memory in OpenSSL, say: drop this connection, keep accepting.
    log::warn("http.connection_failed", {{"error", e.what()}});
  }
  if (conn) {
    if (admit(conn, key, fd)) {
      start_conn();
    } else {
      connections_rejected->inc();  // the connection's destructor closes the socket
    }
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

void HttpServer::route(Method method, std::string pattern, Handler handler, RouteOptions options) {
  if (impl_->started) throw Error(ErrorKind::kInternal, "http.bad_route", "routes must be added before start()");
  RoutePattern compiled(std::move(pattern));
  for (const auto& r : impl_->routes) {
    if (r.method == method && r.pattern.text() == compiled.text()) {
      throw Error(ErrorKind::kInternal, "http.bad_route", "duplicate route " + std::string(to_string(method)) + " " +
                                        compiled.text());
    }
  }
  impl_->routes.push_back(detail::RouteEntry{method, std::move(compiled), std::move(handler), options});
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
