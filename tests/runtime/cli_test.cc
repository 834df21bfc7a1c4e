// `enarx run` as a user runs it: flags, exit codes and messages of the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/file.h"
#include "runtime/engine.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using Result = test::CliResult;
Result enarx(const std::string& args) { return test::run_enarx_cli(args, true); }

TEST(Cli, RunHello) {
  Result r = enarx("run --wasmcfgfile " + test::source_path("examples/hello/Enarx.toml") + " " +
                   test::example_module("hello") + " -- --exit=7 extra");
  EXPECT_EQ(r.code, 7) << r.output;
  EXPECT_NE(r.output.find("argv[2]=--exit=7"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("argv[3]=extra"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GREETING=hi from Enarx.toml"), std::string::npos) << r.output;
}

// The V8 engine (libenarx-v8.so, and with it libnode) is loaded only by commands that run wasm:
// the dynamic loader's own trace (glibc LD_DEBUG=files) lists every object it maps.
TEST(Cli, EngineLoadedOnlyToRunWasm) {
  ::setenv("LD_DEBUG", "files", 1);
  Result version = enarx("--version");
  Result run = enarx("run " + test::example_module("hello"));
  ::unsetenv("LD_DEBUG");
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_EQ(version.output.find("libnode"), std::string::npos) << version.output;
  EXPECT_EQ(version.output.find("libenarx-v8"), std::string::npos) << version.output;
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("libenarx-v8.so"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("libnode.so"), std::string::npos) << run.output;
  // libcurl is loaded on the first HTTP request only (net/curl_library.h).
  EXPECT_EQ(version.output.find("libcurl"), std::string::npos) << version.output;
  EXPECT_EQ(run.output.find("libcurl"), std::string::npos) << run.output;
}

TEST(Cli, RunFileReaderWithAssets) {
  Result r = enarx("run --assets " + test::source_path("examples/file-reader/assets") + " " +
                   test::example_module("file-reader"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("sum of /data/numbers.txt = 15"), std::string::npos) << r.output;
}

TEST(Cli, ExitCodesForRuntimeOutcomes) {
  Result trap = enarx("run " + test::wat_module("traps"));
  EXPECT_EQ(trap.code, 134) << trap.output;
  EXPECT_NE(trap.output.find("runtime.trap"), std::string::npos) << trap.output;
  EXPECT_NE(trap.output.find("crash_unreachable"), std::string::npos) << trap.output;
  Result spin = enarx("run --time-limit 0.3 " + test::wat_module("spin"));
  EXPECT_EQ(spin.code, 137) << spin.output;
  EXPECT_NE(spin.output.find("runtime.limit.time"), std::string::npos);
  Result cpu = enarx("run --cpu-limit 0.2 " + test::wat_module("spin"));
  EXPECT_EQ(cpu.code, 137) << cpu.output;
  EXPECT_NE(cpu.output.find("runtime.limit.cpu"), std::string::npos) << cpu.output;
  EXPECT_NE(cpu.output.find("CPU time limit of 200 ms"), std::string::npos) << cpu.output;
  Result mem = enarx("run --max-memory 2 " + test::wat_module("grow"));
  EXPECT_EQ(mem.code, 137) << mem.output;
  EXPECT_NE(mem.output.find("runtime.limit.memory"), std::string::npos);

  TempDir tmp;
  write_file_atomic(tmp.path() / "bad.toml", std::string_view("[[files]]\nkind = \"pipe\"\n"));
  Result cfg = enarx("run --wasmcfgfile " + (tmp.path() / "bad.toml").string() + " " +
                     test::example_module("hello"));
  EXPECT_EQ(cfg.code, 78) << cfg.output;
  EXPECT_NE(cfg.output.find("files[0].kind"), std::string::npos) << cfg.output;
  write_file_atomic(tmp.path() / "junk.wasm", std::string_view("junk"));
  Result junk = enarx("run " + (tmp.path() / "junk.wasm").string());
  EXPECT_EQ(junk.code, 78) << junk.output;
  EXPECT_NE(junk.output.find("runtime.module.invalid"), std::string::npos);
  Result usage = enarx("run");
  EXPECT_EQ(usage.code, 2) << usage.output;
}

// The cache tests below compile eagerly: a tiered run of hello ends before its background
// compile has finished and so, by design, stores nothing (see TieredRunCachesOnceOptimised).
TEST(Cli, CodeCacheDirectory) {
  TempDir tmp;
  std::string dir = (tmp.path() / "cache").string();
  for (int i = 0; i < 2; ++i) {
    Result r =
        enarx("run --compile eager --code-cache " + dir + " " + test::example_module("hello"));
    EXPECT_EQ(r.code, 0) << r.output;
  }
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) entries += e.path().extension() == ".code";
  EXPECT_EQ(entries, 1);
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "cache" / "key"));
}

int code_entries(const std::filesystem::path& dir) {
  int n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) n += e.path().extension() == ".code";
  return n;
}

// Code compiled for explicit bounds checks and code compiled for guard pages are different
// entries: neither mode is ever offered the other's code (guard-page code has no bounds checks,
// so run on memory without guard regions it would not be memory-safe; whether V8 would refuse
// it by itself is not relied on). Under ASan both flags mean bounds checks: one entry.
TEST(Cli, CodeCacheIsKeyedByBoundsCheckMode) {
  TempDir tmp;
  std::string dir = (tmp.path() / "cache").string();
  std::string hello = test::example_module("hello");
  Result r = enarx("run --compile eager --no-trap-handler --code-cache " + dir + " " + hello);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(code_entries(dir), 1);
  const int both = trap_handler_supported() ? 2 : 1;
  for (int i = 0; i < 2; ++i) {
    r = enarx("run --compile eager --code-cache " + dir + " " + hello);
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(code_entries(dir), both);
  }
  r = enarx("run --compile eager --no-trap-handler --code-cache " + dir + " " + hello);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(code_entries(dir), both);
}

// Without --code-cache, `enarx run` caches under $ENARX_CODE_CACHE, else $XDG_CACHE_HOME/enarx/code,
// else ~/.cache/enarx/code; --no-code-cache leaves no trace.
TEST(Cli, DefaultCodeCache) {
  TempDir tmp;
  const auto xdg = tmp.path() / "xdg", home = tmp.path() / "home", explicit_dir = tmp.path() / "env";
  std::filesystem::create_directories(home);
  const std::string hello = test::example_module("hello");
  ::setenv("XDG_CACHE_HOME", xdg.c_str(), 1);
  ::unsetenv("ENARX_CODE_CACHE");
  for (int i = 0; i < 2; ++i) {
    Result r = enarx("run --compile eager " + hello);
    EXPECT_EQ(r.code, 0) << r.output;
  }
  EXPECT_EQ(code_entries(xdg / "enarx" / "code"), 1);
  const auto perms = std::filesystem::status(xdg / "enarx" / "code").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  EXPECT_EQ(std::filesystem::status(xdg / "enarx" / "code" / "key").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", home.c_str(), 1);
  Result r = enarx("run --compile eager --no-code-cache " + hello);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(home / ".cache"));
  r = enarx("run --compile eager " + hello);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(code_entries(home / ".cache" / "enarx" / "code"), 1);

  ::setenv("ENARX_CODE_CACHE", explicit_dir.c_str(), 1);
  r = enarx("run --compile eager " + hello);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(code_entries(explicit_dir), 1);
  ::unsetenv("ENARX_CODE_CACHE");

  r = enarx("run --compile eager --no-code-cache --code-cache " + explicit_dir.string() + " " +
            hello);
  EXPECT_NE(r.code, 0) << r.output;  // contradictory flags are a usage error
}

// Runs racing on a fresh cache directory agree on one key, so every entry stays usable.
TEST(Cli, ConcurrentFirstRunsShareOneKey) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "cache").string();
  const std::string cmd =
      "run --compile eager --code-cache " + dir + " " + test::example_module("hello");
  std::vector<std::thread> runs;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i)
    runs.emplace_back([&] { failures += enarx(cmd).code != 0; });
  for (auto& t : runs) t.join();
  EXPECT_EQ(failures.load(), 0);
  const Bytes key = read_file(tmp.path() / "cache" / "key");
  EXPECT_EQ(key.size(), 32u);
  int leftovers = 0;
  for (auto& e : std::filesystem::directory_iterator(dir))
    leftovers += e.path().filename().string().rfind("key.new.", 0) == 0;
  EXPECT_EQ(leftovers, 0);
  ASSERT_EQ(code_entries(dir), 1);
  // The entry authenticates under the one key: a further run uses it instead of replacing it.
  std::filesystem::path entry;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".code") entry = e.path();
  const auto written = std::filesystem::last_write_time(entry);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(enarx(cmd).code, 0);
  EXPECT_EQ(std::filesystem::last_write_time(entry), written);
}

// The default compile mode is tiered: the run starts on baseline code, and once the background
// compile has finished (well within the second this spinning module runs) the optimised code is
// stored, so the next run of the module starts from it.
TEST(Cli, TieredRunCachesOnceOptimised) {
  TempDir tmp;
  const auto dir = tmp.path() / "cache";
  const std::string spin = test::wat_module("spin");
  Result r = enarx("run --code-cache " + dir.string() + " --time-limit 1 " + spin);
  EXPECT_EQ(r.code, 137) << r.output;
  EXPECT_EQ(code_entries(dir), 1);
  r = enarx("run --compile tiered --code-cache " + dir.string() + " " +
            test::example_module("hello"));
  EXPECT_EQ(r.code, 0) << r.output;
  r = enarx("run --compile bogus " + test::example_module("hello"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--compile"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace enarx::runtime
