// The HTTP face, through a real HTTPS server on loopback with a client that trusts only
// steward's CA: routes, issuance (single CSR and bundle), problem bodies for 400/401/413,
// /healthz, /metrics, and graceful shutdown with a request in flight.
//
// Nothing here may skip: every check asserts the exact status, so a broken HTTP layer (e.g. a
// server answering every POST with 400) fails these tests instead of hiding behind a skip.
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "net/http_client.h"
#include "net/http_server.h"
#include "core/file.h"
#include "steward/server.h"
#include "steward/service.h"
#include "test_util.h"

namespace enarx::steward {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// A KVM verifier that can hold a request inside verification until the test releases it (to
// have a request in flight while the server shuts down).
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool armed = false;
  bool entered = false;
  bool released = false;

  void enter() {
    std::unique_lock lock(m);
    if (!armed) return;
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  }
  bool wait_entered(std::chrono::seconds timeout) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return entered; });
  }
  void release() {
    std::lock_guard lock(m);
    released = true;
    cv.notify_all();
  }
};

class GatedKvmVerifier final : public EvidenceVerifier {
 public:
  explicit GatedKvmVerifier(std::shared_ptr<Gate> gate)
      : inner_(make_kvm_verifier()), gate_(std::move(gate)) {}
  std::string_view oid() const override { return inner_->oid(); }
  attest::Platform platform() const override { return inner_->platform(); }
  std::vector<KeyType> allowed_key_types() const override { return inner_->allowed_key_types(); }
  DigestAlgorithm binding_digest() const override { return inner_->binding_digest(); }
  VerifiedEvidence verify(const VerifyContext& context) const override {
    gate_->enter();
    return inner_->verify(context);
  }

 private:
  std::unique_ptr<EvidenceVerifier> inner_;
  std::shared_ptr<Gate> gate_;
};

struct Running {
  std::unique_ptr<Steward> steward;
  std::unique_ptr<net::HttpServer> server;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::string base;
  std::string ca_pem;  // steward's HTTPS CA (not its keep CA)
  std::unique_ptr<TempDir> state;
};

constexpr std::size_t kMaxBody = 64 * 1024;

std::unique_ptr<Running> start(bool tls = true) {
  auto r = std::make_unique<Running>();
  const auto now = std::chrono::system_clock::now();
  r->steward = std::make_unique<Steward>(
      make_ca(now), Policy::parse("[issuance]\nallow_insecure = true\nmax_bundle_size = 4\n"
                                  "[identity]\nany_measurement = true\n"));
  r->steward->register_verifier(std::make_unique<GatedKvmVerifier>(r->gate));
  net::ServerConfig cfg;
  cfg.address = "127.0.0.1";
  cfg.port = 0;
  cfg.access_log = false;
  cfg.worker_threads = 2;
  cfg.shutdown_grace = std::chrono::milliseconds(20'000);
  if (tls) {
    // As steward's service does without --tls-cert: a development HTTPS CA of its own.
    r->state = std::make_unique<TempDir>("steward-server-test");
    cfg.tls = development_https(r->state->path(), "Test Steward", {"127.0.0.1"}, *system_clock());
    r->ca_pem = read_text_file(r->state->path() / "tls" / "ca.crt");
  } else {
    cfg.allow_plaintext = true;
  }
  cfg.max_body_size = kMaxBody;
  r->server = std::make_unique<net::HttpServer>(cfg);
  install_routes(*r->server, *r->steward, kMaxBody);
  r->server->start();
  r->base = std::string(tls ? "https" : "http") + "://127.0.0.1:" +
            std::to_string(r->server->port());
  return r;
}

net::ClientOptions client_options(const Running& s) {
  net::ClientOptions opts;
  opts.max_retries = 0;
  opts.timeout = 60s;
  opts.tls.ca_pem = s.ca_pem;  // steward's HTTPS CA and nothing else
  return opts;
}

net::Headers content_type(std::string_view ct) { return {{"Content-Type", std::string(ct)}}; }

// A problem body: the right media type, JSON, with status and code as expected.
nlohmann::json expect_problem(const net::ClientResponse& r, int status, std::string_view code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), kProblemJson) << r.body;
  nlohmann::json p = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(p.is_object()) << r.body;
  if (!p.is_object()) return p;
  EXPECT_EQ(p.value("status", 0), status) << r.body;
  EXPECT_EQ(p.value("code", ""), code) << r.body;
  EXPECT_FALSE(p.value("title", "").empty()) << r.body;
  EXPECT_FALSE(p.value("detail", "").empty()) << r.body;
  return p;
}

// The issued leaf chains to the steward CA (TLS server and client use).
void expect_issued_for(const Certificate& leaf, const Certificate& ca, const PrivateKey& key) {
  EXPECT_EQ(leaf.public_key(), key.public_key());
  ChainVerifyOptions opt;
  opt.at = std::chrono::system_clock::now();
  opt.required_eku = "1.3.6.1.5.5.7.3.1";
  const std::vector<Certificate> anchors{ca};
  EXPECT_NO_THROW(verify_chain(leaf, {}, anchors, opt));
  EXPECT_NE(leaf.subject().find("O=INSECURE"), std::string::npos) << leaf.subject();
}

TEST(Server, HealthAndEnarxHealthCheck) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto root = client.get(s->base + "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_TRUE(root.body.empty());
  auto health = client.get(s->base + "/healthz");
  ASSERT_EQ(health.status, 200);
  auto j = nlohmann::json::parse(health.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << health.body;
  EXPECT_EQ(j.value("status", ""), "ok");
  s->server->stop();
}

TEST(Server, PostPkcs10IssuesOverHttps) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto key = PrivateKey::generate(KeyType::EcP256);
  SubjectAltNames sans;
  sans.uris = {"slug://drawbridge.example/alice/app:1.0.0"};
  auto r = client.post(s->base + "/", std::string(as_string(kvm_csr(key, sans))),
                       content_type(kPkcs10));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), kCertificatesContentType);
  // Enarx's PkiPath: [steward CA, issued].
  auto chain = Certificate::chain_from_der_sequence(as_bytes(r.body));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], s->steward->ca().certificate());
  expect_issued_for(chain[1], chain[0], key);
  EXPECT_EQ(chain[1].subject_alt_names().uris,
            (std::vector<std::string>{sans.uris[0], "urn:enarx:keep:kvm:kvm"}));
  // Parameters and case in the media type are ignored.
  auto r2 = client.post(s->base + "/", std::string(as_string(kvm_csr(key))),
                        content_type("Application/PKCS10; charset=binary"));
  EXPECT_EQ(r2.status, 200) << r2.body;
  s->server->stop();
}

TEST(Server, PostBundleIssuesOnePerCsr) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto k1 = PrivateKey::generate(KeyType::EcP256);
  auto k2 = PrivateKey::generate(KeyType::EcP384);
  auto r = client.post(s->base + "/", std::string(as_string(bundle({kvm_csr(k1), kvm_csr(k2)}))),
                       content_type(kPkcs10Bundle));
  ASSERT_EQ(r.status, 200) << r.body;
  auto out = decode_output(as_bytes(r.body));
  ASSERT_EQ(out.chain.size(), 1u);
  EXPECT_EQ(out.chain[0], s->steward->ca().certificate());
  ASSERT_EQ(out.issued.size(), 2u);
  expect_issued_for(out.issued[0], out.chain[0], k1);
  expect_issued_for(out.issued[1], out.chain[0], k2);
  s->server->stop();
}

TEST(Server, ProblemBodies400) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto key = PrivateKey::generate(KeyType::EcP256);
  const std::string csr(as_string(kvm_csr(key)));

  expect_problem(client.post(s->base + "/", "garbage", content_type(kPkcs10)), 400,
                 "steward.csr.malformed");
  // The client sends application/octet-stream when the caller gives no Content-Type.
  expect_problem(client.post(s->base + "/", csr), 400, "steward.content_type_unsupported");
  expect_problem(client.post(s->base + "/", csr, content_type("text/plain")), 400,
                 "steward.content_type_unsupported");
  // A bundle sent as a single CSR and vice versa.
  expect_problem(client.post(s->base + "/", std::string(as_string(bundle({kvm_csr(key)}))),
                             content_type(kPkcs10)),
                 400, "steward.csr.malformed");
  expect_problem(client.post(s->base + "/", csr, content_type(kPkcs10Bundle)), 400,
                 "steward.bundle_malformed");
  // A policy-level refusal names the CSR and the platform.
  auto ip_sans = SubjectAltNames{};
  ip_sans.ips = {"10.0.0.1"};
  auto p = expect_problem(client.post(s->base + "/", std::string(as_string(kvm_csr(key, ip_sans))),
                                      content_type(kPkcs10)),
                          400, "steward.csr.san_type");
  EXPECT_EQ(p.value("csr_index", -1), 0);
  EXPECT_EQ(p.value("platform", ""), "kvm");
  s->server->stop();
}

TEST(Server, ProblemBody401WithoutEvidence) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto p = expect_problem(client.post(s->base + "/",
                                      std::string(as_string(CsrBuilder().build_der(key))),
                                      content_type(kPkcs10)),
                          401, "steward.csr.no_evidence");
  EXPECT_EQ(p.value("csr_index", -1), 0);
  s->server->stop();
}

TEST(Server, TooLarge413) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  // Over the body limit: refused by the HTTP layer before steward sees it.
  auto huge = client.post(s->base + "/", std::string(kMaxBody + 1, 'x'), content_type(kPkcs10));
  EXPECT_EQ(huge.status, 413) << huge.body;
  EXPECT_NE(huge.body.find("http.body_too_large"), std::string::npos) << huge.body;
  // More CSRs than max_bundle_size (4): steward's own 413 with a problem body.
  auto key = PrivateKey::generate(KeyType::EcP256);
  const Bytes csr = kvm_csr(key);
  expect_problem(client.post(s->base + "/",
                             std::string(as_string(bundle({csr, csr, csr, csr, csr}))),
                             content_type(kPkcs10Bundle)),
                 413, "steward.bundle_too_large");
  // The server is still serving after the refusals.
  auto ok = client.post(s->base + "/", std::string(as_string(csr)), content_type(kPkcs10));
  EXPECT_EQ(ok.status, 200) << ok.body;
  s->server->stop();
}

TEST(Server, MetricsCountOutcomes) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto key = PrivateKey::generate(KeyType::EcP256);
  const Bytes csr = kvm_csr(key);
  ASSERT_EQ(client.post(s->base + "/", std::string(as_string(csr)), content_type(kPkcs10)).status,
            200);
  ASSERT_EQ(client
                .post(s->base + "/", std::string(as_string(bundle({csr, csr}))),
                      content_type(kPkcs10Bundle))
                .status,
            200);
  ASSERT_EQ(client
                .post(s->base + "/", std::string(as_string(CsrBuilder().build_der(key))),
                      content_type(kPkcs10))
                .status,
            401);
  ASSERT_EQ(client.post(s->base + "/", "garbage", content_type(kPkcs10)).status, 400);

  auto metrics = client.get(s->base + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const auto& m = metrics.body;
  EXPECT_NE(m.find("steward_certificates_issued_total{platform=\"kvm\"} 3"), std::string::npos)
      << m;
  EXPECT_NE(m.find("steward_requests_rejected_total{reason=\"steward.csr.no_evidence\","
                   "platform=\"unknown\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("steward_requests_rejected_total{reason=\"steward.csr.malformed\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("steward_request_duration_seconds_count{outcome=\"issued\"} 2"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("steward_request_duration_seconds_count{outcome=\"rejected\"} 2"),
            std::string::npos)
      << m;
  s->server->stop();
}

// What clients send (content types, garbage bodies) never becomes a label value: the rejection
// reasons are steward's stable codes, so the series stay few however many distinct requests come.
TEST(Server, ClientInputDoesNotGrowMetricLabels) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  for (int i = 0; i < 60; ++i) {
    client.post(s->base + "/", "garbage" + std::to_string(i), content_type("application/x-" + std::to_string(i)));
    client.post(s->base + "/", std::string(static_cast<std::size_t>(i + 1), static_cast<char>(i)), content_type(kPkcs10));
  }
  auto& rejected = s->server->metrics().counter("steward_requests_rejected_total", "", {"reason", "platform"});
  EXPECT_LE(rejected.series_count(), 3u) << s->server->metrics().render();
  auto& requests = s->server->metrics().counter("http_requests_total", "", {"method", "route", "status"});
  EXPECT_LE(requests.series_count(), 3u) << s->server->metrics().render();
  s->server->stop();
}

TEST(Server, GracefulShutdownFinishesTheRequestInFlight) {
  auto s = start();
  net::HttpClient client(client_options(*s));
  auto key = PrivateKey::generate(KeyType::EcP256);
  const std::string csr(as_string(kvm_csr(key)));
  {
    std::lock_guard lock(s->gate->m);
    s->gate->armed = true;
  }
  std::atomic<bool> stopped{false};
  std::future<net::ClientResponse> in_flight;
  std::future<void> stopper;
  // Declared after the futures, so destroyed first: a failed ASSERT below releases the held
  // request instead of leaving the futures' destructors waiting for it.
  struct ReleaseOnExit {
    Gate& gate;
    ~ReleaseOnExit() { gate.release(); }
  } release_on_exit{*s->gate};

  // A request that stays inside verification until released.
  in_flight = std::async(std::launch::async, [&] {
    return client.post(s->base + "/", csr, content_type(kPkcs10));
  });
  ASSERT_TRUE(s->gate->wait_entered(30s)) << "the request never reached the verifier";

  stopper = std::async(std::launch::async, [&] {
    s->server->stop();
    stopped = true;
  });
  // Stopping closes the listener: new connections are refused while the request drains.
  net::ClientOptions quick = client_options(*s);
  quick.connect_timeout = 2s;
  quick.timeout = 5s;
  net::HttpClient prober(quick);
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    try {
      prober.get(s->base + "/healthz");
      std::this_thread::sleep_for(50ms);
    } catch (const Error&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "the server kept accepting connections after stop()";
  EXPECT_FALSE(stopped.load()) << "stop() returned with a request still in flight";

  s->gate->release();
  auto r = in_flight.get();
  ASSERT_EQ(r.status, 200) << r.body;
  auto chain = Certificate::chain_from_der_sequence(as_bytes(r.body));
  ASSERT_EQ(chain.size(), 2u);
  expect_issued_for(chain[1], chain[0], key);
  ASSERT_EQ(stopper.wait_for(30s), std::future_status::ready) << "stop() did not return";
  EXPECT_TRUE(stopped.load());
}

TEST(Server, RunReturnsAfterRequestStop) {
  // The service's serving loop: run() blocks until a stop request (SIGTERM/SIGINT do the same),
  // then drains and returns.
  auto s = start();
  auto runner = std::async(std::launch::async, [&] { s->server->run(); });
  net::HttpClient client(client_options(*s));
  EXPECT_EQ(client.get(s->base + "/healthz").status, 200);
  s->server->request_stop();
  ASSERT_EQ(runner.wait_for(30s), std::future_status::ready) << "run() did not return";
  runner.get();
}

// Steward's HTTPS certificate does not come from the CA that signs keeps: a client trusting
// the keep CA does not trust steward, so no keep certificate can pass for steward.
TEST(Server, HttpsCertificateIsNotFromTheKeepCa) {
  auto s = start();
  net::ClientOptions opts = client_options(*s);
  EXPECT_EQ(net::HttpClient(opts).get(s->base + "/healthz").status, 200);
  opts.tls.ca_pem = s->steward->ca().certificate().to_pem();
  try {
    net::HttpClient(opts).get(s->base + "/healthz");
    ADD_FAILURE() << "the keep CA vouched for steward's HTTPS";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "http.tls") << e.what();
  }
  // The development HTTPS CA is kept: a restart serves a certificate from the same CA.
  const auto again = development_https(s->state->path(), "Test Steward", {"127.0.0.1"}, *system_clock());
  EXPECT_NE(again.cert_chain_pem.find(Certificate::from_pem(s->ca_pem).to_pem()), std::string::npos);
}

TEST(Server, ConfiguredHttpsCertificateFromTheKeepCaIsRefused) {
  const auto now = std::chrono::system_clock::now();
  const auto ca = make_ca(now);
  const auto key = PrivateKey::generate(KeyType::EcP256);
  const auto cert = CertificateBuilder()
                        .subject({{"CN", "steward.example.com"}})
                        .public_key(key.public_key())
                        .validity(now - std::chrono::hours(1), now + std::chrono::hours(1))
                        .extended_key_usage({"serverAuth"})
                        .sign(ca.key(), &ca.certificate());
  net::TlsServerConfig tls;
  tls.cert_chain_pem = cert.to_pem() + ca.certificate().to_pem();
  tls.key_pem = key.to_pem_pkcs8();
  try {
    refuse_keep_ca_https(tls, ca);
    ADD_FAILURE() << "an HTTPS certificate from the keep CA was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "steward.tls.keep_ca") << e.what();
  }
  TempDir dir("steward-https");
  EXPECT_NO_THROW(refuse_keep_ca_https(development_https(dir.path(), "x", {"localhost"}, *system_clock()), ca));
}

TEST(Server, PlainHttpWhenConfigured) {
  // --plain-http (behind a TLS-terminating proxy) serves the same routes.
  auto s = start(/*tls=*/false);
  net::ClientOptions opts;
  opts.max_retries = 0;
  net::HttpClient client(opts);
  auto key = PrivateKey::generate(KeyType::EcP256);
  auto r = client.post(s->base + "/", std::string(as_string(kvm_csr(key))), content_type(kPkcs10));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Certificate::chain_from_der_sequence(as_bytes(r.body)).size(), 2u);
  s->server->stop();
}

TEST(Server, HttpsRefusedByAClientThatDoesNotTrustTheCa) {
  auto s = start();
  net::ClientOptions opts;
  opts.max_retries = 0;
  opts.tls.ca_pem = make_ca(std::chrono::system_clock::now()).certificate().to_pem();
  net::HttpClient client(opts);
  try {
    client.get(s->base + "/healthz");
    ADD_FAILURE() << "a client trusting another CA connected";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "http.tls") << e.what();
  }
  s->server->stop();
}

}  // namespace
}  // namespace enarx::steward
