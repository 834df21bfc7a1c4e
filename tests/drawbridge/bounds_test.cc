// The release binary under the reviewed attacks, with its default configuration
// (docs/drawbridge.md "Bounds"): unauthenticated and wrong-owner uploads announcing 200 MiB
// (refused from the header, the server's memory unchanged), an owner's 64 MiB upload (streamed
// to disk, not memory), and 1,100 idle sockets from one client (other clients still served).
// Memory is read from the server process's /proc/<pid>/status.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "../net/attack.h"
#include "core/crypto.h"
#include "core/file.h"
#include "drawbridge/model.h"
#include "drawbridge/store.h"
#include "net/http_client.h"
#include "support/process.h"
#include "support/server_bounds.h"

using namespace enarx;
using namespace enarx::drawbridge;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using support::kRssBoundsApply;

const std::string kBinary = std::string(ENARX_BINARY_DIR) + "/apps/drawbridge/drawbridge";
constexpr std::uint64_t kMiB = 1u << 20;

// A drawbridge process with the default configuration on a fresh data directory.
struct Registry {
  TempDir dir{"drawbridge-bounds"};
  std::uint16_t port = attack::free_port();
  std::unique_ptr<attack::ServerProcess> process;
  fs::path ca;
  std::string base;

  Registry() {
    attack::raise_fd_limit(8192);
    const auto data = dir.path() / "data";
    process = std::make_unique<attack::ServerProcess>(
        kBinary,
        std::vector<std::string>{"serve", "--data-dir", data.string(), "--address", "127.0.0.1", "--port",
                                 std::to_string(port), "--self-signed-tls", "--log-format", "json", "--log-level",
                                 "warn"},
        (dir.path() / "server.log").string());
    ca = data / "tls" / "self-signed.pem";
    base = "https://localhost:" + std::to_string(port);
  }
  net::HttpClient client(std::chrono::seconds timeout = 30s) const { return support::bounds_client(ca, timeout); }
  bool ready() const {
    for (int i = 0; i < 200; ++i) {
      if (fs::exists(ca)) {
        try {
          if (client(2s).get(base + "/healthz").status == 200) return true;
        } catch (const Error&) {
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  std::string token(const std::string& subject) const {
    return support::run_capture(kBinary + " token --data-dir " + (dir.path() / "data").string() + " --subject " + subject);
  }
  int put(const std::string& path, const std::string& body, const std::string& type, const std::string& tok) const {
    net::ClientRequest r;
    r.method = net::Method::Put;
    r.url = base + "/api/v0.1.0" + path;
    r.body = body;
    r.headers.set("Content-Type", type);
    r.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
    r.headers.set("Authorization", "Bearer " + tok);
    return client().send(r).status;
  }
  // A pending tag whose root directory expects one file of `length` bytes with `content`'s
  // digests.
  void expect_file(const std::string& tag, const std::string& name, std::uint64_t length, const Bytes& content,
                   const std::string& tok) const {
    const Directory d{{name, Entry{Meta{ContentDigest::compute(content), length, "application/wasm"}, {}}}};
    const auto json = directory_to_json(d);
    ASSERT_EQ(put(tag, entry_to_json(Entry{Meta::of(as_bytes(json), std::string(kDirectoryType)), {}}),
                  std::string(kEntryType), tok),
              201);
    ASSERT_EQ(put(tag + "/tree", json, std::string(kDirectoryType), tok), 201);
  }
  std::uint64_t kib(const char* field) const { return attack::proc_status_kib(process->pid(), field); }
  std::string metrics() const { return client().get(base + "/metrics").body; }
};

// Before: 4 unauthenticated connections x 200 MiB took the server from 16 MB to 835 MB and got
// 401 only after the body. Now: 401 from the header, the body never read.
TEST(DrawbridgeBounds, UnauthenticatedUploadsAreRefusedBeforeTheBody) {
  Registry reg;
  ASSERT_TRUE(reg.ready());
  const auto alice = reg.token("alice"), mallory = reg.token("mallory");
  ASSERT_EQ(reg.put("/alice", user_to_json({"alice"}), "application/json", alice), 201);
  ASSERT_EQ(reg.put("/mallory", user_to_json({"mallory"}), "application/json", mallory), 201);
  ASSERT_EQ(reg.put("/alice/app", repo_to_json({false}), "application/json", alice), 201);
  constexpr std::uint64_t kAnnounced = 200 * kMiB;  // within the default 256 MiB max_blob_size
  const Bytes stand_in = to_bytes("stand-in");
  reg.expect_file("/alice/app/_tag/1.0.0", "big.wasm", kAnnounced, stand_in, alice);
  const std::string digest = ContentDigest::compute(stand_in).to_header();
  const auto before = reg.kib("VmHWM");

  // 8 connections, half anonymous, half with another user's valid token, each announcing
  // 200 MiB and sending as fast as it can until it is answered (at most 48 MiB each).
  constexpr int kConnections = 8;
  constexpr std::uint64_t kMaxSend = 48 * kMiB;
  std::vector<std::future<std::pair<int, std::uint64_t>>> results;
  for (int i = 0; i < kConnections; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      attack::RawClient c(reg.port, true);
      std::string h = "PUT /api/v0.1.0/alice/app/_tag/1.0.0/tree/big.wasm HTTP/1.1\r\nHost: localhost\r\n"
                      "Content-Type: application/wasm\r\nContent-Digest: " + digest +
                      "\r\nContent-Length: " + std::to_string(kAnnounced) + "\r\n";
      if (i % 2) h += "Authorization: Bearer " + mallory + "\r\n";
      c.send_all(h + "\r\n");
      c.send_filler_until_answered(kMaxSend, 60s);
      c.read_response(5s);
      return std::pair(c.status(), c.body_sent());
    }));
  }
  for (auto& f : results) {
    const auto [status, sent] = f.get();
    EXPECT_EQ(status, 401) << "no answer before the body";
    EXPECT_LT(sent, 8 * kMiB) << "the server read the body before answering";
  }
  const auto after = reg.kib("VmHWM");
  std::cout << "drawbridge VmHWM before " << before << " KiB, after " << after << " KiB\n";
  // Bound: nothing of the bodies is held; allow 32 MiB for TLS buffers and allocator noise.
  if (kRssBoundsApply) {
    EXPECT_LT(after - before, 32 * 1024) << "peak RSS grew by " << (after - before) / 1024 << " MiB";
  }
  EXPECT_TRUE(reg.process->alive());
}

// An owner's upload is streamed to <data>/tmp and renamed into place: the server's memory does
// not grow with it.
TEST(DrawbridgeBounds, AnOwnersLargeUploadStreamsToDisk) {
  Registry reg;
  ASSERT_TRUE(reg.ready());
  const auto alice = reg.token("alice");
  ASSERT_EQ(reg.put("/alice", user_to_json({"alice"}), "application/json", alice), 201);
  ASSERT_EQ(reg.put("/alice/app", repo_to_json({true}), "application/json", alice), 201);
  Bytes content(64 * kMiB);
  for (std::size_t i = 0; i < content.size(); i += 32) {
    const auto r = random_bytes(32);
    std::copy(r.begin(), r.end(), content.begin() + static_cast<long>(i));
  }
  reg.expect_file("/alice/app/_tag/1.0.0", "big.wasm", content.size(), content, alice);
  const auto before = reg.kib("VmHWM");
  attack::RawClient c(reg.port, true);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send_all("PUT /api/v0.1.0/alice/app/_tag/1.0.0/tree/big.wasm HTTP/1.1\r\nHost: localhost\r\n"
                         "Content-Type: application/wasm\r\nContent-Digest: " +
                         ContentDigest::compute(content).to_header() + "\r\nAuthorization: Bearer " + alice +
                         "\r\nContent-Length: " + std::to_string(content.size()) + "\r\n\r\n"));
  ASSERT_TRUE(c.send_all(std::string_view(reinterpret_cast<const char*>(content.data()), content.size()), 120s));
  c.read_response(60s);
  ASSERT_EQ(c.status(), 201) << c.received();
  const auto after = reg.kib("VmHWM");
  std::cout << "drawbridge VmHWM before " << before << " KiB, after " << after << " KiB\n";
  if (kRssBoundsApply) {
    EXPECT_LT(after - before, 32 * 1024) << "peak RSS grew by " << (after - before) / 1024 << " MiB";
  }
  const auto data = reg.dir.path() / "data";
  const auto key = blob_key_of(content);
  EXPECT_EQ(fs::file_size(data / "blobs" / "sha256" / key.substr(0, 2) / key), content.size());
  EXPECT_TRUE(fs::is_empty(data / "tmp"));
  auto head = reg.client().head(reg.base + "/api/v0.1.0/alice/app/_tag/1.0.0/tree/big.wasm");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.get("Content-Length"), std::to_string(content.size()));
}

// Before: one client holding 1,024 idle TCP sockets (no TLS, no bytes, reopened as the server
// closed them) made drawbridge refuse 66 of 67 probes. Now a client address holds at most 64
// connections, and connections that sent nothing make room for ones that do.
TEST(DrawbridgeBounds, IdleConnectionsDoNotLockOutClients) {
  Registry reg;
  ASSERT_TRUE(reg.ready());
  support::expect_idle_connections_do_not_lock_out(
      {reg.port, reg.base, [&](std::chrono::seconds timeout) { return reg.client(timeout); }},
      /*expect_closed_by_server=*/true);
  EXPECT_TRUE(reg.process->alive());
}

}  // namespace
