// StatusChecker: the order of sources, failing closed, the CRL cache and its bounds — with a
// scripted Fetcher, then over real HTTP and HTTPS against an in-process steward-like server.
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "net/http_server.h"
#include "revocation/crl.h"
#include "revocation/fetch.h"
#include "revocation/ocsp.h"
#include "revocation/status.h"
#include "revocation_pki.h"
#include "support/error_code.h"

namespace enarx::revocation {
namespace {

using namespace test;
using support::error_code;

// Answers from functions per URL; any other URL is unreachable.
class ScriptedFetcher final : public Fetcher {
 public:
  std::map<std::string, std::function<Bytes(ByteView body)>> routes;
  std::map<std::string, int> calls;
  Bytes get(const std::string& url, std::size_t max_size) override { return answer(url, {}, max_size); }
  Bytes post(const std::string& url, std::string_view content_type, ByteView body, std::size_t max_size) override {
    EXPECT_EQ(content_type, "application/ocsp-request");
    return answer(url, body, max_size);
  }

 private:
  Bytes answer(const std::string& url, ByteView body, std::size_t max_size) {
    ++calls[url];
    auto it = routes.find(url);
    if (it == routes.end()) throw Error(ErrorKind::kUnavailable, "http.connect_failed", url + ": unreachable");
    Bytes out = it->second(body);
    if (out.size() > max_size) throw Error(ErrorKind::kTooLarge, "http.too_large", url);
    return out;
  }
};

constexpr const char* kOcsp = "http://steward.test/ocsp";
constexpr const char* kCrl = "http://steward.test/crl";

struct World {
  Issued ca = make_ca();
  Issued good = make_leaf(ca, "good keep", std::string(kOcsp), std::string(kCrl));
  Issued bad = make_leaf(ca, "revoked keep", std::string(kOcsp), std::string(kCrl));
  Issued ocsp_only = make_leaf(ca, "ocsp keep", std::string(kOcsp));
  Issued crl_only = make_leaf(ca, "crl keep", std::nullopt, std::string(kCrl));
  Issued silent = make_leaf(ca, "silent keep");
  TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::shared_ptr<ScriptedFetcher> fetcher = std::make_shared<ScriptedFetcher>();

  SerialStatus lookup(ByteView s) const {
    const Bytes serial(s.begin(), s.end());
    if (serial == bad.cert.serial()) return {CertState::kRevoked, now - 1h, Reason::kKeyCompromise};
    return {CertState::kGood};
  }
  Bytes crl(TimePoint next_update, std::uint64_t number = 1) const {
    return build_crl(ca.key, ca.cert, std::vector<CrlEntry>{{bad.cert.serial(), now - 1h, Reason::kKeyCompromise}},
                     number, now - 1min, next_update);
  }
  void serve_ocsp() {
    fetcher->routes[kOcsp] = [this](ByteView req) {
      return ocsp_respond(req, ca.key, ca.cert, [this](ByteView s) { return lookup(s); }, now);
    };
  }
  void serve_crl(TimePoint next_update) {
    fetcher->routes[kCrl] = [this, next_update](ByteView) { return crl(next_update); };
  }
  StatusChecker checker(StatusOptions o = {}) { return StatusChecker(std::move(o), fetcher); }
};

TEST(StatusChecker, NoServiceNamedIsReportedNotChecked) {
  World w;
  auto checker = w.checker();
  const StatusReport r = checker.check(w.silent.cert, w.ca.cert, w.now);
  EXPECT_EQ(r.status, Status::kNotChecked);
  EXPECT_EQ(r.detail, kNoRevocationService);
  EXPECT_TRUE(w.fetcher->calls.empty());
}

TEST(StatusChecker, LocalCrlFirstWithoutFetching) {
  World w;
  w.serve_ocsp();
  auto checker = w.checker({.crls = {Crl::from_der(w.crl(w.now + 1h))}});
  const StatusReport r = checker.check(w.good.cert, w.ca.cert, w.now);
  EXPECT_EQ(r.status, Status::kGood);
  EXPECT_EQ(r.source, Source::kLocalCrl);
  EXPECT_EQ(r.crl_number, 1);
  EXPECT_EQ(error_code([&] { checker.check(w.bad.cert, w.ca.cert, w.now); }), "revocation.revoked");
  // A local CRL covers certificates that name no service, too.
  EXPECT_EQ(checker.check(w.silent.cert, w.ca.cert, w.now).status, Status::kGood);
  EXPECT_TRUE(w.fetcher->calls.empty());
  // A stale local CRL is an error, not a reason to go online.
  auto stale = w.checker({.crls = {Crl::from_der(w.crl(w.now - 1s))}});
  EXPECT_EQ(error_code([&] { stale.check(w.good.cert, w.ca.cert, w.now); }), "revocation.crl.expired");
  // A local CRL signed by another key (same issuer name) is refused.
  const Issued impostor = make_ca("Test Steward CA");
  auto forged = w.checker({.crls = {Crl::from_der(build_crl(impostor.key, impostor.cert, {}, 9, w.now, w.now + 1h))}});
  EXPECT_EQ(error_code([&] { forged.check(w.bad.cert, w.ca.cert, w.now); }), "revocation.crl.bad_signature");
  // CRLs of other issuers are skipped.
  const Issued other = make_ca("Other CA");
  auto unrelated = w.checker({.crls = {Crl::from_der(build_crl(other.key, other.cert, {}, 1, w.now, w.now + 1h))}});
  EXPECT_EQ(unrelated.check(w.good.cert, w.ca.cert, w.now).source, Source::kOcsp);
}

TEST(StatusChecker, OcspAnswersGoodAndRevoked) {
  World w;
  w.serve_ocsp();
  auto checker = w.checker();
  const StatusReport r = checker.check(w.good.cert, w.ca.cert, w.now);
  EXPECT_EQ(r.status, Status::kGood);
  EXPECT_EQ(r.source, Source::kOcsp);
  EXPECT_EQ(r.url, kOcsp);
  EXPECT_EQ(r.next_update, w.now + 1h);
  try {
    checker.check(w.bad.cert, w.ca.cert, w.now);
    FAIL() << "a revoked certificate passed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "revocation.revoked");
    EXPECT_EQ(e.kind(), ErrorKind::kUntrusted);
    EXPECT_NE(std::string(e.what()).find("keyCompromise"), std::string::npos) << e.what();
  }
  EXPECT_EQ(w.fetcher->calls[kCrl], 0);
}

TEST(StatusChecker, FallsBackToTheDistributionPoint) {
  World w;
  w.serve_crl(w.now + 1h);
  auto checker = w.checker();
  // The OCSP responder is unreachable.
  StatusReport r = checker.check(w.good.cert, w.ca.cert, w.now);
  EXPECT_EQ(r.source, Source::kCrlDistributionPoint);
  EXPECT_EQ(r.url, kCrl);
  EXPECT_NE(r.detail.find("http.connect_failed"), std::string::npos) << r.detail;
  // It answers with a forged response: still the CRL.
  const Issued stranger = make_ca("Stranger");
  w.fetcher->routes[kOcsp] = [&](ByteView req) {
    return ocsp_respond(req, stranger.key, stranger.cert, [](ByteView) { return SerialStatus{CertState::kGood}; }, w.now);
  };
  EXPECT_EQ(checker.check(w.good.cert, w.ca.cert, w.now).source, Source::kCrlDistributionPoint);
  EXPECT_EQ(error_code([&] { checker.check(w.bad.cert, w.ca.cert, w.now); }), "revocation.revoked");
  // "unknown" is no answer either.
  w.fetcher->routes[kOcsp] = [&](ByteView req) {
    return ocsp_respond(req, w.ca.key, w.ca.cert, [](ByteView) { return SerialStatus{}; }, w.now);
  };
  r = checker.check(w.good.cert, w.ca.cert, w.now);
  EXPECT_EQ(r.source, Source::kCrlDistributionPoint);
  EXPECT_NE(r.detail.find("does not know"), std::string::npos) << r.detail;
}

TEST(StatusChecker, FailsClosedWhenNoSourceAnswers) {
  World w;
  auto checker = w.checker();
  for (const Issued* c : {&w.good, &w.ocsp_only, &w.crl_only}) {
    try {
      checker.check(c->cert, w.ca.cert, w.now);
      FAIL() << c->cert.subject() << " passed without an answer";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), "revocation.unavailable");
      EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
    }
  }
  // A CRL at the distribution point signed by another key: no answer, not "good".
  const Issued impostor = make_ca("Test Steward CA");
  w.fetcher->routes[kCrl] = [&](ByteView) { return build_crl(impostor.key, impostor.cert, {}, 7, w.now, w.now + 1h); };
  EXPECT_EQ(error_code([&] { checker.check(w.bad.cert, w.ca.cert, w.now); }), "revocation.unavailable");
  // A stale one neither.
  w.serve_crl(w.now - 1min);
  EXPECT_EQ(error_code([&] { checker.check(w.crl_only.cert, w.ca.cert, w.now); }), "revocation.unavailable");
  // An oversized one neither.
  w.serve_crl(w.now + 1h);
  auto small = w.checker({.max_crl_size = 64});
  EXPECT_EQ(error_code([&] { small.check(w.crl_only.cert, w.ca.cert, w.now); }), "revocation.unavailable");
  EXPECT_EQ(small.check(w.silent.cert, w.ca.cert, w.now).status, Status::kNotChecked);
  // Not its issuer.
  const Issued other = make_ca("Other CA");
  EXPECT_EQ(error_code([&] { checker.check(w.good.cert, other.cert, w.now); }), "revocation.wrong_issuer");
}

TEST(StatusChecker, DistributionPointCrlIsCachedUntilNextUpdate) {
  World w;
  w.serve_crl(w.now + 1h);
  auto checker = w.checker();
  EXPECT_FALSE(checker.check(w.crl_only.cert, w.ca.cert, w.now).from_cache);
  EXPECT_TRUE(checker.check(w.crl_only.cert, w.ca.cert, w.now + 30min).from_cache);
  EXPECT_EQ(error_code([&] { checker.check(w.bad.cert, w.ca.cert, w.now + 30min); }), "revocation.revoked");
  // The OCSP responder is down; bad falls back to the cached CRL too.
  EXPECT_EQ(w.fetcher->calls[kCrl], 1);
  // Past nextUpdate: fetched again (the server now has a newer one).
  w.serve_crl(w.now + 3h);
  const StatusReport later = checker.check(w.crl_only.cert, w.ca.cert, w.now + 2h);
  EXPECT_FALSE(later.from_cache);
  EXPECT_EQ(w.fetcher->calls[kCrl], 2);
  EXPECT_EQ(checker.cached_crls(), 1u);
}

TEST(StatusChecker, CrlCacheIsBounded) {
  World w;
  std::vector<Issued> leaves;
  for (int i = 0; i < 5; ++i) {
    const std::string url = "http://steward.test/crl/" + std::to_string(i);
    leaves.push_back(make_leaf(w.ca, "keep " + std::to_string(i), std::nullopt, url));
    w.fetcher->routes[url] = [&w](ByteView) { return w.crl(w.now + 1h); };
  }
  auto checker = w.checker({.crl_cache_entries = 2});
  for (const auto& l : leaves) EXPECT_EQ(checker.check(l.cert, w.ca.cert, w.now).status, Status::kGood);
  EXPECT_EQ(checker.cached_crls(), 2u);
  // By bytes: room for one CRL only.
  const std::size_t one = w.crl(w.now + 1h).size() + 40;
  auto by_bytes = w.checker({.crl_cache_entries = 100, .crl_cache_bytes = one});
  for (const auto& l : leaves) by_bytes.check(l.cert, w.ca.cert, w.now);
  EXPECT_EQ(by_bytes.cached_crls(), 1u);
  EXPECT_LE(by_bytes.cached_crl_bytes(), one);
  // The least recently used went first: the last leaf's CRL is the one cached.
  const int before = w.fetcher->calls["http://steward.test/crl/4"];
  EXPECT_TRUE(by_bytes.check(leaves[4].cert, w.ca.cert, w.now).from_cache);
  EXPECT_EQ(w.fetcher->calls["http://steward.test/crl/4"], before);
}

// ---------------- over real HTTP(S) ----------------

// A steward-like revocation server: GET /crl, POST /ocsp (application/ocsp-request).
class RevocationServer {
 public:
  RevocationServer(const World& w, std::optional<net::TlsServerConfig> tls = std::nullopt) {
    net::ServerConfig sc;
    sc.address = "127.0.0.1";
    sc.port = 0;
    sc.access_log = false;
    if (tls) sc.tls = tls;
    else sc.allow_plaintext = true;
    server_ = std::make_unique<net::HttpServer>(sc);
    server_->get("/crl", [&w, this](net::Request&) {
      ++crl_requests;
      std::string body(as_string(w.crl(w.now + 1h)));
      if (huge) body.resize(10 << 20, '\0');
      return net::Response::bytes(200, body, "application/pkix-crl");
    });
    server_->post("/ocsp", [&w, this](net::Request& r) {
      ++ocsp_requests;
      EXPECT_EQ(r.header("Content-Type"), "application/ocsp-request");
      const Bytes resp = ocsp_respond(as_bytes(r.body), w.ca.key, w.ca.cert, [&w](ByteView s) { return w.lookup(s); }, w.now);
      return net::Response::bytes(200, std::string(as_string(resp)), "application/ocsp-response");
    });
    server_->start();
  }
  std::string url(const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  std::string scheme = "http";
  std::atomic<int> crl_requests{0}, ocsp_requests{0};
  std::atomic<bool> huge{false};

 private:
  std::unique_ptr<net::HttpServer> server_;
};

TEST(StatusCheckerHttp, OcspThenCrlOverHttp) {
  World w;
  RevocationServer server(w);
  const Issued keep = make_leaf(w.ca, "keep", server.url("/ocsp"), server.url("/crl"));
  // A certificate with the serial steward's index has revoked, naming this server.
  const PrivateKey revoked_key = PrivateKey::generate(KeyType::EcP256);
  const Certificate revoked = CertificateBuilder()
                                  .subject({{"CN", "revoked keep"}})
                                  .public_key(revoked_key.public_key())
                                  .serial(w.bad.cert.serial())
                                  .validity(w.now - 1h, w.now + 1h)
                                  .extended_key_usage({"clientAuth"})
                                  .add_extension(ocsp_aia(server.url("/ocsp")))
                                  .sign(w.ca.key, &w.ca.cert);
  StatusChecker checker({.fetch = {.timeout = std::chrono::seconds(5)}});
  const StatusReport r = checker.check(keep.cert, w.ca.cert, w.now);
  EXPECT_EQ(r.source, Source::kOcsp);
  EXPECT_EQ(server.ocsp_requests, 1);
  EXPECT_EQ(error_code([&] { checker.check(revoked, w.ca.cert, w.now); }), "revocation.revoked");
  const Issued crl_keep = make_leaf(w.ca, "crl keep", std::nullopt, server.url("/crl"));
  EXPECT_EQ(checker.check(crl_keep.cert, w.ca.cert, w.now).source, Source::kCrlDistributionPoint);
  EXPECT_EQ(server.crl_requests, 1);
  // Bounded: a 10 MiB "CRL" is not read past max_crl_size.
  server.huge = true;
  StatusChecker small({.max_crl_size = 1 << 20});
  EXPECT_EQ(error_code([&] { small.check(crl_keep.cert, w.ca.cert, w.now); }), "revocation.unavailable");
  // http refused when the caller wants https only.
  StatusChecker https_only({.fetch = {.allow_http = false}});
  EXPECT_EQ(error_code([&] { https_only.check(keep.cert, w.ca.cert, w.now); }), "revocation.unavailable");
}

TEST(StatusCheckerHttp, HttpsTrustFromCaFile) {
  World w;
  const Issued tls_ca = make_ca("TLS CA");
  SubjectAltNames sans;
  sans.ips = {"127.0.0.1"};
  const Issued tls_cert = support::issue("127.0.0.1", &tls_ca, {.eku = {"serverAuth"}, .sans = sans});
  net::TlsServerConfig tls;
  tls.cert_chain_pem = tls_cert.cert.to_pem();
  tls.key_pem = tls_cert.key.to_pem_pkcs8();
  RevocationServer server(w, tls);
  server.scheme = "https";
  const Issued keep = make_leaf(w.ca, "keep", server.url("/ocsp"));
  TempDir dir;
  const std::string ca_file = dir.write("tls-ca.pem", tls_ca.cert.to_pem());
  StatusChecker trusted({.fetch = {.ca_file = ca_file}});
  EXPECT_EQ(trusted.check(keep.cert, w.ca.cert, w.now).source, Source::kOcsp);
  // Without that CA (the system store does not know it): no answer, refused.
  const Issued stranger = make_ca("Stranger TLS CA");
  const std::string wrong_file = dir.write("wrong.pem", stranger.cert.to_pem());
  StatusChecker untrusted({.fetch = {.ca_file = wrong_file}});
  EXPECT_EQ(error_code([&] { untrusted.check(keep.cert, w.ca.cert, w.now); }), "revocation.unavailable");
}

}  // namespace
}  // namespace enarx::revocation
