// `enarx deploy file://<dir>`: a local package goes through the same steps (identity, run) as a
// published one, with the digest publish would give it, and refuses what it cannot honour.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "client/deploy.h"
#include "core/file.h"
#include "drawbridge/model.h"
#include "simulation/platforms.h"

namespace fs = std::filesystem;
using namespace enarx;

namespace {

fs::path hello_wasm() { return fs::path(ENARX_BINARY_DIR) / "examples" / "hello.wasm"; }

client::DeployStep failing_step(const client::DeployOptions& o, std::string* code = nullptr) {
  try {
    client::deploy(o);
  } catch (const client::DeployError& e) {
    if (code) *code = e.code();
    return e.step();
  }
  ADD_FAILURE() << "deploy succeeded";
  return client::DeployStep::Run;
}

class DeployLocal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(hello_wasm())) GTEST_SKIP() << "examples not built";
    fs::copy_file(hello_wasm(), dir_.path() / "main.wasm");
    write_file_atomic(dir_.path() / "Enarx.toml",
                      "args = [\"--exit=7\"]\n[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n"
                      "[[files]]\nkind = \"stderr\"\n");
    fs::create_directories(dir_.path() / "assets");
    write_file_atomic(dir_.path() / "assets" / "a.txt", "asset");
    options_.package = "file://" + dir_.path().string();
    options_.platform.platform = "nil";
    // The workload's stdout goes to /dev/null, not the test log.
    null_fd_ = ::open("/dev/null", O_WRONLY);
    options_.run.stdout_fd = null_fd_;
  }
  void TearDown() override {
    if (null_fd_ >= 0) ::close(null_fd_);
  }
  TempDir dir_{"deploy-local"};
  client::DeployOptions options_;
  int null_fd_ = -1;
};

TEST_F(DeployLocal, RunsWithThePublishDigestAndASelfSignedIdentityOnNil) {
  std::vector<std::string> steps;
  options_.on_step = [&](client::DeployStep s, const std::string&) { steps.emplace_back(client::to_string(s)); };
  const auto out = client::deploy(options_);
  EXPECT_EQ(out.result.status, runtime::RunResult::Status::Exited);
  EXPECT_EQ(out.result.exit_code, 7);  // the workload's own exit code, from Enarx.toml's args
  EXPECT_EQ(out.metadata.root_digest, client::root_digest(drawbridge::build_tree_from_path(dir_.path()).root()));
  EXPECT_TRUE(out.identity.self_signed);
  EXPECT_FALSE(out.metadata.signature.has_value());
  EXPECT_EQ(steps, (std::vector<std::string>{"slug", "metadata", "signature", "platform", "attest", "fetch", "run"}));
}

TEST_F(DeployLocal, RefusesWhatALocalPackageCannotSatisfy) {
  std::string code;
  options_.signer = std::string(64, 'a');
  EXPECT_EQ(failing_step(options_, &code), client::DeployStep::Signature);
  EXPECT_EQ(code, "deploy.unsigned");

  options_.signer.clear();
  options_.package = "file://" + (dir_.path() / "missing").string();
  EXPECT_EQ(failing_step(options_, &code), client::DeployStep::Slug);
  EXPECT_EQ(code, "deploy.local_not_found");

  fs::remove(dir_.path() / "main.wasm");
  options_.package = "file://" + dir_.path().string();
  EXPECT_EQ(failing_step(options_, &code), client::DeployStep::Metadata);
  EXPECT_EQ(code, "client.package.no_main_wasm");
}



// The scratch example (examples/scratch: writes, re-reads and renames files in an in-memory /tmp
// declared in its Enarx.toml, then fills /tmp's quota until ENOSPC) deployed as a file://
// package on the simulated SNP platform prints exactly what `enarx run` prints
// (tests/runtime/vfs_test.cc). Host directories given to the run options are dropped.
TEST(DeployScratch, RunsAsUnderEnarxRunOnSimSnp) {
  const fs::path wasm = fs::path(ENARX_BINARY_DIR) / "examples" / "scratch.wasm";
  if (!fs::exists(wasm)) GTEST_SKIP() << "examples not built";
  TempDir dir("deploy-scratch");
  const fs::path pkg = dir.path() / "pkg";
  fs::create_directories(pkg);
  fs::copy_file(wasm, pkg / "main.wasm");
  fs::copy_file(fs::path(ENARX_SOURCE_DIR) / "examples" / "scratch" / "Enarx.toml", pkg / "Enarx.toml");
  fs::copy_file(fs::path(ENARX_SOURCE_DIR) / "examples" / "scratch" / "assets" / "readme.txt",
                pkg / "readme.txt");
  platform::sim::init_snp(dir.path() / "sim", {}, std::chrono::system_clock::now());
  client::DeployOptions o;
  o.package = "file://" + pkg.string();
  o.platform.platform = "sim-snp";
  o.platform.sim_dir = dir.path() / "sim";
  o.self_signed = true;
  const fs::path host = dir.path() / "host";
  fs::create_directories(host);
  o.run.host_dirs = {{host.string(), "/tmp"}};
  const fs::path out = dir.path() / "stdout";
  int fd = ::open(out.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  o.run.stdout_fd = fd;
  const auto result = client::deploy(o);
  ::close(fd);
  EXPECT_EQ(result.result.exit_code, 0) << result.result.message;
  EXPECT_EQ(read_text_file(out),
            "/readme.txt: 48 bytes: scratch example: an asset next to writable /tmp\n"
            "/tmp/notes.txt: 23 bytes: first line\nsecond line\n"
            "/tmp/archive/notes.txt: 23 bytes: first line\nsecond line\n"
            "/tmp: archive\n"
            "/tmp/archive: notes.txt\n"
            "/tmp full after 63 KiB: ENOSPC\n"
            "/tmp/after.txt: 14 bytes: space is back\n"
            "scratch: ok\n");
  // Nothing the workload wrote reached the host.
  EXPECT_TRUE(fs::is_empty(host));
}

}  // namespace
