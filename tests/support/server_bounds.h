// Shared pieces of the servers' bounds tests (tests/drawbridge/bounds_test.cc,
// tests/steward/bounds_test.cc): both run the release binary and attack it over the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "net/http_client.h"

namespace enarx::support {

// An ASan build keeps freed memory in its quarantine (up to 256 MiB) and adds redzones, so the
// servers' RSS bounds are asserted in the release build only; every other assertion holds in both.
#if defined(ENARX_SANITIZED)
inline constexpr bool kRssBoundsApply = false;
#else
inline constexpr bool kRssBoundsApply = true;
#endif

// A client for a server under attack: trusts only `ca_file`, never retries (a retry would hide
// a refused connection), 5 s to connect.
net::HttpClient bounds_client(const std::filesystem::path& ca_file, std::chrono::seconds timeout);

// The value of an unlabelled sample `name` in Prometheus text format; -1 when absent.
double metric(const std::string& text, const std::string& name);

struct ServerUnderTest {
  std::uint16_t port;
  std::string base;  // https://localhost:<port>
  std::function<net::HttpClient(std::chrono::seconds)> client;
};

// One client address holding 1,100 idle TCP sockets, then 1,100 idle sockets from 20 other
// addresses: in both phases 20 of 20 /healthz probes are answered and the active connections
// stay within the per-address (64) and global (1024) caps (plus 8 for the probes' own), and the
// second phase evicts. `expect_closed_by_server`: the server also closed more than 1,000 of the
// first phase's sockets (the flood reopens them).
void expect_idle_connections_do_not_lock_out(const ServerUnderTest& server, bool expect_closed_by_server);

}  // namespace enarx::support
