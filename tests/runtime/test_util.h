// Helpers shared by the runtime tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/file.h"
#include "runtime/runtime.h"

namespace enarx::runtime::test {

// CPU time used so far by the calling thread.
inline std::chrono::nanoseconds thread_cpu_time() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

inline std::string wat_module(const std::string& name) {
  return std::string(RUNTIME_WASM_DIR) + "/" + name + ".wasm";
}
inline std::string example_module(const std::string& name) {
  return std::string(RUNTIME_EXAMPLES_DIR) + "/" + name + ".wasm";
}
inline std::string source_path(const std::string& rel) {
  return std::string(ENARX_SOURCE_DIR) + "/" + rel;
}

// A host file standing in for stdout/stderr, read back after the run.
class CaptureFile {
 public:
  explicit CaptureFile(const TempDir& dir, const std::string& name)
      : path_(dir.path() / name),
        fd_(::open(path_.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600)) {}
  ~CaptureFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  std::string text() const { return read_text_file(path_); }

 private:
  std::filesystem::path path_;
  int fd_;
};

struct Outcome {
  RunResult result;
  std::string out, err;
};

// run_workload() with stdout/stderr captured to files and no stdin.
inline Outcome run_captured(const std::string& wasm_path, Config config, RunOptions o = {},
                            const AssetTree* assets = nullptr) {
  TempDir tmp;
  CaptureFile out(tmp, "out"), err(tmp, "err");
  Bytes wasm = read_file(wasm_path);
  Workload w;
  w.wasm = wasm;
  w.config = std::move(config);
  w.assets = assets;
  o.stdout_fd = out.fd();
  o.stderr_fd = err.fd();
  o.stdin_fd = -1;
  Outcome r;
  r.result = run_workload(w, o);
  r.out = out.text();
  r.err = err.text();
  return r;
}

// The `--exit=N` convention of the Rust and Go examples: the code passes through and the program
// says "<name>: exiting with N" on stderr.
inline void expect_exit_codes_pass_through(const std::string& example, const RunOptions& o = {}) {
  for (int code : {0, 1, 42, 255}) {
    Config c = default_config();
    c.args = {"--exit=" + std::to_string(code)};
    Outcome r = run_captured(example_module(example), c, o);
    EXPECT_EQ(r.result.status, RunResult::Status::Exited) << code << ": " << r.result.message;
    EXPECT_EQ(r.result.exit_code, code);
    EXPECT_EQ(r.err, example + ": exiting with " + std::to_string(code) + "\n");
  }
}

// A workload with a `listen` file, run on a thread; port() is the first listener's port (known
// before the guest starts), or 0 when the run ended without listening (then wait() says why).
// stdout/stderr are captured; the destructor waits for the run.
class BackgroundRun {
 public:
  BackgroundRun(const std::string& wasm_path, Config config, Identity identity, RunOptions o = {})
      : out_(tmp_, "out"), err_(tmp_, "err"), wasm_(read_file(wasm_path)), o_(std::move(o)) {
    w_.wasm = wasm_;
    w_.config = std::move(config);
    w_.identity = std::move(identity);
    if (!o_.time_limit) o_.time_limit = std::chrono::seconds(60);
    o_.stdout_fd = out_.fd();
    o_.stderr_fd = err_.fd();
    o_.stdin_fd = -1;
    auto port = bound_.get_future();
    // Both calls below run on the workload's thread, one after the other.
    o_.on_listening = [this](const std::vector<ListenInfo>& l) {
      announced_ = true;
      bound_.set_value(l.at(0).port);
    };
    thread_ = std::thread([this] {
      result_ = run_workload(w_, o_);
      if (!announced_) bound_.set_value(0);
    });
    port_ = port.get();
  }
  ~BackgroundRun() {
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return port_; }
  RunResult wait() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  std::string out() const { return out_.text(); }

 private:
  TempDir tmp_;
  CaptureFile out_, err_;
  Bytes wasm_;
  Workload w_;
  RunOptions o_;
  std::promise<std::uint16_t> bound_;
  bool announced_ = false;
  std::uint16_t port_ = 0;
  RunResult result_;
  std::thread thread_;
};

// A TCP connection to 127.0.0.1:port with a 20 s receive timeout, or -1.
inline int connect_local(std::uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  timeval tv{20, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

// A TLS 1.3 client of 127.0.0.1:port (no verification: the tests' identities are self-signed)
// that sends `request` and reads until the server closes. Each socket operation is bounded by
// `timeout`; the result is empty when the handshake did not complete in that time.
// `think`: wait this long between the handshake and the request (a client that looks at the
// certificate first). The connection ends without close_notify, as many clients end it.
inline std::string tls_exchange(std::uint16_t port, const std::string& request,
                                std::chrono::milliseconds timeout,
                                std::chrono::milliseconds think = std::chrono::milliseconds(0)) {
  int s = connect_local(port);
  if (s < 0) return {};
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, s);
  std::string out;
  const bool connected = SSL_connect(ssl) == 1;
  if (connected && think.count() > 0) std::this_thread::sleep_for(think);
  if (connected && SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(s);
  return out;
}

struct CliResult {
  int code;
  std::string output;
};

// `sh -c cmd`: its standard output and exit status (-1 if it did not exit normally).
inline CliResult run_shell(const std::string& cmd) {
  CliResult r{-1, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string shell(const std::string& cmd) { return run_shell(cmd).output; }

// The built `enarx` binary with `args`; stderr is merged into the output or dropped.
inline CliResult run_enarx_cli(const std::string& args, bool with_stderr) {
  return run_shell(std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx " + args +
                   (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace enarx::runtime::test
