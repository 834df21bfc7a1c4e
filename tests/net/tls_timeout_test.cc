// Misbehaving TLS clients: the server's TLS layer (src/net/tls_stream.h) must keep every
// timeout of the plain-HTTP path, so a slow or silent client cannot pin a connection: not in
// the handshake, not mid-header, not by refusing to read a response.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "net/http_server.h"
#include "test_pki.h"

namespace enarx::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ServerConfig tls_config() { return testing::tls_server_config(); }

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server closes `fd` within `timeout` (EOF or reset; data is drained).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[16384];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    if (::recv(fd, buf, sizeof buf, 0) <= 0) return true;
  }
}

// A blocking TLS client on a raw socket (no verification: these tests are about the server's
// timeouts, not trust).
class TlsClient {
 public:
  explicit TlsClient(std::uint16_t port) : fd_(connect_to(port)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ok_ = fd_ >= 0 && SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  bool write(const std::string& s) { return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) > 0; }
  // Reads until the server closes (or `timeout`); returns the plaintext and whether it closed.
  std::pair<std::string, bool> read_until_close(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buf[16384];
    while (true) {
      if (SSL_pending(ssl_) == 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return {out, false};
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {out, false};
      }
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return {out, true};
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

bool connections_drop_to_zero(HttpServer& server, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (server.metrics().render().find("\nhttp_connections_active 0\n") != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(HttpServerTls, SilentAndStalledHandshakesAreTimedOut) {
  ServerConfig c = tls_config();
  c.handshake_timeout = 300ms;
  HttpServer server(c);
  server.start();
  // Connects and never says hello.
  const int silent = connect_to(server.port());
  ASSERT_GE(silent, 0);
  const auto t0 = Clock::now();
  EXPECT_TRUE(closed_within(silent, 5s));
  EXPECT_GE(Clock::now() - t0, 250ms);
  ::close(silent);
  // Half a ClientHello (a record header promising more), then nothing.
  const int stalled = connect_to(server.port());
  ASSERT_GE(stalled, 0);
  const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  ASSERT_EQ(::send(stalled, partial, sizeof partial, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof partial));
  EXPECT_TRUE(closed_within(stalled, 5s));
  ::close(stalled);
  // Not TLS at all: refused, the server stays up.
  const int garbage = connect_to(server.port());
  ASSERT_GE(garbage, 0);
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)::send(garbage, http.data(), http.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(closed_within(garbage, 5s));
  ::close(garbage);
  EXPECT_NE(server.metrics().render().find("http_tls_handshake_failures_total 3"), std::string::npos)
      << server.metrics().render();
  TlsClient fine(server.port());
  ASSERT_TRUE(fine.ok());
  ASSERT_TRUE(fine.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto [out, closed] = fine.read_until_close(5s);
  EXPECT_TRUE(closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
}

// handshake_timeout counts from the accept: a client that waits most of it before its first
// bytes and then stalls mid-ClientHello is closed when it runs out, not one timeout later (the
// wait for the first bytes and the handshake are separate steps on different threads).
TEST(HttpServerTls, TheHandshakeTimeoutCountsFromTheAccept) {
  ServerConfig c = tls_config();
  c.handshake_timeout = 600ms;
  c.io_threads = 2;
  HttpServer server(c);
  server.start();
  const int late = connect_to(server.port());
  ASSERT_GE(late, 0);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(400ms);
  const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  ASSERT_EQ(::send(late, partial, sizeof partial, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof partial));
  EXPECT_TRUE(closed_within(late, 5s));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, 550ms);
  EXPECT_LT(took, 900ms) << "closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms: the handshake got a second timeout";
  ::close(late);
}

TEST(HttpServerTls, SlowHeaderIsTimedOut) {
  ServerConfig c = tls_config();
  c.header_timeout = 300ms;
  HttpServer server(c);
  server.start();
  TlsClient s(server.port());
  ASSERT_TRUE(s.ok());
  const auto t0 = Clock::now();
  ASSERT_TRUE(s.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  auto [out, closed] = s.read_until_close(5s);
  EXPECT_TRUE(closed);
  EXPECT_EQ(out, "");  // no response, just closed
  EXPECT_GE(Clock::now() - t0, 250ms);
  EXPECT_LT(Clock::now() - t0, 3s);
}

TEST(HttpServerTls, ClientThatDoesNotReadIsTimedOut) {
  ServerConfig c = tls_config();
  c.write_timeout = 500ms;
  HttpServer server(c);
  // Far more than the socket buffers on both sides hold, so the server's writes block.
  const std::string big(64u << 20, 'x');
  server.get("/big", [&](Request&) { return Response::bytes(200, big); });
  server.start();
  TlsClient s(server.port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Never read: the write deadline must close the connection and finish the request.
  EXPECT_TRUE(connections_drop_to_zero(server, 10s)) << server.metrics().render();
  EXPECT_NE(server.metrics().render().find("\nhttp_requests_in_flight 0\n"), std::string::npos)
      << server.metrics().render();
}

TEST(HttpServerTls, KeepAliveRequestsAndLargeBodiesRoundTrip) {
  HttpServer server(tls_config());
  std::string big(3u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  server.get("/big", [&](Request&) { return Response::bytes(200, big); });
  server.post("/len", [](Request& r) { return Response::text(200, std::to_string(r.body.size())); });
  server.start();
  TlsClient s(server.port());
  ASSERT_TRUE(s.ok());
  const std::string body(100000, 'b');
  // Two requests in one write (pipelined), the second closing the connection.
  ASSERT_TRUE(s.write("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body + "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto [out, closed] = s.read_until_close(10s);
  EXPECT_TRUE(closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(out.find("\r\n\r\n100000HTTP/1.1 200"), std::string::npos);
  ASSERT_GE(out.size(), big.size());
  EXPECT_EQ(out.substr(out.size() - big.size()), big);
}

}  // namespace
}  // namespace enarx::net
