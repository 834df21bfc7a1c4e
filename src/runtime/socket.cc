#include "runtime/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/error.h"
#include "core/openssl.h"
#include "runtime/engine.h"

namespace enarx::runtime {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kAgain = 6, kConnaborted = 13, kConnreset = 15, kIo = 29, kNotconn = 53,
                        kPipe = 64;

// Waits for `events` on `fd`. Returns false when `limit` (a handshake bound) passes first; throws
// GuestTimeout when the workload's own deadline passes first.
bool wait_fd(int fd, short events, const Deadline& deadline,
             std::optional<Clock::time_point> limit = std::nullopt) {
  for (;;) {
    int timeout = -1;
    auto now = Clock::now();
    std::optional<Clock::time_point> until = deadline;
    if (limit && (!until || *limit < *until)) until = limit;
    if (until) {
      if (now >= *until) {
        if (deadline && now >= *deadline) throw GuestTimeout{};
        return false;
      }
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*until - now).count() + 1;
      timeout = static_cast<int>(std::min<long long>(ms, 60'000));
    }
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, timeout);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let the I/O call report the error
  }
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::vector<ossl::X509Ptr> read_chain(const std::string& pem, std::string_view code) {
  ossl::BioPtr bio = ossl::memory_bio(pem.data(), pem.size());
  std::vector<ossl::X509Ptr> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (out.empty()) throw Error(ErrorKind::kInvalidInput, std::string(code), "no PEM certificate found");
  return out;
}

std::shared_ptr<SSL_CTX> base_ctx(const SSL_METHOD* method, const Identity& id) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(method), SSL_CTX_free);
  if (!ctx) ossl::throw_error(ErrorKind::kInvalidInput, "runtime.tls.context", "SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  ossl::check(SSL_CTX_set_ciphersuites(ctx.get(),
                                       "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
                                       "TLS_CHACHA20_POLY1305_SHA256") == 1, ErrorKind::kInvalidInput,
              "runtime.tls.context", "cipher suites");
  ossl::check(SSL_CTX_set1_groups_list(ctx.get(), "X25519:P-384:P-256") == 1, ErrorKind::kInvalidInput,
              "runtime.tls.context", "groups");
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (id.cert_chain_pem.empty()) return ctx;
  auto chain = read_chain(id.cert_chain_pem, "runtime.tls.identity");
  ossl::check(SSL_CTX_use_certificate(ctx.get(), chain[0].get()) == 1, ErrorKind::kInvalidInput, "runtime.tls.identity",
              "certificate");
  for (std::size_t i = 1; i < chain.size(); ++i)
    ossl::check(SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get()) == 1, ErrorKind::kInvalidInput, "runtime.tls.identity",
                "chain certificate");
  ossl::BioPtr kb = ossl::memory_bio(id.key_pem.data(), id.key_pem.size());
  ossl::PkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!key) ossl::throw_error(ErrorKind::kInvalidInput, "runtime.tls.identity", "private key");
  ossl::check(SSL_CTX_use_PrivateKey(ctx.get(), key.get()) == 1, ErrorKind::kInvalidInput, "runtime.tls.identity",
              "private key");
  ossl::check(SSL_CTX_check_private_key(ctx.get()) == 1, ErrorKind::kInvalidInput, "runtime.tls.identity",
              "the private key does not match the certificate");
  return ctx;
}

// Drives SSL_accept/SSL_connect on a non-blocking socket. Returns false on failure or when the
// handshake bound passes.
bool handshake(SSL* ssl, bool server, const Deadline& deadline, Clock::time_point limit) {
  for (;;) {
    ERR_clear_error();  // SSL_get_error below must see only this call's errors
    int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (r == 1) return true;
    int e = SSL_get_error(ssl, r);
    short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (!ev) return false;
    if (!wait_fd(SSL_get_fd(ssl), ev, deadline, limit)) return false;
  }
}

}  // namespace

Identity self_signed_identity() {
  ossl::PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) ossl::throw_error(ErrorKind::kInvalidInput, "runtime.tls.identity", "key generation");
  ossl::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  ossl::check(RAND_bytes(serial, sizeof serial) == 1, ErrorKind::kInvalidInput, "runtime.tls.identity", "random serial");
  serial[0] &= 0x7f;
  ossl::BignumPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  ossl::check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) != nullptr, ErrorKind::kInvalidInput,
              "runtime.tls.identity", "serial");
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> exts[] = {
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
  };
  for (auto [nid, value] : exts) {
    ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
    ossl::check(ext && X509_add_ext(x.get(), ext.get(), -1) == 1, ErrorKind::kInvalidInput, "runtime.tls.identity",
                "extension");
  }
  ossl::check(X509_sign(x.get(), key.get(), EVP_sha256()) > 0, ErrorKind::kInternal, "runtime.tls.identity", "sign");
  Identity id;
  ossl::BioPtr cb(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cb.get(), x.get());
  id.cert_chain_pem = ossl::bio_to_string(cb.get());
  ossl::BioPtr kb(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  id.key_pem = ossl::bio_to_string(kb.get());
  return id;
}

std::shared_ptr<SSL_CTX> make_server_tls(const Identity& id) {
  if (id.cert_chain_pem.empty() || id.key_pem.empty())
    throw Error(ErrorKind::kInvalidInput, "runtime.tls.identity", "a TLS listener needs the workload identity");
  auto ctx = base_ctx(TLS_server_method(), id);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

std::shared_ptr<SSL_CTX> make_client_tls(const Identity& id, const std::string& ca_pem) {
  auto ctx = base_ctx(TLS_client_method(), id);
  if (ca_pem.empty()) {
    // Enarx trusts the web PKI roots here; the host's store is our equivalent.
    SSL_CTX_set_default_verify_paths(ctx.get());
  } else {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    for (auto& c : read_chain(ca_pem, "runtime.tls.ca"))
      ossl::check(X509_STORE_add_cert(store, c.get()) == 1, ErrorKind::kInvalidInput, "runtime.tls.ca", "CA certificate");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

HostOutput::HostOutput(int fd) : fd_(fd) {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return;
  if (S_ISSOCK(st.st_mode)) {
    mode_ = Mode::Socket;
  } else if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && ::isatty(fd_))) {
    std::string self = "/proc/self/fd/" + std::to_string(fd_);
    own_ = ::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    mode_ = own_ >= 0 ? Mode::Reopened : Mode::Chunked;
  }
}

HostOutput::~HostOutput() {
  if (own_ >= 0) ::close(own_);
}

IoResult HostOutput::write(const std::uint8_t* buf, std::size_t len, bool block,
                           const Deadline& deadline) {
  if (len == 0) return {};
  for (;;) {
    ssize_t r = -1;
    switch (mode_) {
      case Mode::Plain: r = ::write(fd_, buf, len); break;
      case Mode::Socket: r = ::send(fd_, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL); break;
      case Mode::Reopened: r = ::write(own_, buf, len); break;
      case Mode::Chunked: {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 0) == 0) {
          errno = EAGAIN;
          break;
        }
        r = ::write(fd_, buf, std::min<std::size_t>(len, PIPE_BUF));
        break;
      }
    }
    if (r >= 0) return {0, static_cast<std::size_t>(r)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!block) return {kAgain, 0};
      wait_fd(mode_ == Mode::Reopened ? own_ : fd_, POLLOUT, deadline);
      continue;
    }
    return {errno == EPIPE ? kPipe : kIo, 0};
  }
}

void write_within(int fd, std::string_view text, std::chrono::milliseconds wait) {
  HostOutput out(fd);
  Deadline until = Clock::now() + wait;
  auto p = reinterpret_cast<const std::uint8_t*>(text.data());
  try {
    for (std::size_t off = 0; off < text.size();) {
      IoResult r = out.write(p + off, text.size() - off, true, until);
      if (r.error) return;
      off += r.bytes;
    }
  } catch (const GuestTimeout&) {
  }
}

Stream::Stream(int fd, std::shared_ptr<SSL> tls) : fd_(fd), tls_(std::move(tls)) {
  set_nonblocking(fd_);
}

Stream::~Stream() {
  if (tls_ && !eof_) {
    SSL_shutdown(tls_.get());  // best effort close_notify
    ERR_clear_error();
  }
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool Stream::has_pending() const { return tls_ && SSL_pending(tls_.get()) > 0; }

IoResult Stream::read(std::uint8_t* buf, std::size_t len, bool block, const Deadline& deadline) {
  if (len == 0) return {};
  for (;;) {
    if (tls_) {
      std::size_t n = 0;
      // SSL_get_error reads this thread's error queue: an entry left by another connection
      // (a shutdown to a vanished peer, say) would turn "no data yet" into a read error.
      ERR_clear_error();
      if (SSL_read_ex(tls_.get(), buf, len, &n) == 1) return {0, n};
      int e = SSL_get_error(tls_.get(), 0);
      if (e == SSL_ERROR_ZERO_RETURN) {
        eof_ = true;
        return {};
      }
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!block) return {kAgain, 0};
        wait_fd(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        continue;
      }
      ERR_clear_error();
      eof_ = true;  // peer vanished without close_notify: report EOF as most runtimes do
      return e == SSL_ERROR_SYSCALL ? IoResult{} : IoResult{kIo, 0};
    }
    ssize_t r = ::recv(fd_, buf, len, 0);
    if (r >= 0) return {0, static_cast<std::size_t>(r)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!block) return {kAgain, 0};
      wait_fd(fd_, POLLIN, deadline);
      continue;
    }
    return {errno == ECONNRESET ? kConnreset : errno == ENOTCONN ? kNotconn : kIo, 0};
  }
}

IoResult Stream::write(const std::uint8_t* buf, std::size_t len, bool block,
                       const Deadline& deadline) {
  if (len == 0) return {};
  for (;;) {
    if (tls_) {
      std::size_t n = 0;
      ERR_clear_error();  // see read()
      if (SSL_write_ex(tls_.get(), buf, len, &n) == 1) return {0, n};
      int e = SSL_get_error(tls_.get(), 0);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!block) return {kAgain, 0};
        wait_fd(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        continue;
      }
      ERR_clear_error();
      return {kPipe, 0};
    }
    ssize_t r = ::send(fd_, buf, len, MSG_NOSIGNAL);
    if (r >= 0) return {0, static_cast<std::size_t>(r)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!block) return {kAgain, 0};
      wait_fd(fd_, POLLOUT, deadline);
      continue;
    }
    return {errno == ECONNRESET ? kConnreset : errno == EPIPE ? kPipe : kIo, 0};
  }
}

std::uint16_t Stream::shutdown(bool rd, bool wr) {
  if (wr && tls_) {
    SSL_shutdown(tls_.get());
    ERR_clear_error();  // a peer already gone leaves an error that is not this call's business
  }
  int how = rd && wr ? SHUT_RDWR : rd ? SHUT_RD : SHUT_WR;
  if (::shutdown(fd_, how) != 0) return errno == ENOTCONN ? kNotconn : kIo;
  return 0;
}

// The server handshakes of one TLS listener, on their own thread. Shaking hands inline in
// sock_accept let one client that connects and stays silent (or sends half a ClientHello) stall
// the workload for the whole handshake bound, and a few of them for ever. Here the thread
// accepts TCP connections and drives up to max_pending handshakes at once (non-blocking
// sockets, one poll over all of them), each bounded by the timeout; finished connections go to
// a queue of at most max_queued that sock_accept takes from. At either bound the thread stops
// accepting, so further clients wait in the kernel's backlog rather than in our memory.
class Listener::Handshaker {
 public:
  Handshaker(int listen_fd, std::shared_ptr<SSL_CTX> ctx, HandshakeLimits limits)
      : listen_fd_(listen_fd), ctx_(std::move(ctx)), limits_(at_least_one(limits)) {
    ready_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ready_fd_ < 0 || wake_fd_ < 0) {
      std::string why = std::strerror(errno);
      close_fds();
      throw Error(ErrorKind::kInvalidInput, "runtime.net.bind",
                  "cannot create the TLS listener's event descriptors: " + why);
    }
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      close_fds();
      throw Error(ErrorKind::kInvalidInput, "runtime.net.bind", std::string("cannot start the TLS handshake thread: ") +
                                          e.what());
    }
  }

  ~Handshaker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    notify(wake_fd_);
    thread_.join();
    queue_.clear();  // closes them (close_notify, best effort)
    close_fds();
  }

  int ready_fd() const { return ready_fd_; }

  // The oldest finished connection, or null.
  std::unique_ptr<Stream> pop() {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return nullptr;
    bool was_full = queue_.size() >= limits_.max_queued;
    auto s = std::move(queue_.front());
    queue_.pop_front();
    if (queue_.empty()) drain(ready_fd_);
    if (was_full) notify(wake_fd_);  // room again: accept, or queue a parked connection
    return s;
  }

 private:
  struct Pending {
    int fd;
    std::shared_ptr<SSL> ssl;
    Clock::time_point until;
    short events = POLLIN;
    bool finished = false;  // waiting for room in the queue; no longer timed
  };

  // A bound of 0 would never accept anything.
  static HandshakeLimits at_least_one(HandshakeLimits l) {
    l.max_pending = std::max<std::size_t>(l.max_pending, 1);
    l.max_queued = std::max<std::size_t>(l.max_queued, 1);
    return l;
  }
  static void notify(int efd) {
    std::uint64_t one = 1;
    (void)!::write(efd, &one, sizeof one);
  }
  static void drain(int efd) {
    std::uint64_t n;
    (void)!::read(efd, &n, sizeof n);
  }
  void close_fds() {
    if (ready_fd_ >= 0) ::close(ready_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    ready_fd_ = wake_fd_ = -1;
  }
  static void drop(Pending& p) {
    ERR_clear_error();
    p.ssl.reset();
    ::close(p.fd);
  }

  // One step of a handshake; false when it failed (the caller drops it).
  static bool step(Pending& p) {
    ERR_clear_error();
    int r = SSL_accept(p.ssl.get());
    if (r == 1) {
      p.finished = true;
      return true;
    }
    int e = SSL_get_error(p.ssl.get(), r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      return true;
    }
    return false;
  }

  // Accepts from the kernel while below both bounds; false when out of descriptors or memory
  // (the caller backs off instead of spinning on a listening socket that stays readable).
  bool accept_more(std::vector<Pending>& pending, bool queue_full) {
    while (!queue_full && pending.size() < limits_.max_pending) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) {
        // A connection that died in the backlog (accept(2) lists EPROTO and friends too) costs
        // only itself.
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
      }
      int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Pending p{c, std::shared_ptr<SSL>(SSL_new(ctx_.get()), SSL_free),
                Clock::now() + limits_.timeout};
      if (!p.ssl || SSL_set_fd(p.ssl.get(), c) != 1 || !step(p)) {
        drop(p);
        continue;
      }
      pending.push_back(std::move(p));
    }
    return true;
  }

  void run() {
    std::vector<Pending> pending;
    std::optional<Clock::time_point> backoff;
    std::vector<pollfd> pfds;
    for (;;) {
      bool queue_full;
      {
        std::lock_guard lock(mu_);
        if (stop_) break;
        for (auto it = pending.begin(); it != pending.end();) {
          if (!it->finished || queue_.size() >= limits_.max_queued) {
            ++it;
            continue;
          }
          if (queue_.empty()) notify(ready_fd_);
          queue_.push_back(std::make_unique<Stream>(it->fd, std::move(it->ssl)));
          it = pending.erase(it);
        }
        queue_full = queue_.size() >= limits_.max_queued;
      }
      auto now = Clock::now();
      std::optional<Clock::time_point> wake;
      for (auto it = pending.begin(); it != pending.end();) {
        if (!it->finished && now >= it->until) {
          drop(*it);
          it = pending.erase(it);
          continue;
        }
        if (!it->finished && (!wake || it->until < *wake)) wake = it->until;
        ++it;
      }
      if (backoff && now >= *backoff) backoff.reset();
      if (backoff && (!wake || *backoff < *wake)) wake = backoff;

      pfds.clear();
      pfds.push_back({wake_fd_, POLLIN, 0});
      bool listening = !backoff && !queue_full && pending.size() < limits_.max_pending;
      pfds.push_back({listening ? listen_fd_ : -1, POLLIN, 0});  // fd -1: ignored by poll
      for (const Pending& p : pending) pfds.push_back({p.finished ? -1 : p.fd, p.events, 0});
      int timeout = -1;
      if (wake) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*wake - now).count() + 1;
        timeout = static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
      }
      int r = ::poll(pfds.data(), pfds.size(), timeout);
      if (r <= 0) continue;  // timeouts are handled at the top; EINTR retries
      if (pfds[0].revents) drain(wake_fd_);
      // Sockets first, then the listener: pfds[2 + i] belongs to pending[i] until it changes.
      std::size_t i = 0;
      for (auto it = pending.begin(); it != pending.end(); ++i) {
        if (pfds[2 + i].revents && !step(*it)) {
          drop(*it);
          it = pending.erase(it);
          continue;
        }
        ++it;
      }
      if (pfds[1].revents && !accept_more(pending, queue_full))
        backoff = Clock::now() + std::chrono::milliseconds(100);
    }
    for (Pending& p : pending) {
      if (p.ssl) drop(p);
    }
  }

  const int listen_fd_;
  const std::shared_ptr<SSL_CTX> ctx_;
  const HandshakeLimits limits_;
  int ready_fd_ = -1;  // readable while queue_ is not empty
  int wake_fd_ = -1;   // stop, or room in the queue
  std::mutex mu_;
  bool stop_ = false;
  std::deque<std::unique_ptr<Stream>> queue_;
  std::thread thread_;
};

Listener::Listener(const std::string& addr, std::uint16_t port, std::shared_ptr<SSL_CTX> tls,
                   HandshakeLimits limits)
    : tls_(std::move(tls)) {
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(addr.empty() ? nullptr : addr.c_str(), service.c_str(), &hints, &res);
  if (rc != 0)
    throw Error(ErrorKind::kInvalidInput, "runtime.net.bind", "cannot resolve listen address '" + addr + "': " +
                                        gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1, zero = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      fd_ = fd;
      break;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0)
    throw Error(ErrorKind::kInvalidInput, "runtime.net.bind", "cannot listen on " + addr + " port " + service + ": " + why);
  set_nonblocking(fd_);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (tls_) {
    try {
      handshaker_ = std::make_unique<Handshaker>(fd_, tls_, limits);
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
}

Listener::~Listener() {
  handshaker_.reset();  // joins the thread before the socket it polls is closed
  if (fd_ >= 0) ::close(fd_);
}

int Listener::poll_fd() const { return handshaker_ ? handshaker_->ready_fd() : fd_; }

std::unique_ptr<Stream> Listener::accept(bool block, const Deadline& deadline,
                                         std::uint16_t* error) {
  *error = 0;
  if (handshaker_) {
    for (;;) {
      if (auto s = handshaker_->pop()) return s;
      if (!block) {
        *error = kAgain;
        return nullptr;
      }
      wait_fd(handshaker_->ready_fd(), POLLIN, deadline);
    }
  }
  for (;;) {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!block) {
          *error = kAgain;
          return nullptr;
        }
        wait_fd(fd_, POLLIN, deadline);
        continue;
      }
      *error = kConnaborted;
      return nullptr;
    }
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return std::make_unique<Stream>(c, nullptr);
  }
}

std::unique_ptr<Stream> connect_stream(const std::string& host, std::uint16_t port,
                                       std::shared_ptr<SSL_CTX> tls, const Deadline& deadline) {
  std::string target = host == "localhost" ? "127.0.0.1" : host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(target.c_str(), service.c_str(), &hints, &res);
  if (rc != 0)
    throw Error(ErrorKind::kInvalidInput, "runtime.net.connect", "cannot resolve '" + host + "': " + gai_strerror(rc));
  int fd = -1;
  std::string why = "no address";
  auto limit = Clock::now() + std::chrono::seconds(30);
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    int s = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (s < 0) continue;
    int r = ::connect(s, a->ai_addr, a->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS && wait_fd(s, POLLOUT, deadline, limit)) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
      r = err == 0 ? 0 : -1;
      errno = err ? err : ETIMEDOUT;
    }
    if (r == 0) {
      fd = s;
    } else {
      why = std::strerror(errno);
      ::close(s);
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0)
    throw Error(ErrorKind::kInvalidInput, "runtime.net.connect",
                "cannot connect to " + host + " port " + service + ": " + why);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!tls) return std::make_unique<Stream>(fd, nullptr);
  std::shared_ptr<SSL> ssl(SSL_new(tls.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  in6_addr ip6;
  in_addr ip4;
  bool is_ip = inet_pton(AF_INET, host.c_str(), &ip4) == 1 || inet_pton(AF_INET6, host.c_str(), &ip6) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    SSL_set1_host(ssl.get(), host.c_str());
  }
  if (!handshake(ssl.get(), false, deadline, Clock::now() + std::chrono::seconds(30))) {
    long v = SSL_get_verify_result(ssl.get());
    std::string reason = v != X509_V_OK ? X509_verify_cert_error_string(v) : ossl::drain_errors();
    ssl.reset();
    ::close(fd);
    throw Error(ErrorKind::kInvalidInput, "runtime.tls.handshake", "TLS handshake with " + host + " failed: " + reason);
  }
  return std::make_unique<Stream>(fd, std::move(ssl));
}

}  // namespace enarx::runtime
