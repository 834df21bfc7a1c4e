// Internal (src/net only): the lowest layer under TlsStream — a TCP socket with one deadline.
//
// It offers the part of beast::tcp_stream's interface HttpServer uses (expires_after,
// expires_never, close, socket()), with the same effect on expiry: the socket is closed, so the
// pending operation fails (operation_aborted) and so does every later one. That is what stops a
// slow client from pinning a connection. Unlike tcp_stream the deadline is not attached to
// individual read/write calls, which lets TlsStream wait for readiness on the raw socket
// (async_wait) while OpenSSL does the reading and writing itself.
//
// All calls, and the deadline's handler, run on the socket's executor (the connection strand).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace enarx::net {

class TimedSocket {
 public:
  using executor_type = boost::asio::any_io_executor;

  explicit TimedSocket(boost::asio::ip::tcp::socket&& socket)
      : state_(std::make_shared<State>(std::move(socket))) {}
  ~TimedSocket() {
    if (state_) close();
  }
  TimedSocket(TimedSocket&&) = default;
  TimedSocket& operator=(TimedSocket&&) = delete;
  TimedSocket(const TimedSocket&) = delete;
  TimedSocket& operator=(const TimedSocket&) = delete;

  executor_type get_executor() { return state_->socket.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return state_->socket; }

  // Closes the socket when `d` has passed, unless expires_* or close() is called first.
  void expires_after(std::chrono::steady_clock::duration d) {
    const auto generation = ++state_->generation;
    state_->timer.expires_after(d);
    // The handler shares the state, so it stays valid even if this object is gone by then.
    state_->timer.async_wait([state = state_, generation](const boost::system::error_code& ec) {
      // A wait that already expired can be queued when the deadline is moved: the generation
      // tells it apart from the current one.
      if (ec || state->generation != generation) return;
      boost::system::error_code ignored;
      state->socket.close(ignored);
    });
  }

  void expires_never() {
    ++state_->generation;
    state_->timer.cancel();
  }

  void close() {
    expires_never();
    boost::system::error_code ignored;
    state_->socket.close(ignored);
  }

 private:
  struct State {
    explicit State(boost::asio::ip::tcp::socket&& s)
        : socket(std::move(s)), timer(socket.get_executor()) {}
    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer timer;
    std::uint64_t generation = 0;
  };
  std::shared_ptr<State> state_;
};

}  // namespace enarx::net
