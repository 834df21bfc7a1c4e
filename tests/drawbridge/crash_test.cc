// Crash safety of the real binary: concurrent uploads, SIGKILL at random moments, restart,
// then every tag whose upload completed (201 on its last node) must be complete and
// byte-identical, no tag may be partially visible, and every blob file must hash to its name.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "core/crypto.h"
#include "core/file.h"
#include "drawbridge/model.h"
#include "net/http_client.h"
#include "support/pg_cluster.h"
#include "support/process.h"

using namespace enarx;
using namespace enarx::drawbridge;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = std::string(ENARX_BINARY_DIR) + "/apps/drawbridge/drawbridge";

class ServerProcess {
 public:
  ServerProcess(const fs::path& data, int port, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::string port_s = std::to_string(port), data_s = data.string();
      ::execl(kBinary.c_str(), kBinary.c_str(), "serve", "--data-dir", data_s.c_str(), "--address", "127.0.0.1",
              "--port", port_s.c_str(), "--self-signed-tls", "--lookup-rate", "0", "--log-format", "json",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ServerProcess() { kill(); }
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

struct Client {
  std::string base;
  std::string token;
  std::unique_ptr<net::HttpClient> http;

  Client(int port, const fs::path& ca, std::string tok) : token(std::move(tok)) {
    base = "https://localhost:" + std::to_string(port) + "/api/v0.1.0";
    net::ClientOptions o;
    o.tls.ca_file = ca;
    o.max_retries = 0;
    o.timeout = std::chrono::seconds(10);
    o.connect_timeout = std::chrono::seconds(2);
    http = std::make_unique<net::HttpClient>(o);
  }
  int put(const std::string& path, const std::string& body, const std::string& type) const {
    net::ClientRequest r;
    r.method = net::Method::Put;
    r.url = base + path;
    r.body = body;
    r.headers.set("Content-Type", type);
    r.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
    r.headers.set("Authorization", "Bearer " + token);
    try {
      return http->send(r).status;
    } catch (const Error&) {
      return -1;
    }
  }
  net::ClientResponse get(const std::string& path) const { return http->get(base + path); }
};

bool wait_ready(int port, const fs::path& ca) {
  for (int i = 0; i < 200; ++i) {
    if (fs::exists(ca)) {
      try {
        net::ClientOptions o;
        o.tls.ca_file = ca;
        o.max_retries = 0;
        o.connect_timeout = std::chrono::milliseconds(200);
        if (net::HttpClient(o).get("https://localhost:" + std::to_string(port) + "/healthz").status == 200) return true;
      } catch (const Error&) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

Tree random_tree(std::mt19937_64& rng, int id) {
  std::map<std::string, std::pair<Bytes, std::string>> files;
  int n = 2 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    Bytes data(1000 + rng() % (i == 0 ? 300000 : 20000));
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    files["d" + std::to_string(i % 2) + "/f" + std::to_string(i)] = {data, "application/octet-stream"};
  }
  files["id.txt"] = {to_bytes(std::to_string(id)), "text/plain"};
  return build_tree_from_files(files);
}

TEST(DrawbridgeCrash, SigkillDuringConcurrentUploadsLosesNothingCommitted) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  TempDir tmp("drawbridge-crash");
  auto data = tmp.path() / "data";
  auto ca = data / "tls" / "self-signed.pem";
  auto log = tmp.path() / "server.log";
  int port = pgtest::free_port();
  auto token = support::run_capture(kBinary + " token --data-dir " + data.string() + " --subject alice --ttl 1h");
  ASSERT_GT(token.size(), 50u);

  std::mt19937_64 rng(12345);
  std::map<std::string, Tree> committed, attempted;
  std::mutex mu;
  int next_id = 0;
  const int kRounds = 12;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(150);
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round) {
    ServerProcess server(data, port, log);
    ASSERT_TRUE(wait_ready(port, ca)) << "server did not start; see " << log;
    Client client(port, ca, token);
    if (round == 0) {
      ASSERT_EQ(client.put("/alice", user_to_json({"alice"}), "application/json"), 201);
      ASSERT_EQ(client.put("/alice/app", repo_to_json({false}), "application/json"), 201);
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
      std::vector<std::pair<std::string, Tree>> jobs;
      for (int j = 0; j < 20; ++j) {
        int id = next_id++;
        jobs.emplace_back("0." + std::to_string(round) + "." + std::to_string(id), random_tree(rng, id));
      }
      workers.emplace_back([&, jobs = std::move(jobs)] {
        Client c(port, ca, token);
        for (const auto& [tag, tree] : jobs) {
          if (stop) return;
          {
            std::lock_guard lock(mu);
            attempted[tag] = tree;
          }
          std::string prefix = "/alice/app/_tag/" + tag;
          if (c.put(prefix, entry_to_json(tree.root()), std::string(kEntryType)) != 201) return;
          int last = 0;
          for (const auto& n : tree.nodes) {
            last = c.put(prefix + "/tree/" + n.path, std::string(n.content.begin(), n.content.end()), n.meta.type);
            if (last != 201) return;
          }
          std::lock_guard lock(mu);
          committed[tag] = tree;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 600));
    server.kill();
    stop = true;
    for (auto& t : workers) t.join();
  }
  ASSERT_GT(committed.size(), 5u) << "too few uploads finished to prove anything";

  ServerProcess server(data, port, log);
  ASSERT_TRUE(wait_ready(port, ca));
  Client client(port, ca, token);
  auto list = nlohmann::json::parse(client.get("/alice/app/_tag").body);
  (void)list;
  net::Headers auth{{"Authorization", "Bearer " + token}};
  auto listed = nlohmann::json::parse(client.http->get(client.base + "/alice/app/_tag", auth).body).get<std::vector<std::string>>();
  std::set<std::string> listed_set(listed.begin(), listed.end());
  for (const auto& [tag, tree] : attempted) {
    std::string prefix = client.base + "/alice/app/_tag/" + tag;
    auto t = client.http->get(prefix, auth);
    bool must = committed.count(tag) > 0;
    if (must) {
      ASSERT_EQ(t.status, 200) << "committed tag lost: " << tag;
    }
    if (t.status == 404) {
      EXPECT_FALSE(listed_set.count(tag)) << tag;
      continue;
    }
    // Visible means complete: every node readable and byte-identical.
    ASSERT_EQ(t.status, 200) << tag;
    EXPECT_TRUE(listed_set.count(tag)) << tag;
    EXPECT_EQ(t.body, entry_to_json(tree.root()));
    for (const auto& n : tree.nodes) {
      auto r = client.http->get(prefix + "/tree/" + n.path, auth);
      ASSERT_EQ(r.status, 200) << tag << " " << n.path;
      EXPECT_TRUE(r.body == std::string(n.content.begin(), n.content.end())) << tag << " " << n.path;
      EXPECT_EQ(ContentDigest::parse_header(*r.headers.get("Content-Digest")), n.meta.digest);
    }
  }
  // No half-written blob is visible under its content address; temp files were cleared.
  std::size_t blobs = 0;
  for (const auto& e : fs::recursive_directory_iterator(data / "blobs")) {
    if (!e.is_regular_file()) continue;
    ++blobs;
    EXPECT_EQ(to_hex(sha256(read_file(e.path()))), e.path().filename().string()) << e.path();
  }
  EXPECT_GT(blobs, 0u);
  for (const auto& e : fs::directory_iterator(data / "tmp")) ADD_FAILURE() << "stray temp file " << e.path();
  std::cerr << "crash test: " << attempted.size() << " attempted, " << committed.size() << " committed, "
            << listed.size() << " listed, " << blobs << " blobs\n";
}

}  // namespace
