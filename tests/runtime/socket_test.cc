// The runtime's TLS listener (src/runtime/socket.cc) on its own: handshakes run on the
// listener's thread within their bounds (timeout, pending handshakes, queued connections),
// accept() and the poll descriptor only ever see finished handshakes, the workload's deadline
// still ends a blocking accept, and destroying the listener closes every connection it holds.
#include "runtime/socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <string>

#include "runtime/engine.h"
#include "support/process.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kAgain = 6;

int ms(Clock::duration d) {
  return static_cast<int>(
      std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

bool readable(int fd, std::chrono::milliseconds within) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(within.count())) == 1;
}

// True when the peer closes `fd` (EOF or reset) within `within`; data is drained.
bool closed_within(int fd, std::chrono::milliseconds within) {
  auto until = Clock::now() + within;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms(until - Clock::now())) != 1) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
}

std::shared_ptr<SSL_CTX> server_ctx() {
  static const Identity id = self_signed_identity();
  return make_server_tls(id);
}

// A TLS client on a non-blocking socket: a test starts its handshake and checks on it later.
class Client {
 public:
  explicit Client(std::uint16_t port)
      : fd_(test::connect_local(port)), ctx_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const { return fd_; }
  // Drives the handshake for up to `within`; true once the client side has finished.
  bool handshake(std::chrono::milliseconds within) {
    auto until = Clock::now() + within;
    for (;;) {
      int r = SSL_connect(ssl_);
      if (r == 1) return true;
      int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return false;
      if (Clock::now() >= until) return false;
      pollfd p{fd_, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      ::poll(&p, 1, ms(until - Clock::now()) + 1);
    }
  }
  // The first plaintext that arrives within `within`.
  std::string read(std::chrono::milliseconds within) {
    auto until = Clock::now() + within;
    char buf[256];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
      if (SSL_get_error(ssl_, n) != SSL_ERROR_WANT_READ || Clock::now() >= until) return {};
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, ms(until - Clock::now()) + 1);
    }
  }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
};

std::unique_ptr<Stream> accept_now(Listener& l) {
  std::uint16_t err = 0;
  auto s = l.accept(false, std::nullopt, &err);
  EXPECT_EQ(err, s ? 0 : kAgain);
  return s;
}

TEST(TlsListener, AcceptAndPollSeeOnlyFinishedHandshakes) {
  Listener l("127.0.0.1", 0, server_ctx());
  int silent = test::connect_local(l.port());
  ASSERT_GE(silent, 0);
  // A TCP connection alone makes the listener neither readable nor acceptable.
  EXPECT_FALSE(readable(l.poll_fd(), 200ms));
  EXPECT_EQ(accept_now(l), nullptr);

  Client c(l.port());
  ASSERT_TRUE(c.handshake(5s));
  ASSERT_TRUE(readable(l.poll_fd(), 5s));
  auto s = accept_now(l);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->is_tls());
  const std::string hi = "hi from the workload";
  IoResult w = s->write(reinterpret_cast<const std::uint8_t*>(hi.data()), hi.size(), true, {});
  EXPECT_EQ(w.error, 0);
  EXPECT_EQ(c.read(5s), hi);
  EXPECT_FALSE(readable(l.poll_fd(), 0ms));  // nothing more queued
  EXPECT_EQ(accept_now(l), nullptr);

  // A blocking accept still ends at the workload's deadline.
  std::uint16_t err = 0;
  auto t0 = Clock::now();
  EXPECT_THROW(l.accept(true, Clock::now() + 200ms, &err), GuestTimeout);
  EXPECT_GE(Clock::now() - t0, 190ms);
  ::close(silent);
}

TEST(TlsListener, FailedAndTimedOutHandshakesAreDropped) {
  HandshakeLimits limits;
  limits.timeout = 300ms;
  Listener l("127.0.0.1", 0, server_ctx(), limits);
  int silent = test::connect_local(l.port());
  int garbage = test::connect_local(l.port());
  ASSERT_GE(silent, 0);
  ASSERT_GE(garbage, 0);
  auto t0 = Clock::now();
  const std::string http = "GET / HTTP/1.0\r\n\r\n";  // not TLS: fails at once
  ASSERT_EQ(::send(garbage, http.data(), http.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(http.size()));
  EXPECT_TRUE(closed_within(garbage, 2s));
  EXPECT_LT(Clock::now() - t0, 250ms);
  EXPECT_TRUE(closed_within(silent, 5s));  // at the handshake timeout
  EXPECT_GE(Clock::now() - t0, 250ms);
  EXPECT_FALSE(readable(l.poll_fd(), 0ms));
  EXPECT_EQ(accept_now(l), nullptr);
  ::close(garbage);
  ::close(silent);
  // The listener goes on serving.
  Client c(l.port());
  ASSERT_TRUE(c.handshake(5s));
  ASSERT_TRUE(readable(l.poll_fd(), 5s));
  EXPECT_NE(accept_now(l), nullptr);
}

TEST(TlsListener, PendingHandshakesAreBounded) {
  HandshakeLimits limits;
  limits.max_pending = 2;
  Listener l("127.0.0.1", 0, server_ctx(), limits);
  int a = test::connect_local(l.port());
  int b = test::connect_local(l.port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // Both slots are taken by silent clients: the third waits in the kernel's backlog.
  Client c(l.port());
  EXPECT_FALSE(c.handshake(500ms));
  EXPECT_FALSE(readable(l.poll_fd(), 0ms));
  ::close(a);  // its handshake fails, which frees a slot
  EXPECT_TRUE(c.handshake(5s));
  ASSERT_TRUE(readable(l.poll_fd(), 5s));
  EXPECT_NE(accept_now(l), nullptr);
  ::close(b);
}

TEST(TlsListener, FinishedQueueIsBounded) {
  HandshakeLimits limits;
  limits.max_queued = 1;
  Listener l("127.0.0.1", 0, server_ctx(), limits);
  // Two handshakes at once: both finish, one is queued and one waits for room.
  Client c1(l.port()), c2(l.port());
  ASSERT_TRUE(c1.handshake(5s));
  ASSERT_TRUE(c2.handshake(5s));
  ASSERT_TRUE(readable(l.poll_fd(), 5s));
  // With the queue full nothing more is accepted from the kernel.
  Client c3(l.port());
  EXPECT_FALSE(c3.handshake(500ms));
  const std::string mark = "x";
  // Each accept makes room for the next, in order.
  for (Client* c : {&c1, &c2}) {
    ASSERT_TRUE(readable(l.poll_fd(), 5s));
    auto s = accept_now(l);
    ASSERT_NE(s, nullptr);
    s->write(reinterpret_cast<const std::uint8_t*>(mark.data()), 1, true, {});
    EXPECT_EQ(c->read(5s), mark);
  }
  EXPECT_TRUE(c3.handshake(5s));
  ASSERT_TRUE(readable(l.poll_fd(), 5s));
  EXPECT_NE(accept_now(l), nullptr);
}

TEST(TlsListener, DestructionClosesEveryConnectionItHolds) {
  auto l = std::make_unique<Listener>("127.0.0.1", 0, server_ctx());
  int silent = test::connect_local(l->port());
  ASSERT_GE(silent, 0);
  Client queued(l->port());
  ASSERT_TRUE(queued.handshake(5s));
  ASSERT_TRUE(readable(l->poll_fd(), 5s));
  auto t0 = Clock::now();
  l.reset();  // stops the handshake thread (a pending and a queued connection)
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(closed_within(silent, 2s));
  EXPECT_TRUE(closed_within(queued.fd(), 2s));
  ::close(silent);
}

TEST(TcpListener, PollsAndAcceptsTheSocketItself) {
  Listener l("127.0.0.1", 0, nullptr);
  EXPECT_FALSE(readable(l.poll_fd(), 0ms));
  int c = test::connect_local(l.port());
  ASSERT_GE(c, 0);
  ASSERT_TRUE(readable(l.poll_fd(), 5s));
  auto s = accept_now(l);
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->is_tls());
  ::close(c);
}

// A stdout/stderr that stops draining: every kind of host descriptor fills up, then a blocking
// write waits only until the deadline, a non-blocking one answers EAGAIN at once, and the
// descriptor the parent shares is never switched to O_NONBLOCK.
void fill_and_expect_bounded_waits(int writer, int reader_to_close) {
  std::signal(SIGPIPE, SIG_IGN);  // as run_workload does
  int before = ::fcntl(writer, F_GETFL);
  HostOutput out(writer);
  std::string block(65536, 'x');
  auto p = reinterpret_cast<const std::uint8_t*>(block.data());
  std::size_t total = 0;
  for (;;) {
    IoResult r = out.write(p, block.size(), false, std::nullopt);
    if (r.error) {
      EXPECT_EQ(r.error, kAgain);
      break;
    }
    total += r.bytes;
    ASSERT_LT(total, 64u << 20) << "never filled up";
  }
  EXPECT_GT(total, 0u);
  // A terminal may make a little room as its line discipline catches up; the deadline holds all
  // the same.
  auto t0 = Clock::now();
  auto deadline = t0 + 300ms;
  EXPECT_THROW(
      for (;;) {
        IoResult r = out.write(p, block.size(), true, deadline);
        ASSERT_EQ(r.error, 0);
      },
      GuestTimeout);
  EXPECT_GE(Clock::now() - t0, 300ms);
  EXPECT_LT(Clock::now() - t0, 3s);
  EXPECT_EQ(::fcntl(writer, F_GETFL), before);
  EXPECT_EQ(before & O_NONBLOCK, 0);
  if (reader_to_close >= 0) {
    ::close(reader_to_close);
    EXPECT_EQ(out.write(p, 1, true, Clock::now() + 1s).error, 64);  // EPIPE
  }
}

TEST(HostOutput, PipeNobodyReads) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  fill_and_expect_bounded_waits(p[1], p[0]);
  ::close(p[1]);
}

TEST(HostOutput, SocketNobodyReads) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  fill_and_expect_bounded_waits(s[1], s[0]);
  ::close(s[1]);
}

TEST(HostOutput, TerminalNobodyReads) {
  support::Pty pty;
  ASSERT_TRUE(pty.ok()) << pty.error();
  fill_and_expect_bounded_waits(pty.slave(), -1);
}

TEST(HostOutput, RegularFileIsWrittenWhole) {
  TempDir tmp;
  test::CaptureFile f(tmp, "out");
  HostOutput out(f.fd());
  std::string text(1 << 20, 'y');
  IoResult r = out.write(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), true,
                         Clock::now() + 1s);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.bytes, text.size());
  EXPECT_EQ(f.text(), text);
}

// The runtime's own message after the run gives up on a full output instead of hanging on it.
TEST(HostOutput, WriteWithinGivesUp) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  std::string fill(1 << 20, 'z');
  auto t0 = Clock::now();
  write_within(p[1], fill, 300ms);
  EXPECT_LT(Clock::now() - t0, 3s);
  write_within(p[1], "more", 100ms);
  char buf[16];
  EXPECT_EQ(::read(p[0], buf, sizeof buf), 16);  // what fitted is there
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace enarx::runtime
