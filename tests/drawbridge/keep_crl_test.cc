// Drawbridge refuses revoked keep certificates (docs/drawbridge.md "Revoked keeps"): a registry
// over real HTTPS whose CrlMonitor fetches steward's CRL from an in-process HTTP server, under an
// injected clock. A keep certificate reads, is refused once the CRL lists it, and is refused when
// the CRL is stale, when none was had yet, and when the CRL is signed by another key.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "core/content_digest.h"
#include "core/file.h"
#include "drawbridge/auth.h"
#include "drawbridge/model.h"
#include "drawbridge/registry.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "revocation/crl.h"
#include "revocation/crl_monitor.h"
#include "test_pki.h"

using namespace enarx;
using namespace enarx::drawbridge;
using namespace std::chrono_literals;
using pkitest::Issued;

namespace {

// Steward's GET /crl, serving whatever CRL the test sets.
class CrlServer {
 public:
  CrlServer() {
    net::ServerConfig sc;
    sc.allow_plaintext = true;
    sc.access_log = false;
    server_ = std::make_unique<net::HttpServer>(sc);
    server_->get("/crl", [this](net::Request&) {
      std::lock_guard lock(mu_);
      ++requests;
      return net::Response::bytes(200, std::string(as_string(crl_)), "application/pkix-crl");
    });
    server_->start();
  }
  void set(Bytes crl) {
    std::lock_guard lock(mu_);
    crl_ = std::move(crl);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/crl"; }
  std::atomic<int> requests{0};

 private:
  std::mutex mu_;
  Bytes crl_;
  std::unique_ptr<net::HttpServer> server_;
};

class KeepCrl : public ::testing::Test {
 protected:
  void SetUp() override {
    steward = pkitest::make_ca("steward CA");
    server_ca = pkitest::make_ca("server CA");
    server = pkitest::server_cert(server_ca);
    keep = pkitest::keep_cert(steward, "slug://alice/secret");
    other_keep = pkitest::keep_cert(steward, "slug://alice/secret");
    steward_b = pkitest::make_ca("steward B CA");
    keep_b = pkitest::keep_cert(steward_b, "slug://alice/secret");
    store = std::shared_ptr<Store>(open_sqlite_store((tmp.path() / "data").string()));
    crl_server.set(crl({}, 1, t0 + 1h));
  }
  void TearDown() override {
    if (http) http->stop();
  }

  Bytes crl(std::vector<revocation::CrlEntry> entries, std::uint64_t number, TimePoint next_update,
            const Issued* signer = nullptr) const {
    const Issued& by = signer ? *signer : steward;
    return revocation::build_crl(by.key, by.cert, entries, number, clock->now() - 1s, next_update);
  }
  revocation::CrlEntry revoke(const Issued& who) const {
    return {who.cert.serial(), clock->now(), revocation::Reason::kKeyCompromise};
  }

  // (Re)starts the registry; with a keep CRL monitor unless `with_crl` is false. `stewards` 2:
  // a second steward CA (steward_b) is trusted too, with a monitor of its own CRL when
  // `with_crl_b`.
  void start(bool with_crl = true, int stewards = 1, bool with_crl_b = false) {
    if (http) http->stop();
    http.reset();
    registry.reset();
    auto tokens = std::make_shared<TokenVerifier>(system_clock());
    tokens->add_issuer(issuer.issuer_config());
    RegistryOptions ro;
    ro.clock = clock;
    ro.client_ca = {steward.cert};
    if (stewards == 2) ro.client_ca.push_back(steward_b.cert);
    ro.lookup_rate = 0;
    monitor.reset();
    monitor_b.reset();
    if (with_crl) {
      monitor = std::make_shared<revocation::CrlMonitor>(revocation::CrlMonitorOptions{
          .url = crl_server.url(), .issuers = ro.client_ca, .grace = 10min, .clock = clock});
      ro.keep_crls = {monitor};
    }
    if (with_crl_b) {
      monitor_b = std::make_shared<revocation::CrlMonitor>(revocation::CrlMonitorOptions{
          .url = crl_server_b.url(), .issuers = ro.client_ca, .grace = 10min, .clock = clock});
      ro.keep_crls.push_back(monitor_b);
    }
    registry = std::make_unique<Registry>(store, tokens, ro);
    net::ServerConfig sc;
    sc.port = 0;
    net::TlsServerConfig tls;
    tls.cert_chain_pem = server.cert.to_pem() + server_ca.cert.to_pem();
    tls.key_pem = server.key.to_pem_pkcs8();
    tls.client_ca_pem = steward.cert.to_pem() + (stewards == 2 ? steward_b.cert.to_pem() : std::string());
    tls.client_auth = net::ClientAuth::Optional;
    sc.tls = tls;
    sc.access_log = false;
    http = std::make_unique<net::HttpServer>(sc);
    registry->install(*http);
    http->start();
    base = "https://127.0.0.1:" + std::to_string(http->port());
  }

  net::ClientResponse send(net::Method method, const std::string& path, const std::string& body = {},
                           const Issued* cert = nullptr, const std::string& token = {}) {
    net::ClientOptions o;
    o.tls.ca_pem = server_ca.cert.to_pem();
    o.max_retries = 0;
    if (cert) {
      o.tls.client_cert_pem = cert->cert.to_pem();
      o.tls.client_key_pem = cert->key.to_pem_pkcs8();
    }
    net::HttpClient client(o);
    net::ClientRequest req;
    req.method = method;
    req.url = base + (path == "/metrics" ? path : "/api/v0.1.0" + path);
    req.body = body;
    if (!token.empty()) req.headers.set("Authorization", "Bearer " + token);
    if (!body.empty()) {
      req.headers.set("Content-Type", "application/json");
      req.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
    }
    return client.send(req);
  }
  // A private repository alice/secret; keep certificates for it may list its tags.
  void make_private_repo() {
    const auto alice = issuer.mint("alice", all_manage_scopes(), 1h, std::chrono::system_clock::now());
    ASSERT_EQ(send(net::Method::Put, "/alice", user_to_json({"alice"}), nullptr, alice).status, 201);
    ASSERT_EQ(send(net::Method::Put, "/alice/secret", repo_to_json({false}), nullptr, alice).status, 201);
  }
  int keep_reads(const Issued& cert) { return send(net::Method::Get, "/alice/secret/_tag", {}, &cert).status; }

  TempDir tmp{"drawbridge-keep-crl"};
  TimePoint t0 = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::shared_ptr<FixedClock> clock = std::make_shared<FixedClock>(t0);
  Issued steward, server_ca, server, keep, other_keep, steward_b, keep_b;
  LocalIssuer issuer = LocalIssuer::load_or_create(tmp.path() / "issuer", "test-issuer", "drawbridge");
  std::shared_ptr<Store> store;
  CrlServer crl_server, crl_server_b;
  std::shared_ptr<revocation::CrlMonitor> monitor, monitor_b;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<net::HttpServer> http;
  std::string base;
};

// The attack, without the check: a revoked keep certificate still reads.
TEST_F(KeepCrl, WithoutACrlARevokedKeepStillReads) {
  start(false);
  make_private_repo();
  crl_server.set(crl({revoke(keep)}, 2, t0 + 1h));  // steward has revoked it; nobody asks
  EXPECT_EQ(keep_reads(keep), 200);
}

TEST_F(KeepCrl, KeepWorksThenIsRefusedOnceTheCrlListsIt) {
  start();
  make_private_repo();
  // No CRL fetched yet: keep certificates grant nothing.
  EXPECT_EQ(keep_reads(keep), 404);
  ASSERT_TRUE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep), 200);
  EXPECT_EQ(keep_reads(other_keep), 200);
  // Steward revokes the keep; the next refresh picks it up.
  clock->set(t0 + 5min);
  crl_server.set(crl({revoke(keep)}, 2, t0 + 1h));
  ASSERT_TRUE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep), 404);
  EXPECT_EQ(keep_reads(other_keep), 200);
  const auto metrics = send(net::Method::Get, "/metrics").body;
  EXPECT_NE(metrics.find("drawbridge_keep_crl_number 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("drawbridge_keep_crl_age_seconds"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("drawbridge_keep_certificates_refused_total{state=\"revoked\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("drawbridge_keep_certificates_refused_total{state=\"no_crl\"} 1"), std::string::npos)
      << metrics;
}

// A registry trusting two stewards checks each keep against its own steward's CRL: a keep whose
// steward's CRL nobody fetches grants nothing, and one steward's revocations touch only its keeps.
TEST_F(KeepCrl, EachStewardsKeepsAreCheckedAgainstTheirOwnCrl) {
  crl_server_b.set(revocation::build_crl(steward_b.key, steward_b.cert, {}, 1, clock->now() - 1s, t0 + 1h));
  start(true, 2, false);  // steward B trusted, but no CRL URL for it
  make_private_repo();
  ASSERT_TRUE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep), 200);
  EXPECT_EQ(keep_reads(keep_b), 404);
  EXPECT_NE(send(net::Method::Get, "/metrics").body.find("drawbridge_keep_certificates_refused_total{state=\"other_issuer\"} 1"),
            std::string::npos);
  start(true, 2, true);
  ASSERT_TRUE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep_b), 404) << "B's CRL not fetched yet: fail closed";
  ASSERT_TRUE(monitor_b->refresh());
  EXPECT_EQ(keep_reads(keep), 200);
  EXPECT_EQ(keep_reads(keep_b), 200);
  clock->set(t0 + 5min);
  crl_server_b.set(revocation::build_crl(steward_b.key, steward_b.cert, std::vector<revocation::CrlEntry>{revoke(keep_b)},
                                         2, clock->now() - 1s, t0 + 1h));
  ASSERT_TRUE(monitor_b->refresh());
  EXPECT_EQ(keep_reads(keep_b), 404);
  EXPECT_EQ(keep_reads(keep), 200);
  const auto metrics = send(net::Method::Get, "/metrics").body;
  EXPECT_NE(metrics.find("drawbridge_keep2_crl_number 2"), std::string::npos) << metrics;
}

TEST_F(KeepCrl, StaleCrlGrantsNothing) {
  start();
  make_private_repo();
  ASSERT_TRUE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep), 200);
  // Steward stops publishing: the CRL held reaches nextUpdate, then the grace runs out.
  clock->set(t0 + 65min);
  EXPECT_EQ(keep_reads(keep), 200);  // past nextUpdate, within the 10 minutes of grace
  clock->set(t0 + 71min);
  EXPECT_FALSE(monitor->refresh());  // the same CRL again, now too old: refused
  EXPECT_EQ(monitor->info().last_error, "revocation.crl.expired");
  EXPECT_EQ(keep_reads(keep), 404);
  // A fresh CRL restores access.
  crl_server.set(crl({}, 2, clock->now() + 1h));
  ASSERT_TRUE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep), 200);
  const auto metrics = send(net::Method::Get, "/metrics").body;
  EXPECT_NE(metrics.find("drawbridge_keep_certificates_refused_total{state=\"stale\"} 1"), std::string::npos)
      << metrics;
}

TEST_F(KeepCrl, CrlSignedByAnotherKeyIsRefused) {
  start();
  make_private_repo();
  // An impostor with the steward CA's name: its CRL is never installed.
  const Issued impostor = pkitest::make_ca("steward CA");
  crl_server.set(crl({}, 1, t0 + 1h, &impostor));
  EXPECT_FALSE(monitor->refresh());
  EXPECT_EQ(monitor->info().last_error, "revocation.crl.bad_signature");
  EXPECT_EQ(keep_reads(keep), 404);
  // Nor does it replace a real one that lists the keep.
  crl_server.set(crl({revoke(keep)}, 5, t0 + 1h));
  ASSERT_TRUE(monitor->refresh());
  crl_server.set(crl({}, 6, t0 + 1h, &impostor));
  EXPECT_FALSE(monitor->refresh());
  EXPECT_EQ(keep_reads(keep), 404);
  EXPECT_EQ(keep_reads(other_keep), 200);
}

}  // namespace
