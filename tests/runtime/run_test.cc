// run_workload(): every example with its Enarx.toml, exit codes, traps and limits.
#include "runtime/runtime.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using Status = RunResult::Status;

using test::Outcome;

Outcome run(const std::string& wasm_path, Config config, RunOptions o = {}, const AssetTree* assets = nullptr) {
  return test::run_captured(wasm_path, std::move(config), std::move(o), assets);
}


Config example_config(const std::string& name) {
  return parse_config(read_text_file(test::source_path("examples/" + name + "/Enarx.toml")));
}

TEST(Run, HelloWithConfig) {
  Config c = example_config("hello");
  c.args.push_back("--exit=3");
  Outcome r = run(test::example_module("hello"), c);
  EXPECT_EQ(r.result.status, Status::Exited);
  EXPECT_EQ(r.result.exit_code, 3);
  EXPECT_NE(r.out.find("Hello, world!"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("argv[0]=main.wasm"), std::string::npos);
  EXPECT_NE(r.out.find("argv[1]=--from-config"), std::string::npos);
  EXPECT_NE(r.out.find("argv[2]=--exit=3"), std::string::npos);
  EXPECT_NE(r.out.find("GREETING=hi from Enarx.toml"), std::string::npos);
  EXPECT_NE(r.out.find("FD_COUNT=3"), std::string::npos);
  EXPECT_NE(r.out.find("FD_NAMES=stdin:stdout:stderr"), std::string::npos);
  EXPECT_EQ(r.err, "hello: exiting with 3\n");
}

TEST(Run, HelloDefaultConfigExitsZero) {
  Outcome r = run(test::example_module("hello"), default_config());
  EXPECT_EQ(r.result.exit_code, 0);
  EXPECT_NE(r.out.find("GREETING=(unset)"), std::string::npos);
}

TEST(Run, NullStdoutDiscards) {
  Config c = parse_config("[[files]]\nkind=\"stdin\"\n[[files]]\nkind=\"null\"\n[[files]]\nkind=\"stderr\"\n");
  Outcome r = run(test::example_module("hello"), c);
  EXPECT_EQ(r.result.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("exiting with 0"), std::string::npos);
}

TEST(Run, FileReaderReadsBundledAssets) {
  AssetTree assets = AssetTree::from_directory(test::source_path("examples/file-reader/assets"));
  Config c = example_config("file-reader");
  c.args = {"/data/../greeting.txt", "/../../etc/passwd"};
  Outcome r = run(test::example_module("file-reader"), c, {}, &assets);
  EXPECT_NE(r.out.find("entry: numbers.txt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Hello from a bundled asset!"), std::string::npos);
  EXPECT_NE(r.out.find("sum of /data/numbers.txt = 15"), std::string::npos);
  EXPECT_NE(r.out.find("write attempt: Read-only file system"), std::string::npos) << r.out;
  // wasi-libc hands "../../etc/passwd" to path_open under the "/" preopen: an escape.
  EXPECT_NE(r.out.find("open /../../etc/passwd: Capabilities insufficient"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.result.exit_code, 1);  // the second extra file failed
}

TEST(Run, FileReaderWithoutAssets) {
  Outcome r = run(test::example_module("file-reader"), example_config("file-reader"));
  EXPECT_EQ(r.result.exit_code, 2);
  EXPECT_NE(r.out.find("opendir /data"), std::string::npos) << r.out;
}

TEST(Run, PreopenFoundAfterSockets) {
  // A listen socket at fd 3 must not hide the assets preopened at fd 4 from wasi-libc.
  AssetTree assets = AssetTree::from_directory(test::source_path("examples/file-reader/assets"));
  Config c = parse_config(R"(
[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = "tcp"
name = "x"
addr = "127.0.0.1"
port = 0
)");
  Outcome r = run(test::example_module("file-reader"), c, {}, &assets);
  EXPECT_NE(r.out.find("sum of /data/numbers.txt = 15"), std::string::npos) << r.out;
}

TEST(Run, TrapReportsFunction) {
  Outcome r = run(test::wat_module("traps"), default_config());
  EXPECT_EQ(r.result.status, Status::Trapped);
  EXPECT_EQ(r.result.exit_code, kExitTrap);
  EXPECT_EQ(r.result.error_code, "runtime.trap");
  EXPECT_NE(r.result.message.find("unreachable"), std::string::npos) << r.result.message;
  EXPECT_NE(r.result.message.find("crash_unreachable"), std::string::npos) << r.result.message;
}

// Runs `module` under `o` and expects a time-type limit with error `code` and exit 137.
void expect_stopped_by(const std::string& module, const RunOptions& o, const std::string& code) {
  Outcome r = run(module, default_config(), o);
  EXPECT_EQ(r.result.status, Status::TimeLimit) << r.result.message;
  EXPECT_EQ(r.result.exit_code, kExitLimit);
  EXPECT_EQ(r.result.error_code, code) << r.result.message;
}

TEST(Run, TimeLimit) {
  RunOptions o;
  o.time_limit = std::chrono::milliseconds(300);
  expect_stopped_by(test::wat_module("spin"), o, "runtime.limit.time");
  // Also while blocked in a host call (poll_oneoff sleeping 10 s).
  auto t0 = std::chrono::steady_clock::now();
  expect_stopped_by(test::wat_module("sleep"), o, "runtime.limit.time");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(Run, CpuTimeLimitCountsComputeNotWaiting) {
  RunOptions o;
  o.cpu_time_limit = std::chrono::milliseconds(200);
  expect_stopped_by(test::wat_module("spin"), o, "runtime.limit.cpu");
  // Blocked in poll_oneoff the workload uses no CPU: only the wall-clock limit stops it.
  o.time_limit = std::chrono::milliseconds(1200);
  auto t0 = std::chrono::steady_clock::now();
  expect_stopped_by(test::wat_module("sleep"), o, "runtime.limit.time");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1150));
  // A workload well inside its budget just runs.
  o = {};
  o.cpu_time_limit = std::chrono::seconds(20);
  Outcome r = run(test::example_module("hello"), default_config(), o);
  EXPECT_EQ(r.result.status, Status::Exited) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 0);
}

TEST(Run, MemoryLimit) {
  RunOptions o;
  o.max_memory = 2 << 20;
  Outcome r = run(test::wat_module("grow"), default_config(), o);
  EXPECT_EQ(r.result.status, Status::MemoryLimit);
  EXPECT_EQ(r.result.exit_code, kExitLimit);
  r = run(test::wat_module("big_memory"), default_config(), o);
  EXPECT_EQ(r.result.status, Status::MemoryLimit);
  EXPECT_EQ(r.result.error_code, "runtime.limit.memory");
  // Enough memory: hello still runs.
  o.max_memory = 16 << 20;
  EXPECT_EQ(run(test::example_module("hello"), default_config(), o).result.exit_code, 0);
}

TEST(Run, ModuleAndConfigErrors) {
  TempDir tmp;
  write_file_atomic(tmp.path() / "junk.wasm", std::string_view("junk"));
  Outcome r = run((tmp.path() / "junk.wasm").string(), default_config());
  EXPECT_EQ(r.result.status, Status::ModuleError);
  EXPECT_EQ(r.result.exit_code, kExitConfig);
  EXPECT_EQ(r.result.error_code, "runtime.module.invalid");

  r = run(test::wat_module("wasi_probe"), default_config());  // has _start: fine
  EXPECT_EQ(r.result.exit_code, 0);

  // A TLS listener without an identity.
  Config c = parse_config("[[files]]\nkind=\"listen\"\nprot=\"tls\"\nname=\"a\"\naddr=\"127.0.0.1\"\nport=0\n");
  r = run(test::example_module("hello"), c);
  EXPECT_EQ(r.result.status, Status::ConfigError);
  EXPECT_EQ(r.result.exit_code, kExitConfig);
  EXPECT_EQ(r.result.error_code, "runtime.tls.identity");

  // Nothing listens on the port a connect entry names.
  c = parse_config("[[files]]\nkind=\"connect\"\nprot=\"tcp\"\nhost=\"127.0.0.1\"\nport=1\n");
  r = run(test::example_module("hello"), c);
  EXPECT_EQ(r.result.status, Status::ConfigError);
  EXPECT_EQ(r.result.error_code, "runtime.net.connect");
}

// The bounds hold for what the guest gets, not only for what Enarx.toml held: args added after
// `--` (or a Config built by hand) are counted with argv[0] and the environment.
TEST(Run, ArgsAndFilesBoundedWhateverTheirSource) {
  Config c = default_config();
  c.args.assign(kMaxArgs - 1, "");
  EXPECT_EQ(run(test::wat_module("exit"), c).result.error_code, "runtime.exit_code");
  c.args.push_back("");
  Outcome r = run(test::wat_module("exit"), c);
  EXPECT_EQ(r.result.status, Status::ConfigError);
  EXPECT_EQ(r.result.exit_code, kExitConfig);
  EXPECT_EQ(r.result.error_code, "runtime.config.too_large");
  c.args = {std::string(kMaxArgEnvBytes, 'a')};
  EXPECT_EQ(run(test::wat_module("exit"), c).result.error_code, "runtime.config.too_large");
  c = default_config();
  c.files.resize(kMaxFiles + 1);
  r = run(test::wat_module("exit"), c);
  EXPECT_EQ(r.result.error_code, "runtime.config.too_large");
  EXPECT_EQ(r.result.exit_code, kExitConfig);
}

TEST(Run, ExitCodeOutOfRange) {
  Outcome r = run(test::wat_module("exit"), default_config());
  EXPECT_EQ(r.result.exit_code, kExitFailure);
  EXPECT_EQ(r.result.error_code, "runtime.exit_code");
}

TEST(Run, CodeCacheSecondRunLoadsCode) {
  TempDir tmp;
  CodeCache cache(tmp.path(), Bytes(32, 9));
  RunOptions o;
  o.code_cache = &cache;
  Outcome r1 = run(test::example_module("hello"), default_config(), o);
  EXPECT_EQ(r1.result.exit_code, 0);
  EXPECT_FALSE(r1.result.code_from_cache);
  Outcome r2 = run(test::example_module("hello"), default_config(), o);
  EXPECT_EQ(r2.result.exit_code, 0);
  EXPECT_TRUE(r2.result.code_from_cache);
  EXPECT_TRUE(r1.result.code_cache_stored);
  EXPECT_FALSE(r2.result.code_cache_stored);
  EXPECT_EQ(r1.out, r2.out);
}

// Tiered compile (its own process under CTest: the V8 mode is chosen once per process). Nothing
// can be stored right after the baseline compile; once the run has outlasted the background
// compile, the optimised code is stored and the next run loads it.
TEST(Run, TieredCompileStoresOptimisedCodeAfterTheRun) {
  TempDir tmp;
  CodeCache cache(tmp.path(), Bytes(32, 7));
  RunOptions o;
  o.engine.optimize = false;
  o.code_cache = &cache;
  o.time_limit = std::chrono::milliseconds(1000);
  Outcome r1 = run(test::wat_module("spin"), default_config(), o);
  EXPECT_EQ(r1.result.status, RunResult::Status::TimeLimit) << r1.result.message;
  EXPECT_FALSE(r1.result.code_from_cache);
  EXPECT_TRUE(r1.result.code_cache_stored);
  Outcome r2 = run(test::wat_module("spin"), default_config(), o);
  EXPECT_EQ(r2.result.status, RunResult::Status::TimeLimit) << r2.result.message;
  EXPECT_TRUE(r2.result.code_from_cache);
  EXPECT_FALSE(r2.result.code_cache_stored);

  Outcome hello = run(test::example_module("hello"), default_config(), o);
  EXPECT_EQ(hello.result.exit_code, 0) << hello.result.message;
  EXPECT_NE(hello.out.find("Hello"), std::string::npos) << hello.out;
}

}  // namespace
}  // namespace enarx::runtime
