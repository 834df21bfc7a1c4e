// The Go example (examples/go-hello, GOOS=wasip1 GOARCH=wasm, built by an unmodified Go
// toolchain) through run_workload() and the `enarx` binary: exact output and exit codes, Go's
// panic and out-of-memory conventions, and Go's netpoller on a listen file over TCP and over the
// runtime's TLS. Skipped when the build had no Go able to target wasip1 (examples/CMakeLists.txt
// says so at configure).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "core/file.h"
#include "runtime/runtime.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using Status = RunResult::Status;
using test::Outcome;

#if ENARX_HAVE_GO_EXAMPLES
#define REQUIRE_GO() (void)0
#else
#define REQUIRE_GO() GTEST_SKIP() << "Go examples not built (no Go >= 1.21 for wasip1)"
#endif

// A Go module is ~3 MB, which TurboFan takes about a second to compile: every test process
// shares one cache in the build tree, so only the first run pays for it.
const CodeCache& go_code_cache() {
  static const CodeCache cache(RUNTIME_GO_CODE_CACHE,
                               CodeCache::load_or_create_key(
                                   std::filesystem::path(RUNTIME_GO_CODE_CACHE) / "key"));
  return cache;
}

Outcome run(Config config, RunOptions o = {}, const AssetTree* assets = nullptr) {
  o.code_cache = &go_code_cache();
  return test::run_captured(test::example_module("go-hello"), std::move(config), std::move(o),
                            assets);
}

Config example_config() {
  return parse_config(read_text_file(test::source_path("examples/go-hello/Enarx.toml")));
}

AssetTree example_assets() {
  return AssetTree::from_directory(test::source_path("examples/go-hello/assets"));
}

// What go-hello prints after the argv and environment lines, with the example's assets.
const char* const kWithAssetsTail =
    "clocks: ok\n"
    "goroutines: 15005000\n"
    "random: ok\n"
    "assets: data/ message.txt\n"
    "message.txt: Hello from a bundled asset, read with package os!\n"
    "data/words.txt from byte 6: beta gamma\n"
    "data/words.txt: 30 bytes, 5 words, sha256 "
    "9b1fb58e2cbcd415aded9af6dfa239cd59c2f5bda776e0e7ce19d8911206d8df\n"
    "write attempt: open /new.txt: Read-only file system\n"
    "escape attempt: refused\n";

TEST(Go, HelloWithConfigAndAssets) {
  REQUIRE_GO();
  Config c = example_config();
  c.args.push_back("--exit=3");
  c.args.push_back("h\xc3\xa9llo w\xc3\xb6rld");  // UTF-8, with a space
  AssetTree assets = example_assets();
  Outcome r = run(c, {}, &assets);
  EXPECT_EQ(r.result.status, Status::Exited) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 3);
  EXPECT_EQ(r.out,
            "Hello from Go! (a wasip1 workload)\n"
            "argv[0]=main.wasm\n"
            "argv[1]=--from-config\n"
            "argv[2]=--exit=3\n"
            "argv[3]=h\xc3\xa9llo w\xc3\xb6rld\n"
            "GREETING=hi from Enarx.toml\n"
            "FD_COUNT=3\n"
            "FD_NAMES=stdin:stdout:stderr\n" +
                std::string(kWithAssetsTail));
  EXPECT_EQ(r.err, "go-hello: exiting with 3\n");
}

TEST(Go, DefaultConfigWithoutAssets) {
  REQUIRE_GO();
  Outcome r = run(default_config());
  EXPECT_EQ(r.result.status, Status::Exited) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 0);
  // Without a preopen Go resolves "/" against no directory fd at all: EBADF.
  EXPECT_EQ(r.out,
            "Hello from Go! (a wasip1 workload)\n"
            "argv[0]=main.wasm\n"
            "GREETING=(unset)\n"
            "FD_COUNT=3\n"
            "FD_NAMES=stdin:stdout:stderr\n"
            "clocks: ok\n"
            "goroutines: 15005000\n"
            "random: ok\n"
            "assets: open /: Bad file number\n");
  EXPECT_EQ(r.err, "go-hello: exiting with 0\n");
}

TEST(Go, ExitCodesPassThrough) {
  REQUIRE_GO();
  RunOptions o;
  o.code_cache = &go_code_cache();
  test::expect_exit_codes_pass_through("go-hello", o);
}

TEST(Go, PanicExitsWithGosCode) {
  REQUIRE_GO();
  Config c = default_config();
  c.args = {"--panic"};
  Outcome r = run(c);
  // Go prints the panic and the goroutine's stack itself, then proc_exit(2): not a trap.
  EXPECT_EQ(r.result.status, Status::Exited) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 2);
  EXPECT_EQ(r.out, "Hello from Go! (a wasip1 workload)\nargv[0]=main.wasm\nargv[1]=--panic\n");
  const std::string head = "panic: asked to panic\n\ngoroutine 1 [running]:\nmain.main()\n\t./main.go:";
  EXPECT_EQ(r.err.substr(0, head.size()), head) << r.err;
}

TEST(Go, OutOfMemoryAtTheLimit) {
  REQUIRE_GO();
  RunOptions o;
  o.max_memory = 64u << 20;
  Config c = default_config();
  c.args = {"--alloc-mib=8"};
  Outcome fits = run(c, o);
  EXPECT_EQ(fits.result.exit_code, 0) << fits.result.message << fits.err;
  EXPECT_NE(fits.out.find("allocated 8 MiB\n"), std::string::npos) << fits.out;

  // Go's allocator sees memory.grow fail at the cap and ends the program itself (exit 2).
  c.args = {"--alloc-mib=200"};
  Outcome over = run(c, o);
  EXPECT_EQ(over.result.status, Status::Exited) << over.result.message;
  EXPECT_EQ(over.result.exit_code, 2);
  EXPECT_NE(over.err.find("fatal error: out of memory\n"), std::string::npos) << over.err;
  EXPECT_EQ(over.out.find("allocated"), std::string::npos) << over.out;
}

Config listen_config(const char* prot) {
  return parse_config(std::string("[[files]]\nkind=\"null\"\n[[files]]\nkind=\"stdout\"\n"
                                  "[[files]]\nkind=\"stderr\"\n[[files]]\nkind=\"listen\"\n"
                                  "name=\"ingest\"\naddr=\"127.0.0.1\"\nport=0\nprot=\"") +
                      prot + "\"\n");
}

// go-hello --serve=N on a thread.
class GoServer : public test::BackgroundRun {
 public:
  GoServer(const char* prot, int connections)
      : BackgroundRun(test::example_module("go-hello"), config(prot, connections),
                      std::string(prot) == "tls" ? self_signed_identity() : Identity{},
                      options()) {}

 private:
  static Config config(const char* prot, int connections) {
    Config c = listen_config(prot);
    c.args = {"--serve=" + std::to_string(connections)};
    return c;
  }
  static RunOptions options() {
    RunOptions o;
    o.code_cache = &go_code_cache();
    return o;
  }
};

std::string exchange(int s, const std::string& line) {
  if (::send(s, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return "(send failed)";
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = ::recv(s, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<std::size_t>(n));
  return got;
}

TEST(Go, NetpollerServesConnectionsConcurrently) {
  REQUIRE_GO();
  GoServer server("tcp", 2);
  // The first client stays silent while the second is answered: Go's scheduler must park the
  // first reader on poll_oneoff rather than block the whole program in fd_read.
  int quiet = test::connect_local(server.port());
  int talker = test::connect_local(server.port());
  ASSERT_GE(quiet, 0);
  ASSERT_GE(talker, 0);
  EXPECT_EQ(exchange(talker, "second\n"), "go-hello heard: second\n");
  EXPECT_EQ(exchange(quiet, "first\n"), "go-hello heard: first\n");
  ::close(quiet);
  ::close(talker);
  RunResult r = server.wait();
  EXPECT_EQ(r.status, Status::Exited) << r.message;
  EXPECT_EQ(r.exit_code, 0) << r.message;
  EXPECT_NE(server.out().find("serve: listening\nserve: answered 2\n"), std::string::npos)
      << server.out();
}

TEST(Go, TlsListenerTerminatedByTheRuntime) {
  REQUIRE_GO();
  GoServer server("tls", 1);
  std::string out = test::shell("printf 'over tls\\n' | timeout 20 openssl s_client -connect "
                                 "127.0.0.1:" + std::to_string(server.port()) +
                                 " -servername localhost -quiet 2>&1");
  EXPECT_NE(out.find("go-hello heard: over tls\n"), std::string::npos) << out;
  EXPECT_NE(out.find("CN = localhost"), std::string::npos) << out;  // the runtime's identity
  RunResult r = server.wait();
  EXPECT_EQ(r.exit_code, 0) << r.message;
}

// Go polls the listener (poll_oneoff) and accepts only when it is readable. A listener that
// looked readable for a bare TCP connection made the accept shake hands inline: a silent
// client stalled the whole program for 10 s. Readable now means a finished handshake is queued.
TEST(Go, StalledTlsHandshakesDoNotStallTheNetpoller) {
  REQUIRE_GO();
  GoServer server("tls", 1);
  int silent[3];
  for (int& s : silent) {
    s = test::connect_local(server.port());
    ASSERT_GE(s, 0);
  }
  auto t0 = std::chrono::steady_clock::now();
  std::string out = test::tls_exchange(server.port(), "over tls\n", std::chrono::seconds(8));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(out, "go-hello heard: over tls\n");
  EXPECT_LT(took, std::chrono::seconds(2))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  for (int s : silent) ::close(s);
  RunResult r = server.wait();
  EXPECT_EQ(r.exit_code, 0) << r.message;
}

TEST(Go, EnarxRunCli) {
  REQUIRE_GO();
  test::CliResult r = test::run_enarx_cli(
      "run --code-cache " + std::string(RUNTIME_GO_CODE_CACHE) + " --wasmcfgfile " +
          test::source_path("examples/go-hello/Enarx.toml") + " --assets " +
          test::source_path("examples/go-hello/assets") + " " +
          test::example_module("go-hello") + " -- --exit=9 extra",
      false);
  EXPECT_EQ(r.code, 9) << r.output;
  EXPECT_EQ(r.output,
            "Hello from Go! (a wasip1 workload)\n"
            "argv[0]=main.wasm\n"
            "argv[1]=--from-config\n"
            "argv[2]=--exit=9\n"
            "argv[3]=extra\n"
            "GREETING=hi from Enarx.toml\n"
            "FD_COUNT=3\n"
            "FD_NAMES=stdin:stdout:stderr\n" +
                std::string(kWithAssetsTail));
}

}  // namespace
}  // namespace enarx::runtime
