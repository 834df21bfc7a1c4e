// What enarx trusts for drawbridge and steward URLs (client/trust.h): the roots built into the
// binary, never the host's store unless asked for.
#include "client/trust.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/crypto.h"
#include "core/error.h"
#include "core/x509.h"
#include "net/http_server.h"
#include "support/error_code.h"
#include "support/pki.h"
#include "support/process.h"

namespace enarx::client {
namespace {

namespace fs = std::filesystem;

TEST(Trust, EmbeddedRootsAreTheBuildTimeBundle) {
  const auto& e = embedded_roots();
  const auto certs = Certificate::chain_from_pem(e.pem);
  // Debian's bundle holds well over a hundred roots; a handful would mean a truncated embed.
  EXPECT_GT(certs.size(), 100u);
  EXPECT_EQ(certs.size(), e.certificates);
  EXPECT_EQ(to_hex(sha256(as_bytes(e.pem))), e.sha256);
  for (const auto& c : certs) EXPECT_EQ(c.subject(), c.issuer()) << "not a root: " << c.subject();
  if (fs::exists(e.source)) {
    std::ifstream f(e.source, std::ios::binary);
    const std::string now((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(now, e.pem) << "the build is older than " << e.source << ": reconfigure";
  }
}

TEST(Trust, TheDefaultIsTheEmbeddedSetNeverTheHostStore) {
  const auto o = with_trust({});
  EXPECT_EQ(o.tls.ca_pem, embedded_roots().pem);  // in memory: the host's files play no part
  EXPECT_TRUE(o.tls.ca_file.empty());
  EXPECT_NE(describe({}).find("embedded web PKI roots"), std::string::npos);
}

TEST(Trust, ReplaceAddOrAskForTheHostStore) {
  const auto a = support::issue("a", nullptr, {.ca = true}).cert.to_pem();
  const auto b = support::issue("b", nullptr, {.ca = true}).cert.to_pem();
  EXPECT_EQ(with_trust({.replace_pem = a}).tls.ca_pem, a);
  const auto added = with_trust({.extra_pem = b}).tls.ca_pem;
  EXPECT_EQ(Certificate::chain_from_pem(added).size(), embedded_roots().certificates + 1);
  EXPECT_NE(added.find(b), std::string::npos);
  EXPECT_EQ(Certificate::chain_from_pem(with_trust({.replace_pem = a, .extra_pem = b}).tls.ca_pem).size(), 2u);
  EXPECT_TRUE(with_trust({.system_roots = true}).tls.ca_pem.empty());  // curl's default store
  EXPECT_NE(describe({.system_roots = true}).find("host"), std::string::npos);

  EXPECT_EQ(support::error_code([] { with_trust({.replace_pem = "not a certificate"}); }), "client.trust.bad_pem");
  EXPECT_EQ(support::error_code([] { with_trust({.extra_pem = "-----BEGIN JUNK-----"}); }), "client.trust.bad_pem");
  EXPECT_EQ(support::error_code([&] { with_trust({.extra_pem = b, .system_roots = true}); }), "client.trust.conflict");
}

support::ShellRun shell(const std::string& cmd) { return support::run_shell(cmd + " 2>&1"); }

// The attack: whoever controls the host controls its certificate store, and adds a root of its
// own to impersonate the registry. The test makes that root part of the host store (Debian's
// bundle replaced by a bind mount in a private mount namespace: root and `unshare` needed,
// skipped otherwise) and serves a registry user record under a certificate from it.
TEST(Trust, ARootOnlyInTheHostStoreDoesNotLetAServerPassForTheRegistry) {
  const std::string host_bundle = "/etc/ssl/certs/ca-certificates.crt";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace";
  if (!fs::exists(host_bundle)) GTEST_SKIP() << host_bundle << " absent";
  if (shell("unshare -m true").exit_code != 0) GTEST_SKIP() << "unshare -m is not permitted here";

  auto root = support::issue("host-store root", nullptr, {.ca = true});
  SubjectAltNames sans;
  sans.ips = {"127.0.0.1"};
  auto leaf = support::issue("registry impostor", &root, {.eku = {"serverAuth"}, .sans = sans});
  net::ServerConfig sc;
  sc.address = "127.0.0.1";
  sc.port = 0;
  sc.access_log = false;
  net::TlsServerConfig tls;
  tls.cert_chain_pem = leaf.cert.to_pem() + root.cert.to_pem();
  tls.key_pem = leaf.key.to_pem_pkcs8();
  sc.tls = tls;
  net::HttpServer server(sc);
  server.get("/api/v0.1.0/{user}", [](net::Request& r) {
    return net::Response::json(200, "{\"subject\":\"" + r.param("user") + "\"}");
  });
  server.start();

  const fs::path dir = fs::temp_directory_path() / ("enarx-trust-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path rogue_store = dir / "host-store.pem", empty_store = dir / "empty.pem", ca = dir / "ca.pem";
  std::ofstream(rogue_store) << root.cert.to_pem();
  std::ofstream(empty_store) << "";
  std::ofstream(ca) << root.cert.to_pem();
  const std::string enarx = std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx";
  const std::string spec = "127.0.0.1:" + std::to_string(server.port()) + "/alice";
  auto with_host_store = [&](const fs::path& store, const std::string& args) {
    return shell("env -u ENARX_CA_BUNDLE -u ENARX_EXTRA_CA -u ENARX_SYSTEM_ROOTS unshare -m sh -c 'mount --bind " +
                 store.string() + " " + host_bundle + " && " + enarx + " " + args + "'");
  };

  // The default: the impostor is refused although the host store holds its root.
  auto fooled = with_host_store(rogue_store, "user info " + spec);
  EXPECT_NE(fooled.exit_code, 0) << fooled.out;
  EXPECT_EQ(fooled.out.find("\"subject\""), std::string::npos) << fooled.out;
  // The same store when the user explicitly trusts the host: accepted, so the refusal above
  // is the embedded default at work, not a broken setup.
  auto host = with_host_store(rogue_store, "user info --system-roots " + spec);
  EXPECT_EQ(host.exit_code, 0) << host.out;
  EXPECT_NE(host.out.find("\"subject\":\"alice\""), std::string::npos) << host.out;
  // A root the user names is trusted, the host store emptied or not.
  auto named = with_host_store(empty_store, "user info --ca-bundle " + ca.string() + " " + spec);
  EXPECT_EQ(named.exit_code, 0) << named.out;
  // With the host store emptied the embedded set is still there.
  auto info = with_host_store(empty_store, "platform info");
  EXPECT_NE(info.out.find("TLS roots for drawbridge and steward: embedded web PKI roots (" +
                             std::to_string(embedded_roots().certificates) + " certificates"),
            std::string::npos)
      << info.out;
  server.stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace enarx::client
