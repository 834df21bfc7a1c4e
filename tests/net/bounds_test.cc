// What an unauthenticated client controls, the server holds only within a stated bound
// (docs/net.md "Bounds"). Each test performs the attack: bodies announced to a route that
// refuses them at header time, bodies past the shared buffer budget, a queue of requests for the
// worker pool, header floods, never-ending chunk lines, idle connections filling every slot,
// label values from client input.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "attack.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "test_pki.h"

namespace enarx::net {
namespace {

using namespace std::chrono_literals;
using attack::RawClient;

ServerConfig plain_config() {
  ServerConfig c;
  c.allow_plaintext = true;
  c.access_log = false;
  c.worker_threads = 2;
  return c;
}

double gauge(HttpServer& s, const std::string& name) { return s.metrics().gauge(name, "").value(); }
double counter(HttpServer& s, const std::string& name) { return s.metrics().counter(name, "").value(); }

std::string code_of(const std::string& response) {
  const auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return "";
  try {
    return nlohmann::json::parse(response.substr(body + 4)).value("code", "");
  } catch (...) {
    return "";
  }
}

// A route whose header check refuses callers without "Authorization: yes", the way drawbridge
// refuses an upload without the owner's token.
struct Guarded {
  std::atomic<int> handled{0};
  std::atomic<int> checked{0};

  void install(HttpServer& server, std::uint64_t limit) {
    server.put("/upload", [this](Request& r) {
      ++handled;
      return Response::text(200, std::to_string(r.body.size()));
    }, {.max_body_size = limit, .on_header = [this](Request& r) {
      ++checked;
      if (r.header("Authorization") != "yes") {
        return HeaderDecision{Response::error(401, "test.unauthorized", "no")};
      }
      return HeaderDecision{};
    }});
  }
};

TEST(Bounds, HeaderCheckAnswersBeforeTheBodyIsRead) {
  ServerConfig c = plain_config();
  HttpServer server(c);
  Guarded g;
  g.install(server, 256u << 20);
  server.start();

  // 200 MiB announced, nothing sent: the refusal arrives without waiting for a byte of it.
  RawClient anon(server.port(), false);
  ASSERT_TRUE(anon.ok());
  ASSERT_TRUE(anon.send_all("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n"));
  anon.read_response(3s);
  EXPECT_EQ(anon.status(), 401) << anon.received();
  EXPECT_EQ(code_of(anon.received()), "test.unauthorized");
  EXPECT_NE(anon.received().find("Connection: close"), std::string::npos) << anon.received();
  // Closed after the answer (the rest of the announced body is never read).
  EXPECT_TRUE(anon.wait_closed(3s));

  // A client that keeps sending sees the answer after little of its body.
  RawClient pushy(server.port(), false);
  ASSERT_TRUE(pushy.send_all("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n"));
  pushy.send_filler_until_answered(64u << 20, 10s);
  EXPECT_EQ(pushy.status(), 401) << pushy.received().substr(0, 200);
  EXPECT_LT(pushy.body_sent(), 16u << 20) << "the server read the body before answering";

  // With Expect: 100-continue the refusal comes instead of the 100.
  RawClient polite(server.port(), false);
  ASSERT_TRUE(polite.send_all(
      "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"));
  polite.read_response(3s);
  EXPECT_EQ(polite.status(), 401) << polite.received();

  EXPECT_EQ(g.handled.load(), 0);
  EXPECT_EQ(g.checked.load(), 3);
  EXPECT_EQ(gauge(server, "http_request_body_bytes_buffered"), 0);

  // The authorized caller's body is read and handled.
  RawClient owner(server.port(), false);
  ASSERT_TRUE(owner.send_all("PUT /upload HTTP/1.1\r\nHost: x\r\nAuthorization: yes\r\nContent-Length: 5\r\n\r\nhello"));
  owner.read_response(3s);
  EXPECT_EQ(owner.status(), 200) << owner.received();
  EXPECT_EQ(owner.received().substr(owner.received().size() - 1), "5");
  EXPECT_EQ(g.handled.load(), 1);
}

// The header check comes before the route's body limit: a refused caller is told it is refused
// (not how large a body it may send); an accepted one still meets the limit, before its body.
TEST(Bounds, HeaderCheckComesBeforeTheRouteLimit) {
  ServerConfig c = plain_config();
  HttpServer server(c);
  Guarded g;
  g.install(server, 1024);
  server.start();

  RawClient anon(server.port(), false);
  ASSERT_TRUE(anon.send_all("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n"));
  anon.read_response(3s);
  EXPECT_EQ(anon.status(), 401) << anon.received();
  EXPECT_EQ(code_of(anon.received()), "test.unauthorized");

  RawClient owner(server.port(), false);
  ASSERT_TRUE(owner.send_all("PUT /upload HTTP/1.1\r\nHost: x\r\nAuthorization: yes\r\nContent-Length: 2048\r\n\r\n"));
  owner.read_response(3s);
  EXPECT_EQ(owner.status(), 413) << owner.received();
  EXPECT_EQ(code_of(owner.received()), "http.body_too_large");
  EXPECT_TRUE(owner.wait_closed(3s));
  EXPECT_EQ(g.checked.load(), 2);
  EXPECT_EQ(g.handled.load(), 0);
}

// Collects a streamed body.
struct CollectingSink final : RequestBodySink {
  std::string data;
  void write(const char* p, std::size_t n) override { data.append(p, n); }
};

TEST(Bounds, HeaderCheckNarrowsTheLimitAndStreamsToASink) {
  ServerConfig c = plain_config();
  c.max_buffered_bytes = 1024;  // streamed bodies are not charged to it
  HttpServer server(c);
  std::shared_ptr<CollectingSink> last;
  std::mutex mu;
  server.put("/{kind}", [&](Request& r) {
    auto* sink = dynamic_cast<CollectingSink*>(r.body_sink.get());
    return Response::text(200, std::to_string(r.body.size()) + "/" + (sink ? std::to_string(sink->data.size()) : "-"));
  }, {.max_body_size = 64u << 20, .on_header = [&](Request& r) {
    HeaderDecision d;
    if (r.param("kind") == "small") d.max_body_size = 5;
    if (r.param("kind") == "stream") {
      auto s = std::make_shared<CollectingSink>();
      std::lock_guard lock(mu);
      last = s;
      d.sink = s;
    }
    return d;
  }});
  server.start();
  HttpClient client([] {
    ClientOptions o;
    o.max_retries = 0;
    return o;
  }());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto r = client.put(base + "/small", std::string(10, 'a'));
  EXPECT_EQ(r.status, 413);
  r = client.put(base + "/small", std::string(5, 'a'));
  EXPECT_EQ(r.body, "5/-");
  // 3 MiB streamed past a 1 KiB buffer budget.
  const std::string big(3u << 20, 'b');
  r = client.put(base + "/stream", big);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "0/" + std::to_string(big.size()));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(last->data, big);
  }
  // Chunked into the sink too.
  RawClient chunked(server.port(), false);
  ASSERT_TRUE(chunked.send_all("PUT /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"));
  chunked.read_response(3s);
  EXPECT_EQ(chunked.status(), 200) << chunked.received();
  EXPECT_NE(chunked.received().find("0/7"), std::string::npos) << chunked.received();
  // Buffered past the budget: 413 (it could never fit).
  r = client.put(base + "/other", std::string(2000, 'c'));
  EXPECT_EQ(r.status, 413);
}

TEST(Bounds, BufferedBodiesShareOneBudget503) {
  ServerConfig c = plain_config();
  c.max_buffered_bytes = 1u << 20;
  c.max_body_size = 1u << 20;
  HttpServer server(c);
  server.put("/put", [](Request& r) { return Response::text(200, std::to_string(r.body.size())); });
  server.start();

  // Holds 700 KiB of the budget: the header and part of its body, then nothing.
  RawClient holder(server.port(), false);
  ASSERT_TRUE(holder.send_all("PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 716800\r\n\r\n" + std::string(1000, 'h')));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gauge(server, "http_request_body_bytes_buffered"), 716800);

  // A second 700 KiB body does not fit: 503 before its body, with Retry-After.
  RawClient second(server.port(), false);
  ASSERT_TRUE(second.send_all("PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 716800\r\n\r\n"));
  second.read_response(3s);
  EXPECT_EQ(second.status(), 503) << second.received();
  EXPECT_EQ(code_of(second.received()), "http.overloaded");
  EXPECT_NE(second.received().find("Retry-After: 1"), std::string::npos) << second.received();

  // A chunked body is charged as it grows: refused once it no longer fits.
  RawClient chunked(server.port(), false);
  ASSERT_TRUE(chunked.send_all("PUT /put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 8 && !chunked.has_response_header(); ++i) {
    chunked.send_all("10000\r\n" + std::string(0x10000, 'c') + "\r\n", 2s);
  }
  chunked.read_response(3s);
  EXPECT_EQ(chunked.status(), 503) << chunked.received().substr(0, 300);
  EXPECT_LE(gauge(server, "http_request_body_bytes_buffered"), 1u << 20);

  // Once the holder finishes, the budget is free again.
  holder.send_all(std::string(716800 - 1000, 'h'));
  holder.read_response(3s);
  EXPECT_EQ(holder.status(), 200) << holder.received();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(gauge(server, "http_request_body_bytes_buffered"), 0);
  RawClient third(server.port(), false);
  ASSERT_TRUE(third.send_all("PUT /put HTTP/1.1\r\nHost: x\r\nContent-Length: 716800\r\n\r\n" + std::string(716800, 't')));
  third.read_response(3s);
  EXPECT_EQ(third.status(), 200) << third.received();
}

TEST(Bounds, QueuedRequestsAreBounded503) {
  ServerConfig c = plain_config();
  c.worker_threads = 1;
  c.max_queued_requests = 2;
  HttpServer server(c);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  server.get("/block", [&](Request&) {
    ++entered;
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return release; });
    return Response::text(200, "ok");
  });
  server.start();
  std::vector<std::unique_ptr<RawClient>> clients;
  // One running, two waiting.
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawClient>(server.port(), false));
    ASSERT_TRUE(clients.back()->send_all("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
    if (i == 0) {
      for (int t = 0; t < 100 && entered == 0; ++t) std::this_thread::sleep_for(10ms);
    }
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gauge(server, "http_requests_queued"), 2);
  RawClient fourth(server.port(), false);
  ASSERT_TRUE(fourth.send_all("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  fourth.read_response(3s);
  EXPECT_EQ(fourth.status(), 503) << fourth.received();
  EXPECT_EQ(code_of(fourth.received()), "http.overloaded");
  EXPECT_NE(fourth.received().find("Retry-After: 1"), std::string::npos);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  for (auto& cl : clients) {
    cl->read_response(5s);
    EXPECT_EQ(cl->status(), 200) << cl->received();
  }
}

TEST(Bounds, HeaderFieldsAreCounted431) {
  ServerConfig c = plain_config();
  HttpServer server(c);
  server.start();
  auto request = [&](int extra) {
    std::string r = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < extra; ++i) r += "a" + std::to_string(i) + ":\r\n";
    RawClient cl(server.port(), false);
    cl.send_all(r + "\r\n");
    cl.read_response(3s);
    return std::pair(cl.status(), code_of(cl.received()));
  };
  // 100 fields (Host + 99) pass; 101 — well within 16 KiB — are refused.
  EXPECT_EQ(request(99).first, 200);
  auto [status, code] = request(100);
  EXPECT_EQ(status, 431);
  EXPECT_EQ(code, "http.too_many_headers");
  EXPECT_EQ(request(2000).second, "http.too_many_headers");
}

TEST(Bounds, NeverEndingChunkLineIsCut) {
  ServerConfig c = plain_config();
  HttpServer server(c);
  server.put("/put", [](Request& r) { return Response::text(200, std::to_string(r.body.size())); });
  server.start();
  // A chunk-size line whose extension never ends: nothing in it counts against the body limit,
  // so only the read buffer's own bound stops it.
  RawClient cl(server.port(), false);
  ASSERT_TRUE(cl.send_all("PUT /put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;ext="));
  const auto sent = cl.send_filler_until_answered(64u << 20, 20s);
  EXPECT_TRUE(cl.wait_closed(5s)) << "still reading after " << sent << " bytes";
  EXPECT_LT(sent, 32u << 20);
}

TEST(Bounds, IdleConnectionsCannotTakeEverySlot) {
  attack::raise_fd_limit(8192);
  ServerConfig c = plain_config();
  c.max_connections = 32;
  c.max_connections_per_ip = 8;
  c.header_timeout = 30s;  // the flood must stay; eviction, not the timeout, makes room
  HttpServer server(c);
  server.start();
  const auto port = server.port();
  auto probe = [&](const std::string& source) {
    RawClient cl(port, false, source);
    if (!cl.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5s)) return false;
    cl.read_response(5s);
    return cl.status() == 200;
  };

  // An established client: it has made a request and stays connected, idle.
  RawClient established(port, false, "127.0.0.1");
  ASSERT_TRUE(established.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  established.read_response(3s);
  ASSERT_EQ(established.status(), 200);

  {
    // 300 silent sockets from one address, reopened as the server closes them: the per-address
    // cap holds them to 8, and a client from the same address still gets in, because the
    // flood's connections (nothing sent) make room for it.
    attack::IdleFlood flood(port, 300, {"127.0.0.2"});
    std::this_thread::sleep_for(500ms);
    int ok = 0;
    for (int i = 0; i < 20; ++i) ok += probe("127.0.0.2");
    EXPECT_EQ(ok, 20);
    EXPECT_LE(gauge(server, "http_connections_active"), 32 + 4);
    EXPECT_GT(flood.closed_by_server(), 0u);
  }
  {
    // 40 addresses x 8 idle sockets: the global cap (32) is full of them; newcomers from yet
    // another address evict the oldest of those, never the established connection.
    std::vector<std::string> sources;
    for (int i = 10; i < 50; ++i) sources.push_back("127.0.0." + std::to_string(i));
    attack::IdleFlood flood(port, 320, sources);
    std::this_thread::sleep_for(500ms);
    int ok = 0;
    for (int i = 0; i < 20; ++i) ok += probe("127.0.0.3");
    EXPECT_EQ(ok, 20);
    // Open sockets: the cap, plus the ones being closed to make room (a few at most).
    EXPECT_LE(gauge(server, "http_connections_active"), 32 + 4);
  }
  ASSERT_TRUE(established.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  established.wait_closed(3s);
  EXPECT_NE(established.received().find("HTTP/1.1 200", 10), std::string::npos) << established.received();
  EXPECT_GT(counter(server, "http_connections_evicted_total"), 0);
}

TEST(Bounds, IdleTlsConnectionsCannotTakeEverySlot) {
  attack::raise_fd_limit(8192);
  ServerConfig c = testing::tls_server_config();
  c.access_log = false;
  c.max_connections_per_ip = 16;
  HttpServer server(c);
  server.start();
  // One address holding 600 sockets that never say hello; the probes come from that address too.
  attack::IdleFlood flood(server.port(), 600);
  std::this_thread::sleep_for(500ms);
  ClientOptions o;
  o.tls.ca_pem = testing::TestPki::shared().ca.cert.to_pem();
  o.max_retries = 0;
  o.connect_timeout = 5s;
  o.timeout = 10s;
  HttpClient client(o);
  // Each probe may try up to five times, as a client would: until its ClientHello arrives a
  // probe is a silent socket of the flooding address too, and if 16 newer flood sockets are
  // accepted first it is the oldest and is evicted (curl then reports a TLS error, which it does
  // not retry). Seen once in 20 under ASan, and once twice in a row in CI under ctest -j2. The
  // property is that clients get in, not that no connection from a flooding address is ever cut.
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      try {
        if (client.get("https://127.0.0.1:" + std::to_string(server.port()) + "/healthz").status == 200) {
          ++ok;
          break;
        }
      } catch (const Error&) {
      }
    }
  }
  EXPECT_EQ(ok, 20);
  EXPECT_LE(gauge(server, "http_connections_active"), 16 + 4);
}

TEST(Bounds, ClientInputDoesNotGrowMetricLabels) {
  ServerConfig c = plain_config();
  HttpServer server(c);
  server.get("/items/{id}", [](Request&) { return Response::text(200, "x"); });
  server.start();
  for (int i = 0; i < 100; ++i) {
    RawClient a(server.port(), false);
    a.send_all("X" + std::to_string(i) + " /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    a.read_response(3s);
    RawClient b(server.port(), false);
    b.send_all("GET /no/such/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    b.read_response(3s);
    RawClient d(server.port(), false);
    d.send_all("GET /items/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    d.read_response(3s);
  }
  auto& requests = server.metrics().counter("http_requests_total", "", {"method", "route", "status"});
  EXPECT_LE(requests.series_count(), 4u) << server.metrics().render();
}

}  // namespace
}  // namespace enarx::net
