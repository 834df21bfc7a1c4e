// What the bounds tests use to attack a server the way a hostile client does: raw TCP sockets
// that never speak, a raw client (TLS or plain, no certificate checks: trust is not what these
// tests are about) that sends a header and watches for the answer while it sends — or holds — a
// body, a server process started from its binary, and that process's memory from /proc.
// Header-only; shared by tests/net, tests/drawbridge and tests/steward.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace enarx::attack {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline void raise_fd_limit(rlim_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = std::min(want, rl.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

// A /proc/<pid>/status field in KiB ("VmRSS", "VmHWM"); pid 0 = this process. 0 if unknown.
inline std::uint64_t proc_status_kib(pid_t pid, std::string_view field) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status") : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(std::string(field) + ":", 0) == 0) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}

// A TCP connection to 127.0.0.1:port, from `source` (another loopback address, e.g.
// "127.0.0.2") when given. -1 when the connection could not even be started.
inline int tcp_connect(std::uint16_t port, const std::string& source = {}, bool nonblocking = false) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sockets that connect and then say nothing, reopened whenever the server closes one (as the
// reviewed attack did), on a thread of their own until stop().
class IdleFlood {
 public:
  // `sources`: the loopback addresses to connect from, round robin (empty: the default one).
  IdleFlood(std::uint16_t port, std::size_t count, std::vector<std::string> sources = {})
      : port_(port), sources_(std::move(sources)) {
    if (sources_.empty()) sources_.push_back({});
    for (std::size_t i = 0; i < count; ++i) {
      fds_.push_back(tcp_connect(port_, sources_[i % sources_.size()], true));
      source_of_.push_back(i % sources_.size());
    }
    thread_ = std::thread([this] { loop(); });
  }
  ~IdleFlood() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
    fds_.clear();
  }
  // How many times the server closed one of ours (each was reopened).
  std::uint64_t closed_by_server() const { return closed_.load(); }

 private:
  void loop() {
    std::vector<pollfd> p(fds_.size());
    while (running_) {
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (fds_[i] < 0) fds_[i] = tcp_connect(port_, sources_[source_of_[i]], true);
        p[i] = pollfd{fds_[i], POLLIN | POLLRDHUP, 0};
      }
      if (::poll(p.data(), p.size(), 50) <= 0) continue;
      for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i].fd < 0 || p[i].revents == 0) continue;
        ::close(fds_[i]);
        fds_[i] = tcp_connect(port_, sources_[source_of_[i]], true);
        ++closed_;
      }
    }
  }

  std::uint16_t port_;
  std::vector<std::string> sources_;
  std::vector<int> fds_;
  std::vector<std::size_t> source_of_;
  std::atomic<bool> running_{true};
  std::atomic<std::uint64_t> closed_{0};
  std::thread thread_;
};

// One connection of a hostile client: TLS or plain over a non-blocking socket.
class RawClient {
 public:
  RawClient(std::uint16_t port, bool tls, const std::string& source = {},
            std::chrono::milliseconds handshake_timeout = 10s) {
    ::signal(SIGPIPE, SIG_IGN);
    fd_ = tcp_connect(port, source, true);
    if (fd_ < 0) return;
    if (!wait(POLLOUT, handshake_timeout)) { fail(); return; }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) { fail(); return; }
    if (tls) {
      ctx_ = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
      ssl_ = SSL_new(ctx_);
      SSL_set_fd(ssl_, fd_);
      SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      const auto deadline = Clock::now() + handshake_timeout;
      for (;;) {
        ERR_clear_error();
        const int r = SSL_connect(ssl_);
        if (r == 1) break;
        const int e = SSL_get_error(ssl_, r);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
            !wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left(deadline))) {
          { fail(); return; }
        }
      }
    }
    ok_ = true;
  }
  ~RawClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return ok_; }
  bool closed() const { return closed_; }
  // A fixed, small send buffer: what "sent" counts is then close to what the server took in,
  // not what loopback's auto-tuned buffers swallowed meanwhile.
  void limit_send_buffer(int bytes) { ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes); }
  const std::string& received() const { return received_; }
  std::uint64_t body_sent() const { return filler_sent_; }

  // Sends all of `data`, reading whatever arrives meanwhile. False when the connection failed.
  bool send_all(std::string_view data, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (!data.empty()) {
      const long n = write_some(data);
      if (n < 0) return false;
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (!wait(POLLOUT | POLLIN, left(deadline))) return false;
      pump();
    }
    return true;
  }

  // Sends up to `total` filler bytes as a body, stopping as soon as a response header has
  // arrived, the connection fails, or `timeout` passes. Returns the bytes sent.
  std::uint64_t send_filler_until_answered(std::uint64_t total, std::chrono::milliseconds timeout) {
    static const std::string chunk(64 * 1024, 'x');
    const auto deadline = Clock::now() + timeout;
    std::uint64_t sent = 0;
    while (sent < total && !has_response_header() && !closed_ && Clock::now() < deadline) {
      const auto n = std::min<std::uint64_t>(chunk.size(), total - sent);
      const long w = write_some(std::string_view(chunk).substr(0, static_cast<std::size_t>(n)));
      if (w < 0) break;
      if (w == 0) {
        wait(POLLOUT | POLLIN, std::min<std::chrono::milliseconds>(left(deadline), 100ms));
      }
      sent += static_cast<std::uint64_t>(w);
      filler_sent_ += static_cast<std::uint64_t>(w);
      pump();
    }
    return sent;
  }

  // Reads until a whole response (header and Content-Length body) is in, the peer closes, or
  // `timeout` passes. Returns everything received so far.
  const std::string& read_response(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!response_complete() && !closed_ && Clock::now() < deadline) {
      if (wait(POLLIN, left(deadline))) pump();
    }
    return received_;
  }

  // Waits until the peer closes (or `timeout`); true when it did.
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!closed_ && Clock::now() < deadline) {
      if (wait(POLLIN, left(deadline))) pump();
    }
    return closed_;
  }

  bool has_response_header() const { return received_.find("\r\n\r\n") != std::string::npos; }
  // "HTTP/1.1 401 ..." -> 401; 0 before a status line arrived.
  int status() const {
    if (received_.size() < 12 || received_.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return std::atoi(received_.c_str() + 9);
  }

 private:
  static std::chrono::milliseconds left(Clock::time_point deadline) {
    return std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  }
  bool wait(short events, std::chrono::milliseconds timeout) {
    if (ssl_ && (events & POLLIN) && SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }
  void fail() {
    ok_ = false;
    closed_ = true;
  }
  // >0 written, 0 would block, <0 failed (closed).
  long write_some(std::string_view data) {
    if (closed_) return -1;
    if (ssl_) {
      ERR_clear_error();
      std::size_t n = 0;
      if (SSL_write_ex(ssl_, data.data(), data.size(), &n) == 1) return static_cast<long>(n);
      const int e = SSL_get_error(ssl_, 0);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 0;
      closed_ = true;
      return -1;
    }
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    closed_ = true;
    return -1;
  }
  // Reads what is available without blocking.
  void pump() {
    char buf[16384];
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        std::size_t n = 0;
        if (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) {
          received_.append(buf, n);
          continue;
        }
        const int e = SSL_get_error(ssl_, 0);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) closed_ = true;
        return;
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed_ = true;
      return;
    }
  }
  bool response_complete() const {
    const auto end = received_.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const auto cl = received_.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    return received_.size() >= end + 4 + std::stoul(received_.substr(cl + 16));
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  bool closed_ = false;
  std::string received_;
  std::uint64_t filler_sent_ = 0;
};

// A server started from its binary; SIGTERM (then SIGKILL) on destruction. Output goes to
// `log_file`.
class ServerProcess {
 public:
  ServerProcess(const std::string& binary, const std::vector<std::string>& args, const std::string& log_file) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(binary.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

 private:
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (racy by nature; fine for tests).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace enarx::attack
