// `enarx run` as a user runs it: flags, exit codes and messages of the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "core/file.h"
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

TEST(Cli, CodeCacheDirectory) {
  TempDir tmp;
  std::string dir = (tmp.path() / "cache").string();
  for (int i = 0; i < 2; ++i) {
    Result r = enarx("run --code-cache " + dir + " " + test::example_module("hello"));
    EXPECT_EQ(r.code, 0) << r.output;
  }
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) entries += e.path().extension() == ".code";
  EXPECT_EQ(entries, 1);
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "cache" / "key"));
}

}  // namespace
}  // namespace enarx::runtime
