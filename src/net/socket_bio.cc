#include "net/socket_bio.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace enarx::net {
namespace {

int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

bool retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

int sock_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  const auto n = ::send(fd_of(b), data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && retryable(errno)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int sock_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  const auto n = ::recv(fd_of(b), data, static_cast<std::size_t>(len), 0);
  if (n < 0 && retryable(errno)) BIO_set_retry_read(b);
  return static_cast<int>(n);  // 0 = the peer closed: OpenSSL turns it into EOF
}

long sock_ctrl(BIO*, int cmd, long, void*) {
  // libssl flushes after handshake flights; there is nothing buffered here. Everything else
  // (kTLS queries, pending counts) is "not supported", as for BIO_s_socket.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int sock_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "enarx-socket");
    if (meth) {
      BIO_meth_set_write(meth, sock_write);
      BIO_meth_set_read(meth, sock_read);
      BIO_meth_set_ctrl(meth, sock_ctrl);
      BIO_meth_set_create(meth, sock_create);
    }
    return meth;
  }();
  return m;
}

}  // namespace

BIO* new_socket_bio(int fd) {
  BIO_METHOD* m = method();
  if (!m) return nullptr;
  BIO* b = BIO_new(m);
  if (b) BIO_set_data(b, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  return b;
}

}  // namespace enarx::net
