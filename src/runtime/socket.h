// Host side of the workload's network file descriptors: listening sockets bound before the
// workload starts, outgoing connections made at start-up, and TLS terminated by the runtime with
// the workload identity (OpenSSL), so the guest only ever sees plaintext and never the key.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace enarx::runtime {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// The workload's identity for TLS: the steward-issued chain (deploy) or a self-signed one
// (`enarx run`). PEM; the key is a secret and never reaches wasm memory.
struct Identity {
  std::string cert_chain_pem;  // leaf first
  std::string key_pem;
};

// A self-signed identity as Enarx makes one without a Steward: P-256 key, CN=localhost,
// 16-byte random serial, valid one year, KeyUsage digitalSignature|keyEncipherment (critical),
// BasicConstraints CA:false (critical), EKU serverAuth+clientAuth.
Identity self_signed_identity();

// Server and client TLS contexts as Enarx configures rustls: TLS 1.3 only, AES-256-GCM,
// AES-128-GCM, ChaCha20-Poly1305; groups X25519, P-384, P-256; no client authentication on the
// server; the client verifies the server against `ca_pem` only (no system store) and presents
// the identity as its client certificate. Throw Error("runtime.tls.identity"/"runtime.tls.ca").
std::shared_ptr<SSL_CTX> make_server_tls(const Identity& id);
std::shared_ptr<SSL_CTX> make_client_tls(const Identity& id, const std::string& ca_pem);

// WASI-level results of stream operations (errno values of WASI preview1).
struct IoResult {
  std::uint16_t error = 0;  // 0 = ok
  std::size_t bytes = 0;
};

// A connected byte stream (plain TCP or TLS over TCP). The host socket is always non-blocking;
// blocking semantics for the guest are emulated with poll() bounded by the deadline.
class Stream {
 public:
  // Takes ownership of `fd`. With `tls`, the handshake has already completed.
  Stream(int fd, std::shared_ptr<SSL> tls);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // `block`: wait for data (bounded by `deadline`); otherwise EAGAIN when none is ready.
  // Throws GuestTimeout when the deadline passes while waiting.
  IoResult read(std::uint8_t* buf, std::size_t len, bool block, const Deadline& deadline);
  IoResult write(const std::uint8_t* buf, std::size_t len, bool block, const Deadline& deadline);
  std::uint16_t shutdown(bool rd, bool wr);
  int fd() const { return fd_; }
  bool is_tls() const { return tls_ != nullptr; }
  // Buffered plaintext that poll() on the socket would not report.
  bool has_pending() const;

 private:
  int fd_;
  std::shared_ptr<SSL> tls_;
  bool eof_ = false;
};

// The host descriptor behind a workload's stdout or stderr (not owned). A blocking write() waits
// for the reader (a pipe, a terminal, a socket nobody drains) as long as the reader pleases, past
// any time limit; here every wait is a poll() bounded by the deadline, as for a Stream:
//   socket: send(MSG_DONTWAIT).
//   pipe or terminal: writes go through a non-blocking open file description of its own
//     (/proc/self/fd/N opened again), so O_NONBLOCK is never set on the description the parent
//     shares. Where that cannot be opened, at most PIPE_BUF bytes are written after POLLOUT,
//     which never blocks on a Linux pipe (it may on a terminal with less room than that).
//   anything else (a regular file, /dev/null): write(), which waits for no reader.
class HostOutput {
 public:
  explicit HostOutput(int fd);
  ~HostOutput();
  HostOutput(const HostOutput&) = delete;
  HostOutput& operator=(const HostOutput&) = delete;

  // Writes some of buf. `block`: wait for room (bounded by `deadline`, then GuestTimeout);
  // otherwise EAGAIN when there is none.
  IoResult write(const std::uint8_t* buf, std::size_t len, bool block, const Deadline& deadline);
  int fd() const { return fd_; }

 private:
  enum class Mode { Plain, Socket, Reopened, Chunked };
  int fd_;
  int own_ = -1;  // Reopened
  Mode mode_ = Mode::Plain;
};

// Writes `text` to a host descriptor for at most `wait` and drops what has not gone by then: the
// runtime's own last words, on an output the workload may have filled.
void write_within(int fd, std::string_view text, std::chrono::milliseconds wait);

// Bounds of a TLS listener's handshakes, which run on its own thread (see Listener).
struct HandshakeLimits {
  // From the TCP accept to the end of the handshake; a slower client is dropped.
  std::chrono::milliseconds timeout{10'000};
  // Connections accepted from the kernel and not yet queued (handshaking, or finished and
  // waiting for room in the queue). At the bound new connections wait in the kernel backlog.
  std::size_t max_pending = 64;
  // Finished connections waiting for the workload's sock_accept. When full, no new connection
  // is accepted from the kernel either.
  std::size_t max_queued = 64;
};

class Listener {
 public:
  // Binds and listens on addr:port ("::" also accepts IPv4); a TLS listener starts its handshake
  // thread. Throws Error("runtime.net.bind").
  Listener(const std::string& addr, std::uint16_t port, std::shared_ptr<SSL_CTX> tls,
           HandshakeLimits limits = {});
  // A TLS listener stops and joins its thread and closes every connection not handed out.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::uint16_t port() const { return port_; }
  // What poll_oneoff waits on for "sock_accept will not block": the listening socket (TCP), or
  // an eventfd that is readable while a connection with a finished handshake is queued (TLS).
  int poll_fd() const;
  bool is_tls() const { return tls_ != nullptr; }
  // Accepts one connection. TLS: hands out a connection whose handshake has finished on the
  // listener's thread (one that fails or times out there is dropped and never seen here), so
  // a slow client never holds up the workload. `block` waits up to `deadline` (GuestTimeout).
  std::unique_ptr<Stream> accept(bool block, const Deadline& deadline, std::uint16_t* error);

 private:
  class Handshaker;

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::shared_ptr<SSL_CTX> tls_;
  std::unique_ptr<Handshaker> handshaker_;  // TLS only
};

// Connects to host:port ("localhost" means 127.0.0.1; other names use the host resolver) and,
// with `tls`, completes the handshake with SNI and host-name verification.
// Throws Error("runtime.net.connect") / Error("runtime.tls.handshake").
std::unique_ptr<Stream> connect_stream(const std::string& host, std::uint16_t port,
                                       std::shared_ptr<SSL_CTX> tls, const Deadline& deadline);

}  // namespace enarx::runtime
