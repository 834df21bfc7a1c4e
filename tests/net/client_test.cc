// HttpClient against the in-process HttpServer: retries, timeouts, streaming, limits, TLS trust.
#include "net/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/crypto.h"
#include "core/file.h"
#include "net/curl_library.h"
#include "net/http_server.h"
#include "test_pki.h"
#include "support/error_code.h"

namespace enarx::net {
namespace {

using support::error_code;

using namespace std::chrono_literals;

const testing::TestPki& pki() { return testing::TestPki::shared(); }

ServerConfig tls_config() {
  ServerConfig c = testing::tls_server_config(/*chain_with_ca=*/false);
  c.access_log = false;
  return c;
}

ClientOptions fast_options() {
  ClientOptions o;
  o.tls.ca_pem = pki().ca.cert.to_pem();
  o.initial_backoff = 10ms;
  o.max_backoff = 40ms;
  o.connect_timeout = 5s;
  o.timeout = 10s;
  return o;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<HttpServer>(tls_config());
    server_->get("/flaky", [this](Request&) {
      if (++flaky_calls_ <= fail_first_) return Response::error(503, "test.unavailable", "try again");
      return Response::text(200, "ok");
    });
    server_->post("/flaky", [this](Request&) {
      ++flaky_calls_;
      return Response::error(503, "test.unavailable", "try again");
    });
    server_->put("/flaky", [this](Request&) {
      if (++flaky_calls_ <= fail_first_) return Response::error(503, "test.unavailable", "try again");
      return Response::empty(201);
    });
    server_->get("/sleep", [](Request&) {
      std::this_thread::sleep_for(1500ms);
      return Response::text(200, "late");
    });
    server_->get("/file", [this](Request&) { return Response::from_file(OpenFile::open(file_)); });
    server_->get("/headers", [](Request& r) {
      return Response::text(200, r.header("X-Token").value_or("") + "|" +
                                     r.header("Content-Type").value_or(""));
    });
    server_->post("/headers", [](Request& r) {
      return Response::text(200, r.header("X-Token").value_or("") + "|" +
                                     r.header("Content-Type").value_or(""));
    });
    server_->start();
    url_ = "https://127.0.0.1:" + std::to_string(server_->port());
    blob_.resize(3u << 20);
    for (std::size_t i = 0; i < blob_.size(); ++i) blob_[i] = static_cast<char>(i * 131 + 7);
    file_ = dir_.path() / "blob.bin";
    write_file_atomic(file_, std::string_view(blob_));
  }

  TempDir dir_;
  std::filesystem::path file_;
  std::string blob_;
  std::unique_ptr<HttpServer> server_;
  std::string url_;
  std::atomic<int> flaky_calls_{0};
  int fail_first_ = 2;
};

TEST_F(ClientTest, RetriesIdempotentRequestsOn503) {
  HttpClient client(fast_options());
  auto res = client.get(url_ + "/flaky");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.attempts, 3);
  EXPECT_EQ(flaky_calls_.load(), 3);
}

TEST_F(ClientTest, GivesUpAfterMaxRetries) {
  fail_first_ = 100;
  ClientOptions o = fast_options();
  o.max_retries = 2;
  auto res = HttpClient(o).get(url_ + "/flaky");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.attempts, 3);
  EXPECT_EQ(error_code([&] { res.raise_for_status(); }), "http.status");
}

TEST_F(ClientTest, PostIsNotRetriedButDeclaredIdempotentPutIs) {
  HttpClient client(fast_options());
  auto res = client.post(url_ + "/flaky", "body");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.attempts, 1);
  EXPECT_EQ(flaky_calls_.load(), 1);
  flaky_calls_ = 0;
  res = client.put(url_ + "/flaky", "body");  // not declared idempotent
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.attempts, 1);
  flaky_calls_ = 0;
  res = client.put(url_ + "/flaky", "body", {}, /*idempotent=*/true);
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.attempts, 3);
}

TEST_F(ClientTest, TotalTimeout) {
  ClientOptions o = fast_options();
  o.timeout = 300ms;
  o.max_retries = 0;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_code([&] { HttpClient(o).get(url_ + "/sleep"); }), "http.timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);
}

TEST_F(ClientTest, ConnectFailedIsRetriedThenReported) {
  ServerConfig c;
  c.allow_plaintext = true;
  std::uint16_t port = 0;
  {
    HttpServer s(c);
    s.start();
    port = s.port();
  }
  ClientOptions o = fast_options();
  o.max_retries = 2;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_code([&] { HttpClient(o).get("http://127.0.0.1:" + std::to_string(port) + "/"); }),
            "http.connect_failed");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);  // 10 + 20 ms of backoff
  EXPECT_EQ(error_code([&] { HttpClient(o).get("gopher://127.0.0.1/"); }), "http.bad_url");
}

TEST_F(ClientTest, StreamingDownloadWithProgress) {
  HttpClient client(fast_options());
  std::string received;
  std::vector<std::pair<std::uint64_t, std::optional<std::uint64_t>>> progress;
  auto res = client.download(
      {.url = url_ + "/file"}, [&](std::string_view chunk) { received.append(chunk); },
      [&](std::uint64_t got, std::optional<std::uint64_t> total) { progress.emplace_back(got, total); });
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.body.empty());
  EXPECT_EQ(received.size(), blob_.size());
  EXPECT_TRUE(received == blob_);
  ASSERT_GE(progress.size(), 2u);
  EXPECT_EQ(progress.back().first, blob_.size());
  EXPECT_EQ(progress.back().second, blob_.size());
  for (std::size_t i = 1; i < progress.size(); ++i) EXPECT_GT(progress[i].first, progress[i - 1].first);
  // HEAD on a file route: length only.
  auto head = client.head(url_ + "/file");
  EXPECT_EQ(head.headers.get("Content-Length"), std::to_string(blob_.size()));
  EXPECT_TRUE(head.body.empty());
  // Error statuses do not reach the sink.
  bool sink_called = false;
  res = client.download({.url = url_ + "/missing"}, [&](std::string_view) { sink_called = true; });
  EXPECT_EQ(res.status, 404);
  EXPECT_FALSE(sink_called);
  EXPECT_NE(res.body.find("http.not_found"), std::string::npos);
}

TEST_F(ClientTest, SinkExceptionAbortsTransfer) {
  HttpClient client(fast_options());
  EXPECT_EQ(error_code([&] {
              client.download({.url = url_ + "/file"},
                              [](std::string_view) { throw Error(ErrorKind::kInvalidInput, "test.disk_full", "disk full"); });
            }),
            "test.disk_full");
}

TEST_F(ClientTest, MaxResponseSize) {
  ClientOptions o = fast_options();
  o.max_response_size = 1u << 20;
  EXPECT_EQ(error_code([&] { HttpClient(o).get(url_ + "/file"); }), "http.too_large");
  o.max_response_size = 4u << 20;
  EXPECT_EQ(HttpClient(o).get(url_ + "/file").body.size(), blob_.size());
}

TEST_F(ClientTest, TrustIsOnlyTheConfiguredCaAndPinning) {
  ClientOptions o = fast_options();
  o.max_retries = 0;
  o.tls.ca_pem = pki().client_ca.cert.to_pem();  // not the server's CA
  EXPECT_EQ(error_code([&] { HttpClient(o).get(url_ + "/healthz"); }), "http.tls");
  // Pinned public key: right pin works, wrong pin fails.
  o = fast_options();
  o.tls.pinned_public_key = "sha256//" + to_base64(sha256(pki().server.cert.spki_der()));
  EXPECT_EQ(HttpClient(o).get(url_ + "/healthz").status, 200);
  o.tls.pinned_public_key = "sha256//" + to_base64(sha256(pki().ca.cert.spki_der()));
  EXPECT_EQ(error_code([&] { HttpClient(o).get(url_ + "/healthz"); }), "http.tls");
  // CA from a file.
  o = fast_options();
  o.tls.ca_pem.clear();
  o.tls.ca_file = dir_.path() / "ca.pem";
  write_file_atomic(o.tls.ca_file, pki().ca.cert.to_pem());
  EXPECT_EQ(HttpClient(o).get(url_ + "/healthz").status, 200);
}

// A keep refuses a steward whose (verifying) certificate looks like a keep's: the check runs on
// the leaf after normal chain verification, and only the listed extensions count.
TEST_F(ClientTest, ForbiddenServerExtensionRefusesAVerifyingLeaf) {
  ClientOptions o = fast_options();
  o.max_retries = 0;
  o.tls.forbidden_server_extensions = {"1.2.3.4.5"};  // not on the server's certificate
  EXPECT_EQ(HttpClient(o).get(url_ + "/healthz").status, 200);
  o.tls.forbidden_server_extensions = {"1.2.3.4.5", "2.5.29.37"};  // extKeyUsage: it has one
  EXPECT_EQ(error_code([&] { HttpClient(o).get(url_ + "/healthz"); }), "http.tls_unexpected_certificate");
  // An untrusted chain stays an ordinary TLS failure.
  o.tls.ca_pem = pki().client_ca.cert.to_pem();
  EXPECT_EQ(error_code([&] { HttpClient(o).get(url_ + "/healthz"); }), "http.tls");
}

TEST_F(ClientTest, HeadersAndDefaultContentType) {
  HttpClient client(fast_options());
  EXPECT_EQ(client.get(url_ + "/headers", {{"X-Token", "abc"}}).body, "abc|");
  EXPECT_EQ(client.post(url_ + "/headers", "{}", {{"Content-Type", "application/json"}}).body,
            "|application/json");
  EXPECT_EQ(client.post(url_ + "/headers", "x").body, "|application/octet-stream");
}

// libcurl is dlopen'ed on first use; a host without it gets one stable error, not a crash.
TEST(CurlLibraryTest, MissingLibraryIsReportedWithEveryNameTried) {
  try {
    load_curl_library({"libcurl-absent.so.9", "libcurl-absent.so"});
    FAIL() << "loaded a library that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "http.curl_unavailable");
    EXPECT_NE(std::string(e.what()).find("libcurl-absent.so.9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("libcurl-absent.so:"), std::string::npos) << e.what();
  }
}

TEST(CurlLibraryTest, LibraryWithoutCurlSymbolsIsRejected) {
  try {
    load_curl_library({"libm.so.6"});
    FAIL() << "accepted libm as libcurl";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "http.curl_unavailable");
    EXPECT_NE(std::string(e.what()).find("curl_easy_init"), std::string::npos) << e.what();
  }
}

TEST(CurlLibraryTest, LaterNamesAreTriedAndTheTableIsShared) {
  CurlLibrary c = load_curl_library({"libcurl-absent.so.9", "libcurl.so.4"});
  ASSERT_NE(c.easy_init, nullptr);
  CURL* h = c.easy_init();
  ASSERT_NE(h, nullptr);
  c.easy_cleanup(h);
  EXPECT_EQ(&curl_library(), &curl_library());
  EXPECT_EQ(curl_library().easy_perform, c.easy_perform);  // the same loaded libcurl
}

}  // namespace
}  // namespace enarx::net
