#include "net/tls_stream.h"

#include <openssl/err.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>

#include "core/error.h"
#include "net/socket_bio.h"

namespace enarx::net {

namespace asio = boost::asio;

TlsStream::TlsStream(asio::ip::tcp::socket&& socket, asio::ssl::context& ctx)
    : socket_(std::move(socket)) {
  error_code ec;
  // OpenSSL's reads and writes must return EAGAIN instead of blocking an I/O thread.
  socket_.socket().non_blocking(true, ec);
  if (ec) throw Error(ErrorKind::kInternal, "tls.internal", "cannot make the socket non-blocking: " + ec.message());
  ssl_ = SSL_new(ctx.native_handle());
  BIO* bio = ssl_ ? new_socket_bio(socket_.socket().native_handle()) : nullptr;
  if (!bio) {
    SSL_free(ssl_);
    ERR_clear_error();
    throw Error(ErrorKind::kInternal, "tls.internal", "cannot create the TLS connection");
  }
  SSL_set_bio(ssl_, bio, bio);  // one reference, owned by ssl_ from here on
  SSL_set_accept_state(ssl_);
  // The same modes Asio's engine sets: SSL_write returns after each record and may be retried
  // from a moved buffer; idle connections give their 2 x 17 KiB record buffers back.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  // Read what the socket has (up to a record buffer) in one recv instead of a 5-byte header
  // and then the record.
  SSL_set_read_ahead(ssl_, 1);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

char* TlsStream::staging() {
  if (!staging_) staging_ = std::make_unique_for_overwrite<char[]>(kRecord);
  return staging_.get();
}

TlsStream::Next TlsStream::handshake_step(error_code& ec) {
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL reads it
  const int ret = SSL_do_handshake(ssl_);
  const int err = errno;
  return ret == 1 ? Next::Done : after(ret, err, ec);
}

TlsStream::Next TlsStream::read_step(asio::mutable_buffer b, error_code& ec, std::size_t& n) {
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL reads it
  const int ret = SSL_read_ex(ssl_, b.data(), b.size(), &n);
  const int err = errno;
  return ret == 1 ? Next::Done : after(ret, err, ec);
}

TlsStream::Next TlsStream::write_step(asio::const_buffer chunk, error_code& ec, std::size_t& written) {
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  const int ret = SSL_write_ex(ssl_, chunk.data(), chunk.size(), &n);
  const int err = errno;
  if (ret == 1) {
    written += n;
    return Next::Done;
  }
  return after(ret, err, ec);
}

TlsStream::Next TlsStream::after(int ret, int err, error_code& ec) {
  const int code = SSL_get_error(ssl_, ret);
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return Next::WaitRead;
    case SSL_ERROR_WANT_WRITE:
      return Next::WaitWrite;
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;  // close_notify
      break;
    case SSL_ERROR_SYSCALL:
      // A socket error, or (OpenSSL 1.1 style) EOF without close_notify.
      ec = err != 0 ? error_code(err, boost::system::system_category())
                    : error_code(asio::ssl::error::stream_truncated);
      break;
    default: {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = asio::ssl::error::stream_truncated;  // the peer closed without close_notify
      } else if (e != 0) {
        ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
      } else {
        ec = error_code(asio::error::connection_aborted);
      }
      break;
    }
  }
  // The error queue is per thread and shared by every connection on this I/O thread.
  ERR_clear_error();
  return Next::Done;
}

}  // namespace enarx::net
