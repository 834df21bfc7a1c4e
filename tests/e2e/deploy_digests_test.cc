// "Same application, different configuration" end to end: two packages with the same main.wasm
// and different Enarx.toml are deployed (`client::deploy`, as `enarx deploy file://…` does)
// on the simulated SNP platform through a steward on loopback HTTPS; a relying party that
// expects only the application digest accepts both keeps, and one that also expects the first
// configuration refuses the second.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "client/deploy.h"
#include "client/package_digests.h"
#include "core/crypto.h"
#include "core/file.h"
#include "drawbridge/model.h"
#include "net/http_server.h"
#include "simulation/platforms.h"
#include "steward/server.h"
#include "steward/service.h"
#include "steward/steward.h"
#include "support/error_code.h"
#include "verify/verify.h"

namespace enarx {
namespace {

namespace fs = std::filesystem;
using support::error_code;

fs::path hello_wasm() { return fs::path(ENARX_BINARY_DIR) / "examples" / "hello.wasm"; }

class DeployDigests : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(hello_wasm())) GTEST_SKIP() << "examples not built";
    const auto now = std::chrono::system_clock::now();
    platform::sim::init_snp(dir_.path() / "sim", {}, now);

    // Steward trusts the simulated AMD root and knows the simulated runtime by its measurement,
    // so the keep may carry workload names (docs/steward.md "Trust rules").
    PrivateKey ca_key = PrivateKey::generate(KeyType::EcP384);
    keep_ca_ = CertificateBuilder()
                   .subject({{"CN", "Test Keep CA"}})
                   .public_key(ca_key.public_key())
                   .validity(now - std::chrono::hours(1), now + std::chrono::hours(24))
                   .ca(true)
                   .key_usage({"keyCertSign", "cRLSign"})
                   .sign(ca_key);
    const std::string policy =
        "[issuance]\nallow_insecure = true\n[simulated]\nroots = [\"" +
        (dir_.path() / "sim" / "snp" / "cert_chain.pem").string() + "\"]\n[snp]\nhash = [\"" +
        to_hex(platform::sim::load_snp(dir_.path() / "sim").config.measurement) + "\"]\n";
    steward_ = std::make_unique<steward::Steward>(steward::CertificateAuthority(ca_key, {keep_ca_}),
                                                  steward::Policy::parse(policy));
    steward::register_default_verifiers(*steward_);
    net::ServerConfig cfg;
    cfg.address = "127.0.0.1";
    cfg.port = 0;
    cfg.access_log = false;
    cfg.worker_threads = 2;
    cfg.tls = steward::development_https(dir_.path() / "steward", "Test Steward", {"127.0.0.1"}, *system_clock());
    server_ = std::make_unique<net::HttpServer>(cfg);
    steward::install_routes(*server_, *steward_, 1 << 20);
    server_->start();

    null_fd_ = ::open("/dev/null", O_WRONLY);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (null_fd_ >= 0) ::close(null_fd_);
  }

  // A package directory: hello.wasm as main.wasm, `toml` as Enarx.toml, and one asset.
  fs::path package(const std::string& name, const std::string& toml) {
    const fs::path pkg = dir_.path() / name;
    fs::create_directories(pkg / "static");
    fs::copy_file(hello_wasm(), pkg / "main.wasm");
    write_file_atomic(pkg / "Enarx.toml", toml);
    write_file_atomic(pkg / "static" / "motd.txt", "hello");
    return pkg;
  }

  client::DeployOutcome deploy(const fs::path& pkg) {
    client::DeployOptions o;
    o.package = "file://" + pkg.string();
    o.platform.platform = "sim-snp";
    o.platform.sim_dir = dir_.path() / "sim";
    o.steward_url = "https://127.0.0.1:" + std::to_string(server_->port());
    o.steward_ca_pem = read_text_file(dir_.path() / "steward" / "tls" / "ca.crt");
    o.steward_identity_ca_pem = keep_ca_.to_pem();
    o.run.stdout_fd = null_fd_;
    return client::deploy(o);
  }

  verify::PeerIdentity verified(const client::DeployOutcome& out, const verify::Expectations& expect) {
    const std::vector<Certificate> cas{keep_ca_};
    return verify::verify_peer(out.identity.chain, cas, std::chrono::system_clock::now(), expect);
  }

  TempDir dir_{"deploy-digests"};
  Certificate keep_ca_;
  std::unique_ptr<steward::Steward> steward_;
  std::unique_ptr<net::HttpServer> server_;
  int null_fd_ = -1;
};

TEST_F(DeployDigests, SameApplicationDifferentConfigurationIsToldApart) {
  const std::string stdio = "[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n";
  const fs::path seven = package("seven", "args = [\"--exit=7\"]\n" + stdio);
  const fs::path eight = package("eight", "args = [\"--exit=8\"]\n" + stdio);

  const auto a = deploy(seven);
  const auto b = deploy(eight);
  EXPECT_EQ(a.result.exit_code, 7);
  EXPECT_EQ(b.result.exit_code, 8);
  ASSERT_FALSE(a.identity.self_signed);
  ASSERT_FALSE(b.identity.self_signed);

  // What the keeps are named by is what the definition gives for each directory, and the
  // application digest is simply the SHA-256 of main.wasm.
  const std::string app = "sha-256:" + to_hex(sha256(read_file(hello_wasm())));
  const auto digests_of = [](const fs::path& dir) {
    return *identity::package_digests(client::list_package_files(drawbridge::build_tree_from_path(dir)));
  };
  EXPECT_EQ(digests_of(seven).application, app);
  EXPECT_NE(digests_of(seven).configuration, digests_of(eight).configuration);

  verify::Expectations by_app;
  by_app.allow_simulated = true;
  by_app.app_digest = app;
  const auto peer_a = verified(a, by_app);
  const auto peer_b = verified(b, by_app);
  EXPECT_EQ(peer_a.identity.app_digest, app);
  EXPECT_EQ(peer_b.identity.app_digest, app);
  EXPECT_EQ(peer_a.identity.config_digest, digests_of(seven).configuration);
  EXPECT_EQ(peer_b.identity.config_digest, digests_of(eight).configuration);
  EXPECT_NE(peer_a.identity.digest, peer_b.identity.digest);  // the whole trees differ

  // "This application with this configuration" refuses the other configuration.
  verify::Expectations exact = by_app;
  exact.config_digest = digests_of(seven).configuration;
  EXPECT_EQ(error_code([&] { verified(a, exact); }), support::kNoError);
  EXPECT_EQ(error_code([&] { verified(b, exact); }), "verify.config_digest_mismatch");
  // And another application is refused whatever its configuration.
  verify::Expectations other = by_app;
  other.app_digest = "sha-256:" + to_hex(sha256(as_bytes("another module")));
  EXPECT_EQ(error_code([&] { verified(a, other); }), "verify.app_digest_mismatch");
}

}  // namespace
}  // namespace enarx
