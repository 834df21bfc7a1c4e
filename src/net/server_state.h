// Internal to src/net: what the accept loop (http_server.cc) and the connection state machine
// (http_connection.cc) share — the server's state, the connection registry used for the caps,
// eviction and shutdown, the body buffer budget and the worker queue. Not for other libraries.
#pragma once

#include <sys/ioctl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "net/http_server.h"
#include "net/metrics.h"
#include "net/router.h"

namespace enarx::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace detail {

struct RouteEntry {
  Method method;
  RoutePattern pattern;
  Handler handler;
  RouteOptions options;
  AsyncHandler async_handler{};  // instead of `handler`, for route_async's routes
};

// How far a connection has come; when a cap is reached, the lowest stage (then the oldest) makes
// room. An Established connection (it sent a complete request header) is never evicted.
enum class Stage { Connected = 0, Receiving = 1, Secured = 2, Established = 3 };

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Called (on the connection's I/O thread) when the server starts shutting down.
  virtual void on_server_stop() = 0;
  // Called (on its I/O thread) when the grace period is over, or to make room for a newcomer.
  virtual void force_close() = 0;
  virtual asio::any_io_executor executor() = 0;
  // Sends an asynchronous handler's answer (posted to its I/O thread; any thread may call).
  // Only connections with a request have one; a doorway (no bytes yet) ignores it.
  virtual void answer(Response) {}
};

// The connections whose asynchronous handler has not answered yet. The server holds them here,
// not the Responders: a Responder that outlives the server (held by a queue that drains late)
// then finds the gate closed and touches nothing of the server's.
class AsyncGate {
 public:
  // A place for `c`'s answer; 0 once the gate is closed.
  std::uint64_t wait_for_answer(std::shared_ptr<ConnectionBase> c) {
    std::lock_guard lock(mu_);
    if (!open_) return 0;
    const std::uint64_t id = ++next_id_;
    waiting_.emplace(id, std::move(c));
    return id;
  }
  // The connection waiting under `id` (nullptr: answered already, or the gate is closed).
  std::shared_ptr<ConnectionBase> take(std::uint64_t id) {
    std::shared_ptr<ConnectionBase> c;
    {
      std::lock_guard lock(mu_);
      auto it = waiting_.find(id);
      if (it == waiting_.end()) return nullptr;
      c = std::move(it->second);
      waiting_.erase(it);
    }
    return c;
  }
  // Closes the gate; returns the connections still waiting (their answers will be dropped), for
  // the caller to release while the server lives.
  std::vector<std::shared_ptr<ConnectionBase>> close() {
    std::lock_guard lock(mu_);
    open_ = false;
    std::vector<std::shared_ptr<ConnectionBase>> left;
    for (auto& [id, c] : waiting_) left.push_back(std::move(c));
    waiting_.clear();
    return left;
  }

 private:
  std::mutex mu_;
  bool open_ = true;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<ConnectionBase>> waiting_;
};

// The cap key of a client address: IPv4 (also v4-mapped IPv6) per address, IPv6 per /64, since
// one host commonly holds a whole /64.
inline std::string client_key(const asio::ip::address& address) {
  if (address.is_v6()) {
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return address.to_string();
}

// Request body bytes held in memory, across all connections.
class BufferBudget {
 public:
  BufferBudget(std::uint64_t limit, Gauge* gauge) : limit_(limit), gauge_(gauge) {}
  std::uint64_t limit() const { return limit_; }
  bool take(std::uint64_t n) {
    auto used = used_.load();
    do {
      if (n > limit_ || used > limit_ - n) return false;
    } while (!used_.compare_exchange_weak(used, used + n));
    gauge_->set({}, static_cast<double>(used + n));
    return true;
  }
  void give(std::uint64_t n) {
    const auto before = used_.fetch_sub(n);
    gauge_->set({}, static_cast<double>(before - n));
  }

 private:
  const std::uint64_t limit_;
  Gauge* gauge_;
  std::atomic<std::uint64_t> used_{0};
};

}  // namespace detail

struct HttpServer::Impl {
  using ConnectionBase = detail::ConnectionBase;
  using Stage = detail::Stage;
  using BufferBudget = detail::BufferBudget;

  explicit Impl(ServerConfig c) : config(std::move(c)) {
    if (config.io_threads == 0) config.io_threads = 1;
    if (config.worker_threads == 0) config.worker_threads = 1;
    if (config.max_connections == 0) config.max_connections = 1;
    if (!config.metrics) config.metrics = std::make_shared<MetricsRegistry>();
    auto& m = *config.metrics;
    requests_total = &m.counter("http_requests_total", "HTTP requests answered",
                                {"method", "route", "status"});
    request_duration = &m.histogram("http_request_duration_seconds",
                                    "Time from complete request header to response sent",
                                    {"method", "route"});
    in_flight = &m.gauge("http_requests_in_flight", "Requests being read, handled or answered");
    queued = &m.gauge("http_requests_queued", "Requests and header checks waiting for a worker");
    connections_active = &m.gauge("http_connections_active", "Open client connections");
    connections_rejected = &m.counter("http_connections_rejected_total",
                                      "Connections closed at once because a connection cap was reached");
    connections_evicted = &m.counter("http_connections_evicted_total",
                                     "Connections that had sent no request, closed to make room");
    tls_failures = &m.counter("http_tls_handshake_failures_total",
                              "TLS handshakes that failed or whose peer chain was rejected");
    budget.emplace(config.max_buffered_bytes,
                   &m.gauge("http_request_body_bytes_buffered", "Request body bytes held in memory"));
  }

  ServerConfig config;
  std::vector<detail::RouteEntry> routes;
  Counter* requests_total = nullptr;
  Histogram* request_duration = nullptr;
  Gauge* in_flight = nullptr;
  Gauge* queued = nullptr;
  Gauge* connections_active = nullptr;
  Counter* connections_rejected = nullptr;
  Counter* connections_evicted = nullptr;
  Counter* tls_failures = nullptr;
  std::optional<BufferBudget> budget;
  std::atomic<std::size_t> queue_length{0};

  std::shared_ptr<ssl::context> tls_ctx;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::mutex stop_mutex;  // serializes stop()
  std::atomic<std::uint16_t> bound_port{0};

  // Connections: for the caps, eviction and shutdown. Entries are removed by the connection's
  // destructor; an evicted entry no longer counts against the caps (its socket is being closed).
  struct ConnEntry {
    std::weak_ptr<ConnectionBase> conn;
    std::string key;       // client_key()
    std::uint64_t order;   // accept order
    int fd;                // to see whether a Connected one has bytes waiting
    Stage stage = Stage::Connected;
    bool evicted = false;
  };
  std::mutex conns_mutex;
  std::condition_variable conns_cv;
  std::unordered_map<ConnectionBase*, ConnEntry> conns;
  std::unordered_map<std::string, std::size_t> per_key;  // counted connections per client key
  std::size_t counted = 0;                                // entries not evicted
  std::uint64_t accept_order = 0;

  // run() / request_stop().
  std::mutex run_mutex;
  std::condition_variable run_cv;
  bool stop_requested = false;

  std::mutex io_exit_mutex;
  std::condition_variable io_exit_cv;
  unsigned io_running = 0;

  // Destroyed in reverse order: threads are joined and the acceptor/signal set are released in
  // stop() before the io_context goes away.
  // One io_context per I/O thread, each run by its own thread; the first also runs the acceptor,
  // the doorways and the signal set. A connection stays on the context it was handed to, so I/O
  // threads never share a scheduler: with one context run by two threads, its lock and the
  // connections' strands were contended on every completion (a small GET cost ~1.7x the CPU;
  // docs/drawbridge.md "Benchmark").
  // (Declared before `ioc`, so destroyed after it: handlers still queued on `ioc` may hold a
  // connection whose socket belongs to another context.)
  std::vector<std::unique_ptr<asio::io_context>> more_iocs;  // io_threads - 1 of them
  asio::io_context ioc{1};
  std::size_t next_ioc = 0;  // round robin, on the acceptor's thread only
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::io_context& context_for_next_connection() {
    const std::size_t i = next_ioc++ % (more_iocs.size() + 1);
    return i == 0 ? ioc : *more_iocs[i - 1];
  }
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_pause;
  std::unique_ptr<asio::signal_set> signals;
  std::unique_ptr<asio::thread_pool> workers;
  std::shared_ptr<detail::AsyncGate> async_gate = std::make_shared<detail::AsyncGate>();
  std::vector<std::thread> io_threads;

  // Takes a slot for `c` from client `key`, closing connections that have not proved themselves
  // yet when a cap is in the way. False: every connection in the way is established; refuse.
  bool admit(const std::shared_ptr<ConnectionBase>& c, const std::string& key, int fd) {
    std::vector<std::shared_ptr<ConnectionBase>> victims;
    bool admitted = false;
    {
      std::lock_guard lock(conns_mutex);
      const std::size_t per_key_cap = config.max_connections_per_ip;
      auto it = per_key.find(key);
      const bool key_full = per_key_cap > 0 && it != per_key.end() && it->second >= per_key_cap;
      // (An eviction for the key also frees a slot of the global count.)
      admitted = (!key_full || evict_one(&key, victims)) &&
                 (counted < config.max_connections || evict_one(nullptr, victims));
      if (admitted) {
        conns.emplace(c.get(), ConnEntry{c, key, ++accept_order, fd});
        ++per_key[key];
        ++counted;
        connections_active->set({}, static_cast<double>(conns.size()));
      }
    }
    // Marked evicted means no longer counted: close them whatever became of the newcomer.
    for (auto& v : victims) {
      connections_evicted->inc();
      if (runs_on_acceptor_thread(*v)) {
        v->force_close();  // this thread alone runs `ioc`, so no handler of `v` is running now
      } else {
        asio::post(v->executor(), [v] { v->force_close(); });
      }
    }
    return admitted;
  }

  bool runs_on_acceptor_thread(ConnectionBase& c) {
    return &asio::query(c.executor(), asio::execution::context) == &ioc;
  }

  // Marks the least advanced, then oldest, connection below Established (of `key`, or of any
  // client) as evicted. Under conns_mutex.
  bool evict_one(const std::string* key, std::vector<std::shared_ptr<ConnectionBase>>& victims) {
    ConnEntry* best = nullptr;
    for (;;) {
      best = nullptr;
      for (auto& [p, e] : conns) {
        if (e.evicted || e.stage == Stage::Established) continue;
        if (key && e.key != *key) continue;
        if (!best || std::pair(e.stage, e.order) < std::pair(best->stage, best->order)) best = &e;
      }
      if (!best || best->stage != Stage::Connected || !bytes_waiting(best->fd)) break;
      // Its first bytes (a ClientHello) are here, its strand just has not run yet: during a
      // burst of accepts that can take a while, and a real client must not lose its place to
      // the silent sockets that keep arriving.
      best->stage = Stage::Receiving;
    }
    if (!best) return false;
    auto victim = best->conn.lock();
    if (!victim) return false;  // being destroyed: its destructor frees the slot
    best->evicted = true;
    uncount(best->key);
    victims.push_back(std::move(victim));
    return true;
  }

  static bool bytes_waiting(int fd) {
    int n = 0;
    return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
  }

  void uncount(const std::string& key) {
    --counted;
    auto it = per_key.find(key);
    if (it != per_key.end() && --it->second == 0) per_key.erase(it);
  }

  void set_stage(ConnectionBase* c, Stage stage) {
    std::lock_guard lock(conns_mutex);
    auto it = conns.find(c);
    if (it != conns.end() && it->second.stage < stage) it->second.stage = stage;
  }

  // The connection `c` takes over the place of `doorway` (hand_over()); false when the doorway
  // is no longer registered (closed by shutdown), and `c` is then to be dropped.
  bool replace_conn(ConnectionBase* doorway, const std::shared_ptr<ConnectionBase>& c) {
    std::lock_guard lock(conns_mutex);
    auto it = conns.find(doorway);
    if (it == conns.end() || stopping) return false;
    ConnEntry entry = std::move(it->second);
    conns.erase(it);
    entry.conn = c;
    if (entry.stage < Stage::Receiving) entry.stage = Stage::Receiving;
    conns.emplace(c.get(), std::move(entry));
    return true;
  }

  void unregister_conn(ConnectionBase* c) {
    std::lock_guard lock(conns_mutex);
    auto it = conns.find(c);
    if (it == conns.end()) return;
    if (!it->second.evicted) uncount(it->second.key);
    conns.erase(it);
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
    for (auto& [p, e] : conns) {
      if (auto s = e.conn.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  bool wait_conns_empty(std::chrono::milliseconds timeout) {
    std::unique_lock lock(conns_mutex);
    return conns_cv.wait_for(lock, timeout, [&] { return conns.empty(); });
  }

  // A place in the worker queue; false when max_queued_requests are already waiting.
  bool enqueue() {
    auto n = queue_length.load();
    do {
      if (n >= config.max_queued_requests) return false;
    } while (!queue_length.compare_exchange_weak(n, n + 1));
    queued->set({}, static_cast<double>(n + 1));
    return true;
  }
  void dequeue() {
    const auto before = queue_length.fetch_sub(1);
    queued->set({}, static_cast<double>(before - 1));
  }

  void do_accept();
  void on_accept(boost::system::error_code ec, tcp::socket socket);
  // A doorway's socket has bytes: it becomes a connection on the next I/O thread.
  void hand_over(ConnectionBase* doorway, tcp::socket socket, std::chrono::steady_clock::time_point handshake_deadline);
  void stop();
};

// One asynchronous handler's answer: sent once, through the gate (so never after the server
// has stopped); a handler that drops it unanswered gets 500.
struct Responder::State {
  State(std::shared_ptr<detail::AsyncGate> gate, std::uint64_t id) : gate_(std::move(gate)), id_(id) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (answered_.load()) return;
    log::error("http.handler_unanswered", {{"detail", "an asynchronous handler dropped its responder"}});
    answer(Response::error(500, "http.internal", "internal error"));
  }
  void answer(Response response) {
    if (answered_.exchange(true)) return;
    if (auto c = gate_->take(id_)) c->answer(std::move(response));
  }

 private:
  std::shared_ptr<detail::AsyncGate> gate_;
  std::uint64_t id_;
  std::atomic<bool> answered_{false};
};

namespace detail {

// A connection for a socket that has sent its first bytes (TLS when the server has a context),
// not started yet; `start` begins its handshake (to finish by `handshake_deadline`) or its first
// read. Throws when OpenSSL cannot make one.
std::shared_ptr<ConnectionBase> make_connection(HttpServer::Impl& server, tcp::socket socket,
                                                std::chrono::steady_clock::time_point handshake_deadline,
                                                std::function<void()>& start);

}  // namespace detail
}  // namespace enarx::net
