// Internal (src/net only): an OpenSSL BIO that reads and writes a non-blocking TCP socket.
//
// Like BIO_s_socket, but it writes with send(MSG_NOSIGNAL): a peer that has gone away must
// give EPIPE, not a SIGPIPE that kills the server (the process may not ignore SIGPIPE, and
// Asio's own sends avoid it the same way). EAGAIN/EINTR set the BIO's retry flags, which
// OpenSSL reports as SSL_ERROR_WANT_READ / SSL_ERROR_WANT_WRITE.
#pragma once

#include <openssl/bio.h>

namespace enarx::net {

// A new BIO on `fd` (not owned: closing the socket stays the caller's job). Null on failure.
BIO* new_socket_bio(int fd);

}  // namespace enarx::net
