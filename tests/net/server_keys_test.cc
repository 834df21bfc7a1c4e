#include "net/server_keys.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <set>

namespace enarx::net {
namespace {

config::EnvLookup no_env() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

std::set<std::string> key_names(const config::Loader& l) {
  std::set<std::string> out;
  for (const auto& k : l.keys()) out.insert(k.name);
  return out;
}

// Both servers read the same [server] keys: only defaults, a few flag spellings and former
// names differ.
TEST(ServerKeys, EveryServerHasTheSameKeys) {
  config::Loader steward_like, drawbridge_like;
  declare_server_keys(steward_like, {.env_prefix = "STEWARD_", .port = 3000, .address_flag = "-a,--addr,--address"});
  declare_server_keys(drawbridge_like, {.env_prefix = "DRAWBRIDGE_",
                                        .plain_http_flag = "--insecure-plain-http,--plain-http",
                                        .former_names = {{"plain_http", {"tls.insecure_plain_http"}}}});
  EXPECT_EQ(key_names(steward_like), key_names(drawbridge_like));
  EXPECT_TRUE(key_names(steward_like).count("server.plain_http"));
  for (const auto& k : steward_like.keys()) EXPECT_EQ(k.env.rfind("STEWARD_", 0), 0u) << k.name;
}

TEST(ServerKeys, EveryKeyReachesTheServerConfig) {
  config::Loader l;
  declare_server_keys(l, {.env_prefix = "T_"});
  auto cfg = l.load_string(R"([server]
address = "::"
port = 9443
workers = 3
io_threads = 2
plain_http = true
max_body_size = 1000
max_buffered_bytes = 2000
max_connections = 30
max_connections_per_ip = 4
handshake_timeout = "2s"
max_queued_requests = 5
request_timeout = "7s"
shutdown_grace = "3s"
)",
                           no_env());
  const auto sc = server_config_from(cfg);
  EXPECT_EQ(sc.address, "::");
  EXPECT_EQ(sc.port, 9443);
  EXPECT_EQ(sc.worker_threads, 3u);
  EXPECT_EQ(sc.io_threads, 2u);
  EXPECT_TRUE(sc.allow_plaintext);
  EXPECT_FALSE(sc.tls.has_value());
  EXPECT_EQ(sc.max_body_size, 1000u);
  EXPECT_EQ(sc.max_buffered_bytes, 2000u);
  EXPECT_EQ(sc.max_connections, 30u);
  EXPECT_EQ(sc.max_connections_per_ip, 4u);
  EXPECT_EQ(sc.handshake_timeout, std::chrono::seconds(2));
  EXPECT_EQ(sc.max_queued_requests, 5u);
  EXPECT_EQ(sc.body_timeout, std::chrono::seconds(7));
  EXPECT_EQ(sc.write_timeout, std::chrono::seconds(7));
  EXPECT_EQ(sc.shutdown_grace, std::chrono::seconds(3));
}

TEST(ServerKeys, DefaultsFlagsAndFormerNames) {
  config::Loader l;
  declare_server_keys(l, {.env_prefix = "T_",
                          .address = "0.0.0.0",
                          .port = 8443,
                          .workers = 8,
                          .plain_http_flag = "--insecure-plain-http,--plain-http",
                          .former_names = {{"max_connections", {"limits.max_connections"}}}});
  auto d = server_config_from(l.load_string("", no_env()));
  EXPECT_EQ(d.address, "0.0.0.0");
  EXPECT_EQ(d.worker_threads, 8u);
  EXPECT_FALSE(d.allow_plaintext);

  CLI::App app;
  l.bind(app);
  app.parse(std::vector<std::string>{"--max-connections-per-ip=9", "--insecure-plain-http"});  // reversed argv
  auto flagged = server_config_from(l.load_string("[limits]\nmax_connections = 12\n", no_env()));
  EXPECT_TRUE(flagged.allow_plaintext);
  EXPECT_EQ(flagged.max_connections_per_ip, 9u);
  EXPECT_EQ(flagged.max_connections, 12u);
}

}  // namespace
}  // namespace enarx::net
