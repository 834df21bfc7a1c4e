// Internal (src/net only): server-side TLS over a non-blocking socket, the way nginx does it.
//
// Why not asio::ssl::stream: its engine puts a 17 KiB memory BIO pair between OpenSSL and the
// socket, so every 16 KiB record is copied once more and costs one asynchronous write (a
// completion through the strand). Here OpenSSL reads and writes the socket itself
// (socket_bio.h); the stream only waits for readiness (async_wait) when OpenSSL says
// SSL_ERROR_WANT_READ / WANT_WRITE. A 256 KiB file chunk thus goes out in one operation of
// sixteen send()s. Timeouts come from the lowest layer (TimedSocket), which closes the socket.
//
// It is a Beast AsyncReadStream / AsyncWriteStream: async_read_some, async_write_some,
// get_executor(), next_layer() (so beast::get_lowest_layer() finds the TimedSocket), plus
// async_handshake() and native_handle() for the peer chain. No TLS shutdown is sent
// (HttpServer never did: it closes or half-closes the TCP connection). Completion handlers are
// never called from inside the initiating function. All use is on one strand; one read and one
// write at most at a time.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <cstddef>
#include <memory>
#include <type_traits>

#include "net/timed_socket.h"

namespace enarx::net {

class TlsStream {
 public:
  using executor_type = TimedSocket::executor_type;
  using next_layer_type = TimedSocket;
  using error_code = boost::system::error_code;

  // Throws Error("tls.internal") if OpenSSL cannot make the connection object.
  TlsStream(boost::asio::ip::tcp::socket&& socket, boost::asio::ssl::context& ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  TimedSocket& next_layer() { return socket_; }
  SSL* native_handle() { return ssl_; }

  // Handler: void(error_code).
  template <class Handler>
  auto async_handshake(Handler&& handler) {
    return start<void(error_code)>([this](error_code& ec, std::size_t&) { return handshake_step(ec); },
                                   std::forward<Handler>(handler));
  }

  // Handler: void(error_code, std::size_t). Fills the first non-empty buffer with what one
  // SSL_read gives (at most one record).
  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return start<void(error_code, std::size_t)>(
        [this, buffers](error_code& ec, std::size_t& n) {
          for (auto it = boost::asio::buffer_sequence_begin(buffers);
               it != boost::asio::buffer_sequence_end(buffers); ++it) {
            const boost::asio::mutable_buffer b = *it;
            if (b.size() > 0) return read_step(b, ec, n);
          }
          return Next::Done;
        },
        std::forward<Handler>(handler));
  }

  // Handler: void(error_code, std::size_t). Writes as much of `buffers` as the socket takes
  // without blocking (at least one byte unless it fails).
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return start<void(error_code, std::size_t)>(
        [this, buffers](error_code& ec, std::size_t& written) {
          return write_some(buffers, ec, written);
        },
        std::forward<Handler>(handler));
  }

 private:
  enum class Next { Done, WaitRead, WaitWrite };
  // Plaintext per TLS record: the most one SSL_write turns into one record.
  static constexpr std::size_t kRecord = 16 * 1024;

  Next handshake_step(error_code& ec);
  Next read_step(boost::asio::mutable_buffer b, error_code& ec, std::size_t& n);
  // One SSL_write of `chunk`; adds what was accepted to `written`.
  Next write_step(boost::asio::const_buffer chunk, error_code& ec, std::size_t& written);
  // What to do after an OpenSSL call returned `ret` (errno `err` right after it); sets `ec` on
  // failure.
  Next after(int ret, int err, error_code& ec);
  char* staging();

  template <class ConstBuffers>
  Next write_some(const ConstBuffers& buffers, error_code& ec, std::size_t& written) {
    boost::beast::buffers_suffix<ConstBuffers> rest(buffers);
    rest.consume(written);
    for (std::size_t left = boost::beast::buffer_bytes(rest); left > 0;
         left = boost::beast::buffer_bytes(rest)) {
      const boost::asio::const_buffer first = *boost::asio::buffer_sequence_begin(rest);
      boost::asio::const_buffer chunk = first;
      if (first.size() < kRecord && left > first.size()) {
        // A small piece followed by more (an HTTP header, then the body): one record for both
        // instead of a tiny record and a send() of its own. After WANT_WRITE the caller comes
        // back with the same bytes, so the copy is the same and OpenSSL's retry rule holds.
        const std::size_t n =
            boost::asio::buffer_copy(boost::asio::buffer(staging(), kRecord), rest);
        chunk = boost::asio::const_buffer(staging(), n);
      }
      const std::size_t before = written;
      const Next next = write_step(chunk, ec, written);
      if (ec) return Next::Done;
      // Blocked: report the progress made (the caller continues), or wait if there is none.
      if (next != Next::Done) return written > 0 ? Next::Done : next;
      rest.consume(written - before);
    }
    return Next::Done;
  }

  // Drives `step` (one OpenSSL call; returns what to wait for) until it is done or fails.
  template <class Signature, class Step, class Handler>
  auto start(Step step, Handler&& handler) {
    constexpr bool kWithSize = !std::is_same_v<Signature, void(error_code)>;
    return boost::asio::async_compose<Handler, Signature>(Op<Step, kWithSize>{this, std::move(step)},
                                                          handler, get_executor());
  }

  template <class Step, bool kWithSize>
  struct Op {
    TlsStream* stream;
    Step step;
    error_code result{};
    std::size_t bytes = 0;
    bool waited = false;
    bool finished = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      if (!finished) {
        if (!ec && !stream->socket_.socket().is_open()) {
          // Closed (deadline or close_now): OpenSSL must not touch the descriptor number,
          // which another connection may own by now.
          ec = boost::asio::error::bad_descriptor;
        }
        if (ec) {
          result = ec;
        } else {
          const Next next = step(result, bytes);
          if (next != Next::Done) {
            waited = true;
            stream->socket_.socket().async_wait(next == Next::WaitRead
                                                    ? boost::asio::socket_base::wait_read
                                                    : boost::asio::socket_base::wait_write,
                                                std::move(self));
            return;
          }
        }
        if (!waited) {
          // Done without ever waiting: complete as if posted, like Asio's own operations
          // (Beast's loops would otherwise recurse once per call).
          finished = true;
          boost::asio::post(stream->get_executor(), std::move(self));
          return;
        }
      }
      if constexpr (kWithSize) {
        self.complete(result, bytes);
      } else {
        self.complete(result);
      }
    }
  };

  TimedSocket socket_;
  SSL* ssl_ = nullptr;
  std::unique_ptr<char[]> staging_;
};

}  // namespace enarx::net
