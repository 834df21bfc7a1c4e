// TCB-driven revocation end to end, with the simulated Intel PKI: a keep certificate is good →
// Intel's collateral changes (a TCB recovery) → steward's CollateralWatch revokes it → every
// relying party refuses it. In one process: steward on loopback HTTP (POST / issues, GET /crl,
// POST /ocsp), its SQLite certificate index and the watcher on its Intel collateral cache;
// verify_peer (OCSP, and the CRL); a drawbridge registry on loopback HTTPS whose CrlMonitor reads
// steward's /crl and which keeps present their certificates to; and the real `enarx verify`
// binary. A KVM keep certificate from the same steward is the control: it attests no TCB, so
// it stays good throughout (and shows the refusals are about the one certificate).
//
// tests/steward/revocation_test.cc checks the same re-evaluation at library level (no HTTP,
// relying parties or drawbridge); the cache layout and the later collateral are built as there.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/enarx/oids.h"
#include "attest/enarx/tdx_evidence.h"
#include "support/dcap_cache.h"
#include "core/content_digest.h"
#include "core/crypto.h"
#include "core/csr.h"
#include "core/error.h"
#include "core/file.h"
#include "core/openssl.h"
#include "core/x509.h"
#include "drawbridge/auth.h"
#include "drawbridge/model.h"
#include "drawbridge/store.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "revocation/crl_monitor.h"
#include "revocation/ocsp.h"
#include "simulation/dcap.h"
#include "steward/index/cert_index.h"
#include "steward/reevaluate.h"
#include "steward/server.h"
#include "steward/status_service.h"
#include "steward/steward.h"
#include "support/https_registry.h"
#include "support/process.h"
#include "verify/verify.h"

namespace enarx {
namespace {

using namespace std::chrono_literals;
namespace dcap = attest::dcap;
using revocation::Reason;

const std::string kEnarx = std::string(ENARX_BINARY_DIR) + "/apps/enarx/enarx";
const std::string kSlug = "alice/secret";  // the private repository the keeps read

// Polls `done` until it holds or `limit` passes (no fixed waits: the watcher checks its cache
// every 100 ms, so this normally returns within a fraction of a second).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

SubjectAltNames slug_san() {
  SubjectAltNames sans;
  sans.uris = {"slug://" + kSlug};
  return sans;
}

struct Keep {
  PrivateKey key;
  std::vector<Certificate> chain;  // leaf first, as a TLS peer sends it
  const Certificate& leaf() const { return chain.front(); }
};

class TcbRevocationE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kEnarx)) << kEnarx << " not built";
    now_ = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    dcap::SimulationOptions o;
    o.not_before = now_ - 24h;
    o.not_after = now_ + 24h * 365;
    sim_ = std::make_unique<dcap::SimulatedPlatform>(o);
    write_file_atomic(dir_.path() / "root.pem", sim_->root().to_pem());
    cache_ = dir_.path() / "intel";
    support::write_intel_cache(cache_, *sim_);

    // Steward: simulated roots trusted, insecure issuance allowed (simulated TDX and KVM are
    // insecure), the simulated TD's MRTD known so it may carry a slug; KVM names by
    // any_measurement.
    const auto policy = steward::Policy::parse(
        "[issuance]\nallow_insecure = true\nintel_collateral_dir = \"" + cache_.string() +
        "\"\n[identity]\nany_measurement = true\n[tdx]\nmrtd = [\"" + to_hex(dcap::TdFields{}.mrtd) +
        "\"]\n[simulated]\nroots = [\"" + (dir_.path() / "root.pem").string() + "\"]\n");
    auto ca_key = PrivateKey::generate(KeyType::EcP384);
    auto ca_cert = CertificateBuilder()
                       .subject({{"CN", "E2E Steward CA"}})
                       .public_key(ca_key.public_key())
                       .validity(now_ - 1h, now_ + 24h * 365)
                       .ca(true, 0)
                       .key_usage({"keyCertSign", "cRLSign"})
                       .sign(ca_key);
    steward_ = std::make_unique<steward::Steward>(steward::CertificateAuthority(std::move(ca_key), {ca_cert}), policy);
    steward::register_default_verifiers(*steward_);
    index_ = steward::open_sqlite_cert_index((dir_.path() / "index.sqlite3").string());
    steward_->set_cert_index(index_);
    status_ = std::make_unique<steward::StatusService>(index_, steward_->ca(), system_clock());

    net::ServerConfig sc;
    sc.address = "127.0.0.1";
    sc.port = 0;
    sc.allow_plaintext = true;  // CRLs and OCSP answers are signed objects
    sc.access_log = false;
    steward_http_ = std::make_unique<net::HttpServer>(sc);
    steward::install_routes(*steward_http_, *steward_, 1 << 20, status_.get());
    steward_http_->start();
    steward_url_ = "http://127.0.0.1:" + std::to_string(steward_http_->port());
    steward_->set_public_url(steward_url_);
    steward_->set_revocation_urls(steward_url_ + "/crl", steward_url_ + "/ocsp");

    // As the steward service runs it: re-evaluates at start-up, then whenever the collateral
    // cache's content changes.
    watch_ = std::make_unique<steward::CollateralWatch>(index_, steward_->policy(), *status_, nullptr, 100ms);
    watch_->start();
    ASSERT_TRUE(eventually([&] { return watch_->passes() >= 1; })) << "the start-up pass never ran";

    // Drawbridge: keep certificates of this steward's CA, checked against its /crl; insecure
    // keeps accepted (the simulated TDX keep is insecure by its simulated root of trust).
    store_ = std::shared_ptr<drawbridge::Store>(drawbridge::open_sqlite_store((dir_.path() / "drawbridge").string()));
    auto ro = support::HttpsRegistry::unlimited();
    ro.client_ca = {steward_->ca().certificate()};
    ro.accept_insecure_keeps = true;
    monitor_ = std::make_shared<revocation::CrlMonitor>(
        revocation::CrlMonitorOptions{.url = steward_url_ + "/crl", .issuers = ro.client_ca});
    ro.keep_crls = {monitor_};
    registry_ = std::make_unique<support::HttpsRegistry>(store_, issuer_, ro);
    const auto alice = issuer_.mint("alice", drawbridge::all_manage_scopes(), 1h, std::chrono::system_clock::now());
    ASSERT_EQ(registry_send(net::Method::Put, "/alice", drawbridge::user_to_json({"alice"}), alice), 201);
    ASSERT_EQ(registry_send(net::Method::Put, "/" + kSlug, drawbridge::repo_to_json({false}), alice), 201);
  }

  void TearDown() override {
    if (registry_) registry_->stop();
    if (watch_) watch_->stop();
    if (steward_http_) steward_http_->stop();
  }

  // ---- keeps ----

  Keep issue(const Bytes& csr, PrivateKey key) {
    net::ClientOptions o;
    o.max_retries = 0;
    const auto r = net::HttpClient(o).post(steward_url_ + "/", std::string(as_string(csr)),
                                           {{"Content-Type", std::string(steward::kPkcs10)}});
    EXPECT_EQ(r.status, 200) << r.body;
    auto root_first = Certificate::chain_from_der_sequence(as_bytes(r.body));
    EXPECT_EQ(root_first.size(), 2u);
    return Keep{std::move(key), std::vector<Certificate>(root_first.rbegin(), root_first.rend())};
  }

  Keep tdx_keep() {
    auto key = PrivateKey::generate(KeyType::EcP384);
    dcap::TdFields td;
    td.report_data = sha384(key.public_key().spki_der());
    td.report_data.resize(64, 0);
    attest::TdxEvidence ev;
    ev.quote = sim_->tdx_quote(td);
    ev.crls = {{std::string(dcap::kSimulatedRootCrlUrl), sim_->root_crl()},
               {std::string(dcap::kSimulatedPckCrlUrl), sim_->pck_ca_crl()}};
    ev.tcb = attest::TcbPackage{{sim_->tcb_signer(), sim_->root()}, to_bytes(sim_->tcb_info_document(true))};
    ev.qe_identity = to_bytes(sim_->qe_identity_document(true));
    CsrBuilder b;
    b.subject_alt_names(slug_san());
    b.add_extension(Extension{std::string(oids::kTdxEvidence), false, attest::encode_tdx_evidence(ev)});
    const Bytes csr = b.build_der(key);
    return issue(csr, std::move(key));
  }

  Keep kvm_keep() {
    auto key = PrivateKey::generate(KeyType::EcP256);
    CsrBuilder b;
    b.subject_alt_names(slug_san());
    b.add_extension(Extension{std::string(oids::kKvmEvidence), false, {}});
    const Bytes csr = b.build_der(key);
    return issue(csr, std::move(key));
  }

  const Certificate& ca() const { return steward_->ca().certificate(); }

  // ---- relying parties ----

  verify::PeerIdentity verify_online(const Keep& k, verify::RevocationOptions ro = {}) const {
    verify::Expectations want;
    want.slug = kSlug;
    want.allow_simulated = true;
    want.allow_insecure = true;
    const std::vector<Certificate> cas{ca()};
    return verify::verify_peer(k.chain, cas, std::chrono::system_clock::now(), want, ro);
  }
  // The code verify_peer throws for `k`, "" when it verifies.
  std::string verify_error(const Keep& k, verify::RevocationOptions ro = {}) const {
    try {
      verify_online(k, std::move(ro));
      return "";
    } catch (const Error& e) {
      if (e.code() == "revocation.revoked") {
        EXPECT_EQ(e.kind(), ErrorKind::kUntrusted) << e.describe();
      }
      return e.code();
    }
  }

  support::ShellRun enarx_verify(const Keep& k, const std::string& name, const std::string& extra = "") {
    const auto chain = dir_.path() / (name + "-chain.pem");
    write_file_atomic(chain, k.leaf().to_pem() + ca().to_pem());
    const auto ca_file = dir_.path() / "steward-ca.pem";
    write_file_atomic(ca_file, ca().to_pem());
    return support::run_shell(kEnarx + " verify " + chain.string() + " --ca " + ca_file.string() +
                              " --expect-slug " + kSlug + " --allow-simulated --allow-insecure --timeout 5 " +
                              extra + " 2>&1");
  }

  Bytes steward_crl() const {
    net::ClientOptions o;
    o.max_retries = 0;
    const auto r = net::HttpClient(o).get(steward_url_ + "/crl");
    EXPECT_EQ(r.status, 200) << r.body;
    return to_bytes(r.body);
  }

  revocation::OcspVerdict steward_ocsp(const Keep& k) const {
    const auto request = revocation::build_ocsp_request(k.leaf(), ca());
    net::ClientOptions o;
    o.max_retries = 0;
    const auto r = net::HttpClient(o).post(steward_url_ + "/ocsp", std::string(as_string(request.der)),
                                           {{"Content-Type", "application/ocsp-request"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return revocation::check_ocsp_response(as_bytes(r.body), request, k.leaf(), ca(),
                                           std::chrono::system_clock::now());
  }

  // ---- drawbridge ----

  int registry_send(net::Method method, const std::string& path, const std::string& body, const std::string& token,
                    const Keep* keep = nullptr) {
    auto o = registry_->client_options();
    if (keep) {
      o.tls.client_cert_pem = keep->leaf().to_pem();
      o.tls.client_key_pem = keep->key.to_pem_pkcs8();
    }
    net::ClientRequest req;
    req.method = method;
    req.url = registry_->api_url() + path;
    req.body = body;
    if (!token.empty()) req.headers.set("Authorization", "Bearer " + token);
    if (!body.empty()) {
      req.headers.set("Content-Type", "application/json");
      req.headers.set("Content-Digest", ContentDigest::compute(as_bytes(body)).to_header());
    }
    const auto r = net::HttpClient(o).send(req);
    return r.status;
  }
  // What a keep asks drawbridge for first: the private repository's tags.
  int keep_reads(const Keep& k) { return registry_send(net::Method::Get, "/" + kSlug + "/_tag", "", "", &k); }
  std::string registry_metrics() const {
    return net::HttpClient(registry_->client_options()).get("https://" + registry_->host() + "/metrics").body;
  }

  TimePoint now_;
  TempDir dir_{"e2e-tcb-revocation"};
  std::unique_ptr<dcap::SimulatedPlatform> sim_;
  std::filesystem::path cache_;
  std::shared_ptr<steward::CertIndex> index_;
  std::unique_ptr<steward::Steward> steward_;
  std::unique_ptr<steward::StatusService> status_;
  std::unique_ptr<net::HttpServer> steward_http_;
  std::string steward_url_;
  std::unique_ptr<steward::CollateralWatch> watch_;
  drawbridge::LocalIssuer issuer_ =
      drawbridge::LocalIssuer::load_or_create(dir_.path() / "issuer", "test-issuer", "drawbridge");
  std::shared_ptr<drawbridge::Store> store_;
  std::shared_ptr<revocation::CrlMonitor> monitor_;
  std::unique_ptr<support::HttpsRegistry> registry_;
};

TEST_F(TcbRevocationE2E, ACollateralChangeRevokesTheKeepForVerifyTheCliAndDrawbridge) {
  const Keep tdx = tdx_keep();
  const Keep kvm = kvm_keep();
  ASSERT_EQ(tdx.chain.size(), 2u);
  ASSERT_EQ(kvm.chain.size(), 2u);
  EXPECT_EQ(tdx.leaf().ocsp_responder(), steward_url_ + "/ocsp");
  EXPECT_EQ(tdx.leaf().crl_distribution_point(), steward_url_ + "/crl");
  const std::string tdx_serial = steward::serial_key(tdx.leaf().serial());
  const std::string kvm_serial = steward::serial_key(kvm.leaf().serial());

  // ---- good ----
  for (const Keep* k : {&tdx, &kvm}) {
    const auto peer = verify_online(*k);
    EXPECT_EQ(peer.revocation.status, revocation::Status::kGood) << peer.revocation.detail;
    EXPECT_EQ(peer.revocation.source, revocation::Source::kOcsp);
    EXPECT_EQ(peer.revocation.url, steward_url_ + "/ocsp");
    EXPECT_EQ(steward_ocsp(*k).state, revocation::CertState::kGood);
  }
  EXPECT_EQ(verify_online(tdx).platform, "tdx");
  EXPECT_EQ(verify_online(tdx).tcb_status, "UpToDate");
  {
    const auto r = enarx_verify(tdx, "tdx", "--json");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
    EXPECT_EQ(j["revocation"]["status"], "good") << r.out;
    EXPECT_EQ(j["revocation"]["source"], "ocsp") << r.out;
  }
  EXPECT_EQ(enarx_verify(kvm, "kvm").exit_code, 0);
  ASSERT_TRUE(monitor_->refresh()) << monitor_->info().last_error;
  const auto first_crl_number = monitor_->info().number;
  EXPECT_EQ(keep_reads(tdx), 200);
  EXPECT_EQ(keep_reads(kvm), 200);
  // The index holds both, unrevoked.
  EXPECT_FALSE(index_->revocation(tdx_serial));
  EXPECT_FALSE(index_->revocation(kvm_serial));

  // ---- Intel publishes a TCB recovery: the simulated platform's TCB level is now OutOfDate ----
  support::write_intel_cache(cache_, support::later_collateral(*sim_, "OutOfDate", 2, now_ - 1h, now_ + 24h * 30));

  // Nobody calls reevaluate(): the watcher notices the cache changed and revokes.
  ASSERT_TRUE(eventually([&] { return index_->revocation(tdx_serial).has_value(); }))
      << "steward did not revoke the TDX keep after its collateral changed (" << watch_->passes() << " passes)";
  const auto rec = index_->revocation(tdx_serial);
  EXPECT_EQ(rec->reason, Reason::kSuperseded);
  EXPECT_EQ(rec->revoked_by, "reevaluation");
  EXPECT_NE(rec->detail.find("OutOfDate"), std::string::npos) << rec->detail;
  // The trail (appended just after the revocation) says it was the watcher's collateral pass.
  EXPECT_TRUE(eventually([&] {
    for (const auto& e : index_->audit_entries(0, 100))
      if (e.record.value("serial", "") == tdx_serial && e.record.value("decision", "") == "revoked" &&
          e.record.value("trigger", "") == "collateral")
        return true;
    return false;
  })) << "no audit entry for the revocation with trigger collateral";

  // ---- steward's CRL and OCSP say so ----
  Bytes crl_der;
  ASSERT_TRUE(eventually([&] {
    crl_der = steward_crl();
    return Crl::from_der(crl_der).is_revoked(tdx.leaf());
  })) << "GET /crl never listed the revoked keep";
  const auto crl = Crl::from_der(crl_der);
  EXPECT_TRUE(crl.signed_by(ca().public_key()));
  EXPECT_FALSE(crl.is_revoked(kvm.leaf()));
  const auto ocsp = steward_ocsp(tdx);
  EXPECT_EQ(ocsp.state, revocation::CertState::kRevoked);
  EXPECT_EQ(ocsp.reason, Reason::kSuperseded);
  EXPECT_EQ(steward_ocsp(kvm).state, revocation::CertState::kGood);

  // ---- relying parties refuse it: verify_peer online (OCSP) and with the CRL ----
  EXPECT_EQ(verify_error(tdx), "revocation.revoked");
  verify::RevocationOptions with_crl;
  with_crl.status.crls = {crl};
  EXPECT_EQ(verify_error(tdx, with_crl), "revocation.revoked");
  EXPECT_EQ(verify_error(kvm), "");
  EXPECT_EQ(verify_error(kvm, with_crl), "");

  // ---- `enarx verify` exits 4 (revocation.revoked), online and with --crl ----
  {
    const auto r = enarx_verify(tdx, "tdx");
    EXPECT_EQ(r.exit_code, 4) << r.out;
    EXPECT_NE(r.out.find("revocation.revoked"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("superseded"), std::string::npos) << r.out;
    const auto crl_file = dir_.path() / "steward.crl";
    write_file_atomic(crl_file, crl_der);
    const auto c = enarx_verify(tdx, "tdx", "--crl " + crl_file.string());
    EXPECT_EQ(c.exit_code, 4) << c.out;
    EXPECT_NE(c.out.find("revocation.revoked"), std::string::npos) << c.out;
  }
  EXPECT_EQ(enarx_verify(kvm, "kvm").exit_code, 0);

  // ---- drawbridge, once its monitor has the new CRL, refuses the keep ----
  ASSERT_TRUE(monitor_->refresh()) << monitor_->info().last_error;
  ASSERT_TRUE(first_crl_number && monitor_->info().number);
  EXPECT_GT(*monitor_->info().number, *first_crl_number);
  EXPECT_EQ(keep_reads(tdx), 404);
  EXPECT_EQ(keep_reads(kvm), 200);
  const auto metrics = registry_metrics();
  EXPECT_NE(metrics.find("drawbridge_keep_certificates_refused_total{state=\"revoked\"} 1"), std::string::npos)
      << metrics;

  // The control stayed good throughout.
  EXPECT_FALSE(index_->revocation(kvm_serial));
}

}  // namespace
}  // namespace enarx
