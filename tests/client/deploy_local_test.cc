// `enarx deploy file://<dir>`: a local package goes through the same steps (identity, run) as a
// published one, with the digest publish would give it, and refuses what it cannot honour.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "client/deploy.h"
#include "core/file.h"
#include "drawbridge/model.h"

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

}  // namespace
