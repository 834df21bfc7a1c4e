// The Rust example (examples/rust-hello, Rust std for wasm32-wasi built by rustc) through
// run_workload() and the `enarx` binary: exact stdout/stderr and exit codes. Skipped when the
// build had no rustc able to target wasm32-wasi (examples/CMakeLists.txt says so at configure).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "core/file.h"
#include "runtime/runtime.h"
#include "test_util.h"

namespace enarx::runtime {
namespace {

using Status = RunResult::Status;

#if ENARX_HAVE_RUST_EXAMPLES
#define REQUIRE_RUST() (void)0
#else
#define REQUIRE_RUST() GTEST_SKIP() << "Rust examples not built (no rustc for wasm32-wasi)"
#endif

using test::Outcome;

Outcome run(Config config, RunOptions o = {}, const AssetTree* assets = nullptr) {
  return test::run_captured(test::example_module("rust-hello"), std::move(config), std::move(o), assets);
}

Config example_config() {
  return parse_config(read_text_file(test::source_path("examples/rust-hello/Enarx.toml")));
}

AssetTree example_assets() {
  return AssetTree::from_directory(test::source_path("examples/rust-hello/assets"));
}

// What rust-hello prints after its argv lines when run with the example's Enarx.toml and assets.
const char* const kConfiguredWithAssetsTail =
    "GREETING=hi from Enarx.toml\n"
    "FD_COUNT=3\n"
    "FD_NAMES=stdin:stdout:stderr\n"
    "clocks: ok\n"
    "assets: data/ message.txt\n"
    "message.txt: Hello from a bundled asset, read with std::fs!\n"
    "data/words.txt from byte 6: beta gamma\n"
    "data/words.txt: 31 bytes, 5 words\n"
    "write attempt: Read-only file system (os error 69)\n";

TEST(Rust, HelloWithConfigAndAssets) {
  REQUIRE_RUST();
  Config c = example_config();
  c.args.push_back("--exit=3");
  c.args.push_back("h\xc3\xa9llo w\xc3\xb6rld");  // UTF-8, with a space
  AssetTree assets = example_assets();
  Outcome r = run(c, {}, &assets);
  EXPECT_EQ(r.result.status, Status::Exited) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 3);
  EXPECT_EQ(r.out,
            "Hello from Rust! (a wasm32-wasi workload)\n"
            "argv[0]=main.wasm\n"
            "argv[1]=--from-config\n"
            "argv[2]=--exit=3\n"
            "argv[3]=h\xc3\xa9llo w\xc3\xb6rld\n"
            + std::string(kConfiguredWithAssetsTail));
  EXPECT_EQ(r.err, "rust-hello: exiting with 3\n");
}

TEST(Rust, DefaultConfigWithoutAssets) {
  REQUIRE_RUST();
  Outcome r = run(default_config());
  EXPECT_EQ(r.result.status, Status::Exited) << r.result.message;
  EXPECT_EQ(r.result.exit_code, 0);
  EXPECT_EQ(r.out,
            "Hello from Rust! (a wasm32-wasi workload)\n"
            "argv[0]=main.wasm\n"
            "GREETING=(unset)\n"
            "FD_COUNT=3\n"
            "FD_NAMES=stdin:stdout:stderr\n"
            "clocks: ok\n"
            "assets: failed to find a pre-opened file descriptor through which \"/\" could be "
            "opened\n");
  EXPECT_EQ(r.err, "rust-hello: exiting with 0\n");
}

TEST(Rust, AssetsFoundBehindSocketFds) {
  REQUIRE_RUST();
  // A listen socket takes fd 3; Rust's std (via wasi-libc's preopen scan) must still find "/".
  Config c = parse_config(
      "[[files]]\nkind=\"stdin\"\n[[files]]\nkind=\"stdout\"\n[[files]]\nkind=\"stderr\"\n"
      "[[files]]\nkind=\"listen\"\nname=\"ingest\"\nprot=\"tcp\"\nport=0\naddr=\"127.0.0.1\"\n");
  AssetTree assets = example_assets();
  Outcome r = run(c, {}, &assets);
  EXPECT_EQ(r.result.exit_code, 0) << r.result.message;
  EXPECT_NE(r.out.find("FD_COUNT=4\nFD_NAMES=stdin:stdout:stderr:ingest\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("message.txt: Hello from a bundled asset, read with std::fs!\n"),
            std::string::npos)
      << r.out;
}

TEST(Rust, ExitCodesPassThrough) {
  REQUIRE_RUST();
  test::expect_exit_codes_pass_through("rust-hello");
}

TEST(Rust, PanicIsATrap) {
  REQUIRE_RUST();
  Config c = default_config();
  c.args = {"--panic"};
  Outcome r = run(c);
  EXPECT_EQ(r.result.status, Status::Trapped);
  EXPECT_EQ(r.result.exit_code, 134);
  EXPECT_EQ(r.result.error_code, "runtime.trap");
  EXPECT_NE(r.result.message.find("unreachable"), std::string::npos) << r.result.message;
  EXPECT_EQ(r.out, "Hello from Rust! (a wasm32-wasi workload)\nargv[0]=main.wasm\nargv[1]=--panic\n");
  // The panic line names the source as remapped by the build (examples/…), then its line.
  const std::string head = "thread 'main' panicked at 'asked to panic', examples/rust-hello/main.rs:";
  const std::string tail =
      "\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
  EXPECT_EQ(r.err.substr(0, head.size()), head) << r.err;
  ASSERT_GE(r.err.size(), head.size() + tail.size()) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - tail.size()), tail) << r.err;
}

TEST(Rust, AllocationFailureAtMemoryLimit) {
  REQUIRE_RUST();
  Config c = default_config();
  c.args = {"--alloc-mib=4"};
  RunOptions o;
  o.max_memory = 8u << 20;
  Outcome fits = run(c, o);
  EXPECT_EQ(fits.result.status, Status::Exited) << fits.result.message;
  EXPECT_NE(fits.out.find("allocated 4 MiB\n"), std::string::npos) << fits.out;

  c.args = {"--alloc-mib=64"};
  Outcome over = run(c, o);
  EXPECT_EQ(over.result.status, Status::MemoryLimit) << over.result.message;
  EXPECT_EQ(over.result.exit_code, 137);
  EXPECT_EQ(over.result.error_code, "runtime.limit.memory");
  EXPECT_EQ(over.err, "memory allocation of 1048576 bytes failed\n");
}

test::CliResult enarx(const std::string& args) { return test::run_enarx_cli(args, false); }

TEST(Rust, EnarxRunCli) {
  REQUIRE_RUST();
  test::CliResult r = enarx("run --wasmcfgfile " + test::source_path("examples/rust-hello/Enarx.toml") +
                      " --assets " + test::source_path("examples/rust-hello/assets") + " " +
                      test::example_module("rust-hello") + " -- --exit=9 extra");
  EXPECT_EQ(r.code, 9) << r.output;
  EXPECT_EQ(r.output,
            "Hello from Rust! (a wasm32-wasi workload)\n"
            "argv[0]=main.wasm\n"
            "argv[1]=--from-config\n"
            "argv[2]=--exit=9\n"
            "argv[3]=extra\n"
            + std::string(kConfiguredWithAssetsTail));
}

}  // namespace
}  // namespace enarx::runtime
