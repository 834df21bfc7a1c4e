// The bounds a workload cannot exceed (docs/runtime.md, "Bounds the workload cannot exceed"),
// each proved by performing the attack on the real `enarx` binary: a child process whose peak
// resident memory (wait4's ru_maxrss), wall-clock time and exit status are measured.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "core/file.h"
#include "support/process.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using Clock = std::chrono::steady_clock;
constexpr long kMiB = 1024;  // ru_maxrss is in KiB

struct Child {
  int code = -1;        // exit status, or -1 when it did not exit (killed)
  double seconds = 0;   // wall clock from spawn to exit
  double cpu_seconds = 0;  // user + system, all its threads
  long max_rss_kib = 0;
  std::string err;      // its stderr (when not redirected by the caller)
};

// Runs `enarx <args>` with stdin from /dev/null, stdout on `out_fd` (-1: /dev/null) and stderr
// on `err_fd` (-1: captured into Child::err). Killed with SIGKILL after `kill_after`.
Child spawn_enarx(const std::vector<std::string>& args, int out_fd = -1, int err_fd = -1,
                  std::chrono::seconds kill_after = std::chrono::seconds(60)) {
  TempDir tmp;
  test::CaptureFile err(tmp, "err");
  std::string bin = std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx";
  std::vector<std::string> all = {bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int child_out = out_fd >= 0 ? out_fd : null_fd;
  int child_err = err_fd >= 0 ? err_fd : err.fd();
  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null_fd, 0);
    ::dup2(child_out, 1);
    ::dup2(child_err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(null_fd);
  Child c;
  if (pid < 0) return c;
  int status = 0;
  rusage ru{};
  bool killed = false;
  for (;;) {
    pid_t r = ::wait4(pid, &status, WNOHANG, &ru);
    if (r == pid) break;
    if (!killed && Clock::now() - start > kill_after) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  c.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  c.max_rss_kib = ru.ru_maxrss;
  c.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  c.err = err.text();
  return c;
}

std::string describe(const Child& c) {
  return "exit " + std::to_string(c.code) + " after " + std::to_string(c.seconds) + " s (CPU " +
         std::to_string(c.cpu_seconds) + " s), peak RSS " +
         std::to_string(c.max_rss_kib / kMiB) + " MiB, stderr: " + c.err.substr(0, 2000);
}

// --- 1. paths --------------------------------------------------------------------------------

// Every path-taking call gets a 64 MiB path (`a/a/…`, then `./././…`) from a guest limited to
// 100 MiB of memory. Before the bound, resolving it split the whole path into a vector of
// components first: ~1 GiB of host memory per call for a 64 MiB path.
TEST(Bounds, HugePathsAreRefusedBeforeAnyHostWork) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "assets");
  write_file_atomic(tmp.path() / "assets" / "x.txt", std::string_view("x"));
  std::vector<std::string> run = {"run", "--no-code-cache", "--max-memory", "100",
                                  "--assets", (tmp.path() / "assets").string()};
  TempDir outdir;
  test::CaptureFile out(outdir, "out");
  std::vector<std::string> baseline_args = run;
  baseline_args.insert(baseline_args.end(), {test::wat_module("long_path"), "--", "baseline"});
  Child baseline = spawn_enarx(baseline_args);
  ASSERT_NE(baseline.code, -1) << describe(baseline);

  std::vector<std::string> attack_args = run;
  attack_args.push_back(test::wat_module("long_path"));
  Child attack = spawn_enarx(attack_args, out.fd());
  std::string printed = out.text();
  EXPECT_EQ(attack.code, 0) << describe(attack) << "\n" << printed;
  for (const char* call : {"path_open", "path_filestat_get", "path_readlink",
                           "path_create_directory", "path_remove_directory", "path_unlink_file",
                           "path_rename", "path_link", "path_symlink", "path_filestat_set_times"}) {
    std::string want = std::string(call) + "=37\n";
    std::size_t first = printed.find(want);
    EXPECT_NE(first, std::string::npos) << call << ": " << printed;
    if (first != std::string::npos) {  // once for a/a/…, once for ./././…
      EXPECT_NE(printed.find(want, first + 1), std::string::npos) << call << ": " << printed;
    }
  }
  std::printf("baseline: %s\nattack: %s\n", describe(baseline).c_str(), describe(attack).c_str());
  EXPECT_LT(attack.max_rss_kib - baseline.max_rss_kib, 200 * kMiB);
  EXPECT_LT(attack.seconds, 5.0);
}

// --- 2. Enarx.toml ---------------------------------------------------------------------------

// 4 million empty args are a 12 MB Enarx.toml; parsed and copied they took 540 MiB of host
// memory (toml++ nodes, then std::strings, then the guest's argv). Now the file is refused by
// its size, and within the size the most a file can make toml++ build (a third of a million
// empty inline tables) is refused by the count of args, both as configuration errors with the
// host's memory below a plain run's.
TEST(Bounds, EnarxTomlThatExpandsIsRefused) {
  TempDir tmp;
  std::string huge = "args = [";
  for (int i = 0; i < 4'000'000; ++i) huge += "\"\",";
  huge += "]\n";
  write_file_atomic(tmp.path() / "huge.toml", huge);
  std::string dense = "args = [";
  while (dense.size() + 5 < (1u << 20)) dense += "{},";
  dense += "]\n";
  write_file_atomic(tmp.path() / "dense.toml", dense);
  Child baseline = spawn_enarx({"run", "--no-code-cache", test::wat_module("exit")});
  for (const char* file : {"huge.toml", "dense.toml"}) {
    Child attack = spawn_enarx({"run", "--no-code-cache", "--wasmcfgfile",
                                (tmp.path() / file).string(), test::wat_module("exit")});
    std::printf("baseline: %s\n%s: %s\n", describe(baseline).c_str(), file,
                describe(attack).c_str());
    EXPECT_EQ(attack.code, 78) << file;
    EXPECT_NE(attack.err.find("runtime.config.too_large"), std::string::npos) << file;
    EXPECT_LT(attack.max_rss_kib - baseline.max_rss_kib, 100 * kMiB) << file;
  }
}

// Args that fit the configuration bounds (1 MB of them) but not, next to hello's own 128 KiB,
// in a 1 MiB memory: wasi-libc's start-up cannot allocate argv and exits 70 (EX_SOFTWARE)
// before main. That exit code used to be all anyone saw.
TEST(Bounds, ArgsThatDoNotFitGuestMemoryAreReported) {
  TempDir tmp;
  std::string toml = "args = [";
  for (int i = 0; i < 10; ++i) toml += "\"" + std::string(100'000, 'a') + "\",";
  toml += "]\n";
  write_file_atomic(tmp.path() / "Enarx.toml", toml);
  Child c = spawn_enarx({"run", "--no-code-cache", "--max-memory", "1", "--wasmcfgfile",
                         (tmp.path() / "Enarx.toml").string(), test::example_module("hello")});
  std::printf("%s\n", describe(c).c_str());
  EXPECT_EQ(c.code, 137) << describe(c);
  EXPECT_NE(c.err.find("runtime.limit.memory"), std::string::npos) << describe(c);
  EXPECT_NE(c.err.find("arguments and environment"), std::string::npos) << describe(c);

  // Through run_workload (the deploy flow's entry point), with a memory limit smaller than the
  // arguments alone: refused before the workload starts.
  Config config = default_config();
  for (int i = 0; i < 8; ++i) config.args.push_back(std::string(100'000, 'a'));
  RunOptions o;
  o.max_memory = 512u << 10;
  test::Outcome r = test::run_captured(test::example_module("hello"), config, o);
  EXPECT_EQ(r.result.status, RunResult::Status::MemoryLimit) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 137);
  EXPECT_EQ(r.result.error_code, "runtime.limit.memory");
  EXPECT_NE(r.result.message.find("arguments and environment"), std::string::npos)
      << r.result.message;
  EXPECT_EQ(r.out, "");
}

// --- 3. blocked stdout / stderr --------------------------------------------------------------

// A workload writing to an output nobody reads, with --time-limit 2: it must end at the limit
// (exit 137) instead of blocking in write() for as long as the reader pleases.
void expect_flood_stops_at_time_limit(int out_fd, int err_fd, bool to_stderr) {
  std::vector<std::string> args = {"run", "--no-code-cache", "--time-limit", "2",
                                   test::wat_module("flood")};
  if (to_stderr) args.insert(args.end(), {"--", "stderr"});
  Child c = spawn_enarx(args, out_fd, err_fd, std::chrono::seconds(15));
  std::printf("%s\n", describe(c).c_str());
  EXPECT_EQ(c.code, 137) << describe(c);
  EXPECT_GT(c.seconds, 1.5) << describe(c);
  EXPECT_LT(c.seconds, 5.0) << describe(c);
  if (err_fd < 0) {
    EXPECT_NE(c.err.find("runtime.limit.time"), std::string::npos) << describe(c);
  }
}

TEST(Bounds, StdoutPipeNobodyReadsEndsAtTheTimeLimit) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  expect_flood_stops_at_time_limit(p[1], -1, false);  // the read end stays open, unread
  ::close(p[0]);
  ::close(p[1]);
}

TEST(Bounds, StderrPipeNobodyReadsEndsAtTheTimeLimit) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  expect_flood_stops_at_time_limit(-1, p[1], true);
  ::close(p[0]);
  ::close(p[1]);
}

TEST(Bounds, StdoutSocketNobodyReadsEndsAtTheTimeLimit) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  expect_flood_stops_at_time_limit(s[1], -1, false);
  ::close(s[0]);
  ::close(s[1]);
}

// A terminal whose reader stopped (a stalled ssh session, say): a pseudo-terminal whose master
// side is never read.
TEST(Bounds, StdoutTerminalNobodyReadsEndsAtTheTimeLimit) {
  support::Pty pty;
  ASSERT_TRUE(pty.ok()) << pty.error();
  expect_flood_stops_at_time_limit(pty.slave(), -1, false);
}

// --- 4. long host calls -----------------------------------------------------------------------

// random_get of 1 GiB is seconds of host CPU inside one call, where the watchdog's
// TerminateExecution cannot reach until the call returns: a 1 s limit ended the run after 5-6 s.
TEST(Bounds, RandomGetEndsAtTheTimeAndCpuLimits) {
  for (const char* limit : {"--time-limit", "--cpu-limit"}) {
    Child c = spawn_enarx({"run", "--no-code-cache", "--max-memory", "1100", limit, "1",
                           test::wat_module("random_flood")});
    std::printf("%s 1: %s\n", limit, describe(c).c_str());
    EXPECT_EQ(c.code, 137) << limit;
    EXPECT_NE(c.err.find(std::string(limit) == "--time-limit" ? "runtime.limit.time"
                                                              : "runtime.limit.cpu"),
              std::string::npos)
        << limit;
    // The CPU limit is on CPU time, which a loaded machine hands out slower than the wall clock.
    EXPECT_LT(std::string(limit) == "--time-limit" ? c.seconds : c.cpu_seconds, 2.5) << limit;
  }
}

}  // namespace
}  // namespace enarx::runtime
